"""Where maildoctor connects: the one place CONTRACT.md's options and environment variables meet."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from maildoctor.errors import MaildoctorError

DEFAULT_NETWORK_TIMEOUT = 10.0


class SettingsError(MaildoctorError):
    """A connection setting is malformed (exit code 2)."""


def parse_host_port(value: str, default_port: int, what: str) -> tuple[str, int]:
    """Parse ``HOST[:PORT]`` (``[v6]:PORT`` too) with a clear error naming ``what``."""
    text = value.strip()
    if not text:
        raise SettingsError(f"{what}: empty value")
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise SettingsError(f"{what}: {port_text!r} is not a port number (in {value!r})")
    return host, int(port_text)


def parse_timeout(value: str | float) -> float:
    """Seconds one network answer may take: a number above 0 and at most 300."""
    try:
        seconds = float(value)
    except ValueError:
        raise SettingsError(f"timeout: {value!r} is not a number of seconds") from None
    if not 0 < seconds <= 300:
        raise SettingsError(f"timeout: {value!r} is not between 0 and 300 seconds")
    return seconds


RegionSource = Literal["option", "environment", "profile"]


def _profile_region(profile: str | None, env: Mapping[str, str]) -> tuple[str | None, str]:
    """The ``region`` of the AWS profile in effect, as boto3 reads it from the AWS config file
    (AWS_CONFIG_FILE, else ~/.aws/config), and a label naming the profile and file; (None, "") if none."""
    name = profile or "default"
    path = Path(env.get("AWS_CONFIG_FILE") or "~/.aws/config").expanduser()
    if not path.is_file():
        return None, ""
    from botocore.configloader import load_config  # botocore only when there is a file for it to read

    try:
        profiles = load_config(str(path)).get("profiles", {})
    except Exception:  # a malformed config file: boto3 itself will say so when it reads it
        return None, ""
    region = str(profiles.get(name, {}).get("region") or "").strip()
    return (region, f"profile {name} in {path}") if region else (None, "")


@dataclass(frozen=True)
class Settings:
    profile: str | None = None
    region: str | None = None
    # where ``region`` came from: --region, AWS_REGION / AWS_DEFAULT_REGION, or the AWS profile's own
    # ``region`` (boto3's chain); None when no region is set at all
    region_source: RegionSource | None = None
    region_detail: str = ""  # e.g. "AWS_REGION", "profile work in /home/me/.aws/config"
    aws_endpoint_url: str | None = None
    dns_server: tuple[str, int] | None = None
    smtp_endpoint: tuple[str, int] | None = None
    smtp_ca_file: Path | None = None
    smtp_tls: Literal["starttls", "implicit"] | None = None  # None: by the port (CONTRACT.md)
    state_dir: Path | None = None
    timeout: float = DEFAULT_NETWORK_TIMEOUT
    env: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def resolve(
        cls,
        *,
        profile: str | None = None,
        region: str | None = None,
        aws_endpoint_url: str | None = None,
        dns_server: str | None = None,
        smtp_endpoint: str | None = None,
        smtp_ca_file: str | None = None,
        smtp_tls: str | None = None,
        state_dir: str | None = None,
        timeout: str | float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Options win over environment variables; both are optional."""
        env = dict(os.environ if env is None else env)
        dns = dns_server or env.get("MAILDOCTOR_DNS_SERVER")
        smtp = smtp_endpoint or env.get("MAILDOCTOR_SMTP_ENDPOINT")
        ca = smtp_ca_file or env.get("MAILDOCTOR_SMTP_CA_FILE")
        state = state_dir or env.get("MAILDOCTOR_STATE_DIR")
        tls_text = (smtp_tls or env.get("MAILDOCTOR_SMTP_TLS") or "").strip().lower()
        tls: Literal["starttls", "implicit"] | None = None
        if tls_text == "starttls":
            tls = "starttls"
        elif tls_text == "implicit":
            tls = "implicit"
        elif tls_text:
            raise SettingsError(f"SMTP TLS mode: {tls_text!r} is not starttls or implicit")
        if ca and not Path(ca).is_file():
            raise SettingsError(f"SMTP CA file: {ca} does not exist")
        profile = profile or env.get("AWS_PROFILE") or None
        source: RegionSource | None = None
        detail = ""
        if region:
            source, detail = "option", "--region"
        else:
            for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
                if (env.get(variable) or "").strip():
                    region, source, detail = env[variable].strip(), "environment", variable
                    break
            else:
                region, detail = _profile_region(profile, env)
                source = "profile" if region else None
        return cls(
            profile=profile,
            region=region or None,
            region_source=source,
            region_detail=detail,
            aws_endpoint_url=aws_endpoint_url or env.get("AWS_ENDPOINT_URL") or None,
            dns_server=parse_host_port(dns, 53, "DNS server") if dns else None,
            smtp_endpoint=parse_host_port(smtp, 587, "SMTP endpoint") if smtp else None,
            smtp_ca_file=Path(ca) if ca else None,
            smtp_tls=tls,
            state_dir=Path(state).expanduser() if state else None,
            timeout=parse_timeout(timeout or env.get("MAILDOCTOR_TIMEOUT") or DEFAULT_NETWORK_TIMEOUT),
            env=env,
        )

    def with_region(self, region: str) -> Settings:
        return replace(self, region=region)

    def resolved_state_dir(self) -> Path:
        if self.state_dir is not None:
            return self.state_dir
        import platformdirs

        return Path(platformdirs.user_state_dir("maildoctor", appauthor=False))
