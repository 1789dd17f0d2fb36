"""AWS credentials, resolved once in the foreground before any walk.

botocore resolves credentials lazily, on the first call: for a profile that assumes a role with MFA it
would then prompt for the code inside a worker thread (the TUI hangs), and an expired SSO session would
fail every step on its own. :func:`resolve` runs the whole chain up front — profile, environment, SSO,
assume-role (asking for an MFA code on the terminal now) — and keeps the session for the walk's
clients. When it fails, :func:`problem` says why in one line with the fix, and every AWS call fails at
once with that one cause instead of each timing out or erring its own way.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when credentials are resolved: loading flows and checks never needs boto3
    import boto3


@dataclass(frozen=True)
class Resolved:
    session: boto3.Session | None
    problem: str | None = None  # why there are no usable credentials, with the fix
    method: str | None = None  # botocore's name for where they came from (env, sso, assume-role …)


_RESOLVED: dict[tuple[str | None, tuple[tuple[str, str], ...]], Resolved] = {}
_LOCK = threading.Lock()


def _key(profile: str | None) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """What the chain depends on: the profile and the AWS_* environment."""
    return profile, tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))


def resolve(profile: str | None) -> Resolved:
    """Resolve the credentials of ``profile`` (None: boto3's default chain) now, once per process and
    environment. Call it in the foreground: an MFA prompt reads the terminal."""
    key = _key(profile)
    with _LOCK:
        if key not in _RESOLVED:
            _RESOLVED[key] = _resolve(profile)
        return _RESOLVED[key]


def may_prompt(profile: str | None) -> bool:
    """Whether resolving ``profile`` can ask the terminal something: an assume-role with ``mfa_serial``,
    or a ``credential_process`` (which may prompt), on the profile or a ``source_profile`` it names.
    Read from the config file with the standard library (no boto3); True when the file cannot be read,
    so that a prompt is never missed."""
    import configparser

    path = os.environ.get("AWS_CONFIG_FILE") or os.path.expanduser("~/.aws/config")
    config = configparser.RawConfigParser()
    try:
        config.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return True
    name = profile or os.environ.get("AWS_PROFILE") or "default"
    for _ in range(10):  # a source_profile chain, bounded against a loop
        section = name if name == "default" else f"profile {name}"
        if not config.has_section(section):
            return False
        if config.has_option(section, "mfa_serial") or config.has_option(section, "credential_process"):
            return True
        if not config.has_option(section, "source_profile"):
            return False
        name = config.get(section, "source_profile")
    return True


def forget() -> None:
    """Drop what was resolved (tests, and a new walk after `aws sso login`)."""
    with _LOCK:
        _RESOLVED.clear()


def _resolve(profile: str | None) -> Resolved:
    import boto3
    import botocore.exceptions

    name = profile or "default"
    try:
        session = boto3.Session(profile_name=profile)
        credentials = session.get_credentials()
        if credentials is None:
            return Resolved(None, _none_found(profile))
        credentials.get_frozen_credentials()  # refreshes now: SSO and assume-role happen here
    except botocore.exceptions.ProfileNotFound:
        return Resolved(None, f"AWS profile '{name}' is not in ~/.aws/config: check --profile or AWS_PROFILE")
    except (botocore.exceptions.SSOTokenLoadError, botocore.exceptions.UnauthorizedSSOTokenError):
        return Resolved(
            None, f"the AWS SSO session of profile '{name}' has expired: run `aws sso login --profile {name}`"
        )
    except botocore.exceptions.NoCredentialsError:
        return Resolved(None, _none_found(profile))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        return Resolved(None, f"the AWS credentials of profile '{name}' could not be loaded: {exc}")
    except EOFError:  # an MFA prompt with nobody at the terminal
        return Resolved(None, f"profile '{name}' needs an MFA code, and no terminal is there to type it")
    return Resolved(session, None, getattr(credentials, "method", None))


def _none_found(profile: str | None) -> str:
    if profile:
        return (
            f"no AWS credentials in profile '{profile}': add them, or run `aws sso login --profile {profile}`"
        )
    return (
        "no AWS credentials found: set AWS_PROFILE (or --profile) to a profile that has them, run "
        "`aws sso login --profile NAME`, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )
