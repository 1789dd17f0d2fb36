"""Flow inputs from `--set`, the environment and defaults, with CONTRACT.md's rules for secrets."""

from __future__ import annotations

import difflib
import functools
import getpass
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import BinaryIO, TextIO

from maildoctor.clients.settings import Settings
from maildoctor.errors import MaildoctorError
from maildoctor.flow.model import Flow, InputSpec
from maildoctor.ses_events import parse_ses_event

ENV_PREFIX = "MAILDOCTOR_INPUT_"

REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
EMAIL_RE = re.compile(
    r"^[^@\s<>]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
DOMAIN_RE = re.compile(
    r"^(?=.{1,253}$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\.?$"
)
KEY_ID_RE = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{12,124}$")


MAX_INPUT_BYTES = 1024 * 1024  # an input read with @PATH or @- (a bounce is a few KiB; 1 MiB is generous)
MAX_INPUT_TEXT = "1 MiB"


class InputError(MaildoctorError):
    """A bad input (exit code 2)."""


class NotText(ValueError):
    """Bytes that are not text in any encoding maildoctor reads; the message says what they look like."""


# ---------------------------------------------------------------------------------------------- regions


@functools.cache
def ses_regions() -> tuple[str, ...]:
    """The regions where botocore's (local) endpoint data has SES, in every partition it knows."""
    try:
        import botocore.session

        session = botocore.session.Session()
        found: set[str] = set()
        for partition in session.get_available_partitions():
            for service in ("sesv2", "ses"):
                found.update(session.get_available_regions(service, partition_name=partition))
    except Exception:  # without botocore's data, the shape of the name is all there is to check
        return ()
    return tuple(sorted(found))


@functools.cache
def aws_regions() -> tuple[str, ...]:
    """Every region botocore's (local) endpoint data knows, for any service, in every partition."""
    try:
        import botocore.session

        session = botocore.session.Session()
        found: set[str] = set()
        for partition in session.get_available_partitions():
            for service in ("ec2", "sts", "s3"):
                found.update(session.get_available_regions(service, partition_name=partition))
    except Exception:  # pragma: no cover - without botocore's data there is nothing to tell apart
        return ()
    return tuple(sorted(found))


def nearest_ses_regions(value: str, n: int = 3) -> list[str]:
    """The SES regions nearest to ``value`` by name: the same area and direction first (us-east-*),
    then the same area (ap-*), then by spelling."""
    known = ses_regions()
    stem = value.rsplit("-", 1)[0]
    area = value.split("-", 1)[0]
    for group in (
        [r for r in known if r.rsplit("-", 1)[0] == stem],
        [r for r in known if r.startswith(area + "-")],
    ):
        if group:
            return group[:n]
    return difflib.get_close_matches(value, known, n=n, cutoff=0.5)


def region_problem(value: str) -> str | None:
    """Why ``value`` is not an SES region, or None: the one place region names are validated. Said in
    one line that names the nearest SES regions, never the whole list."""
    known = ses_regions()
    if value in known:
        return None
    if not REGION_RE.match(value):
        return f"{value!r} is not an AWS region name (like us-east-1)"
    if not known:  # pragma: no cover - without botocore's data, the shape is all there is to check
        return None
    what = "an AWS region without SES" if value in aws_regions() else "not a region botocore knows"
    nearest = nearest_ses_regions(value)
    hint = f"; did you mean {' or '.join(nearest)}?" if nearest else ""
    return f"{value!r} is not an SES region ({what}){hint}"


def problem(spec: InputSpec, value: str) -> str | None:
    """Why ``value`` is not acceptable for ``spec``, or None. The TUI validates as you type with this."""
    if not value:
        return "required" if spec.required else None
    if spec.kind == "email" and not EMAIL_RE.match(value):
        return f"{value!r} is not an email address"
    if spec.kind == "domain" and not DOMAIN_RE.match(value):
        return f"{value!r} is not a domain name"
    if spec.kind == "region":
        return region_problem(value)
    if spec.kind == "access-key-id" and not KEY_ID_RE.match(value):
        return f"{value!r} is not an access key id (AKIA… or ASIA…, upper-case letters and digits)"
    if spec.kind == "choice" and spec.choices and value not in spec.choices:
        return f"{value!r} is not one of {', '.join(spec.choices)}"
    return None


def parse_sets(
    pairs: Iterable[str],
    flow: Flow | Mapping[str, InputSpec],
    stdin_text: str | None = None,
    *,
    stdin: TextIO | None = None,
    prompt_to: TextIO | None = None,
) -> dict[str, str]:
    """``K=V`` pairs; ``K=@PATH`` reads a file, ``K=@-`` stdin. Secrets only from files or stdin.

    ``flow`` is the flow whose inputs these are, or (for the TUI before a flow is chosen) the inputs
    of every shipped flow. ``stdin_text`` stands in for stdin; ``stdin``/``prompt_to`` replace
    ``sys.stdin``/``sys.stderr`` (tests)."""
    specs = flow.inputs if isinstance(flow, Flow) else flow
    owner = f"flow '{flow.name}'" if isinstance(flow, Flow) else "no shipped flow"
    values: dict[str, str] = {}
    from_stdin: str | None = None
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InputError(f"--set {pair!r}: expected KEY=VALUE")
        spec = specs.get(key)
        if spec is None:
            known = ", ".join(specs) or "none"
            shown = _shown(key)
            raise InputError(f"--set {shown}: {owner} has no input '{shown}' (inputs: {known})")
        if raw == "@-":
            if from_stdin is not None:
                raise InputError(
                    f"--set {key}=@-: stdin is already read for '{from_stdin}'; only one input can come "
                    f"from stdin, give {key} with --set {key}=@FILE"
                )
            from_stdin = key
            if stdin_text is not None:
                text = stdin_text
            else:
                text = read_stdin(key, spec.secret, stdin or sys.stdin, prompt_to or sys.stderr)
            values[key] = _one_line_trimmed(text)
        elif raw.startswith("@"):
            values[key] = _one_line_trimmed(read_input_file(key, raw[1:]))
        elif spec.secret:
            raise InputError(
                f"--set {key}: '{key}' is a secret and is refused on the command line (argv is visible to "
                f"other users and kept in shell history); use --set {key}=@FILE, --set {key}=@- or "
                f"{ENV_PREFIX}{key.upper()}"
            )
        else:
            values[key] = raw
    return values


def from_env(names: Iterable[str], env: Mapping[str, str]) -> dict[str, str]:
    """``MAILDOCTOR_INPUT_<NAME>`` values for the given input names."""
    return {name: env[ENV_PREFIX + name.upper()] for name in names if env.get(ENV_PREFIX + name.upper())}


def _shown(text: str) -> str:
    """``text`` for a one-line message: as it is when printable, else with its escapes."""
    return text if text.isprintable() else repr(text)[1:-1]


def _one_line_trimmed(text: str) -> str:
    # a trailing newline from `echo` or an editor is not part of a one-line value
    return text.rstrip("\r\n") if text.count("\n") <= 1 else text


# ------------------------------------------------------------------------------ reading files and stdin


def read_input_file(key: str, where: str) -> str:
    """The text of the file behind ``--set KEY=@WHERE``, in whatever encoding decode_text reads; a
    missing, unreadable, binary or oversized file is one InputError naming the input and the path."""
    what, where_shown = f"input '{key}'", _shown(where)
    if not where:
        raise InputError(f"{what}: --set {key}=@ needs a file name after the @ (or @- for stdin)")
    try:
        path = Path(where).expanduser()
    except RuntimeError:  # "~nosuchuser/..."
        path = Path(where)
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{what}: {where_shown} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{what}: {where_shown} is a folder, not a file") from None
    except OSError as exc:
        raise InputError(f"{what}: cannot read {where_shown} ({exc.strerror or exc})") from None
    except ValueError as exc:  # a NUL in the path
        raise InputError(f"{what}: {where!r} is not a usable file name ({exc})") from None
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(
            f"{what}: {where_shown} is larger than {MAX_INPUT_TEXT}, the limit for an input "
            f"(give only the bounce or the value, not a whole mailbox or archive)"
        )
    try:
        return decode_text(data)
    except NotText as exc:
        raise InputError(f"{what}: {where_shown} is not text ({exc})") from None


def read_stdin(key: str, secret: bool, stdin: TextIO, prompt_to: TextIO) -> str:
    """``--set KEY=@-``: on a terminal, say what to paste (a secret is read without echo, one line);
    from a pipe, read it all, decoded like a file. Limited to MAX_INPUT_BYTES like a file."""
    what = f"input '{key}'"
    try:
        if _is_terminal(stdin):
            if secret:
                return getpass.getpass(
                    f"{key} (typed or pasted without echo, then Enter): ", stream=prompt_to
                )
            prompt_to.write(f"Paste the {key}, then Ctrl-D:\n")
            prompt_to.flush()
            text = stdin.read(MAX_INPUT_BYTES + 1)
            if len(text) > MAX_INPUT_BYTES:
                raise InputError(f"{what}: stdin gave more than {MAX_INPUT_TEXT}, the limit for an input")
            return text
        buffer: BinaryIO | None = getattr(stdin, "buffer", None)
        raw = buffer.read(MAX_INPUT_BYTES + 1) if buffer is not None else stdin.read(MAX_INPUT_BYTES + 1)
    except EOFError:
        return ""
    except UnicodeDecodeError as exc:
        raise InputError(f"{what}: stdin is not text ({exc.reason})") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{what}: cannot read stdin ({exc})") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise InputError(f"{what}: stdin gave more than {MAX_INPUT_TEXT}, the limit for an input")
    if isinstance(raw, str):
        return raw
    try:
        return decode_text(raw)
    except NotText as exc:
        raise InputError(f"{what}: stdin is not text ({exc})") from None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a zip archive (or a .docx/.xlsx)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"\x7fELF", "a program"),
)
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xfe\xff", "utf-16"),
    (b"\xff\xfe", "utf-16"),
)
# control characters that do not occur in text (tab, newlines, form feed and escape do)
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f]")


def decode_text(data: bytes) -> str:
    """Bytes as text: a BOM's encoding (UTF-8, UTF-16, UTF-32); UTF-16 without a BOM, told by its NUL
    bytes (ASCII-range text in UTF-16 has a NUL in every other byte); UTF-8; else Windows-1252 /
    Latin-1 (8-bit text). Raises NotText for what is not text (an image, NUL bytes that are not UTF-16,
    control characters)."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise NotText(f"it looks like {kind}")
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), None)
    if encoding is None and b"\x00" in data:
        encoding = _utf16_by_nuls(data)
        if encoding is None:
            raise NotText("it has NUL bytes and is not UTF-16: binary data, not a bounce or a value")
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            raise NotText(f"it starts like {encoding.upper()} but does not decode as it") from None
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
    controls = len(_CONTROL_RE.findall(text))
    if controls > 1 + len(text) // 100:  # one stray one (a DOS end-of-file ^Z) is still text
        raise NotText(f"{controls} control characters in {len(text)}: binary data, not a bounce or a value")
    return text


def _utf16_by_nuls(data: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' when the NUL bytes sit in the high byte of (mostly) every code unit."""
    if len(data) < 2 or len(data) % 2:
        return None
    even, odd = data[0::2], data[1::2]
    units = len(data) // 2
    nul_even, nul_odd = even.count(0), odd.count(0)
    if nul_odd >= units * 0.3 and nul_even <= units * 0.1:
        return "utf-16-le"
    if nul_even >= units * 0.3 and nul_odd <= units * 0.1:
        return "utf-16-be"
    return None


NOTIFICATION_ORIGIN = " (from the SES notification)"


def from_notification(bounce: str) -> dict[str, str]:
    """The inputs an SES event notification given as the bounce names: its sender, its first
    recipient and its sending region; {} when the bounce is not one."""
    event = parse_ses_event(bounce) if bounce else None
    if event is None:
        return {}
    found = {"sender": event.sender, "recipient": event.recipient, "region": event.region}
    return {name: value for name, value in found.items() if value}


def resolve(
    flow: Flow,
    sets: Mapping[str, str],
    settings: Settings,
    env: Mapping[str, str],
    *,
    require: bool = True,
) -> dict[str, str]:
    """Every input's value: --set, then MAILDOCTOR_INPUT_<NAME>, then the AWS region in effect (for
    a region input), then what an SES notification given as the bounce says (sender, recipient,
    region), then the flow's default. Validated."""
    values: dict[str, str] = {}
    origin: dict[str, str] = {}
    not_given: set[str] = set()  # inputs left empty or to their flow default
    for name, spec in flow.inputs.items():
        value = sets.get(name)
        if value is None:
            value = env.get(ENV_PREFIX + name.upper())
        if value is None and spec.default_from == "aws-region" and settings.region:
            value = settings.region
            origin[name] = " (from --region, AWS_REGION or AWS_DEFAULT_REGION)"
        if value is None:
            value = spec.default
            not_given.add(name)
        value = (value or "").strip() if spec.kind != "multiline" else (value or "")
        if value:
            values[name] = value
        else:
            not_given.add(name)
    for name, value in from_notification(values.get("bounce", "")).items():
        if name in flow.inputs and name in not_given:
            values[name] = value
            origin[name] = NOTIFICATION_ORIGIN
    if require:
        errors = []
        for name, spec in flow.inputs.items():
            why = problem(spec, values.get(name, ""))
            if why:
                errors.append(
                    f"input '{name}'{origin.get(name, '')}: {why}"
                    + ("" if why != "required" else f" ({spec.description})")
                )
        if errors:
            raise InputError("; ".join(errors))
    return values
