"""SES SMTP passwords: derivation from a secret access key, and recognising what a password is.

SigV4 (ses-facts.md): HMAC-SHA256 chain over date "11111111", region, "ses", "aws4_request" and
"SendRawEmail", prefixed with the version byte 0x04 and base64-encoded. SigV2 (retired in 2021):
0x02 + HMAC-SHA256(secret, "SendRawEmail"), region-independent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Literal

_DATE = "11111111"
_SERVICE = "ses"
_TERMINAL = "aws4_request"
_MESSAGE = "SendRawEmail"
V4 = 0x04
V2 = 0x02

PasswordForm = Literal["sigv4", "sigv2", "secret-key", "empty", "unknown"]


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def smtp_password_v4(secret_access_key: str, region: str) -> str:
    signature = _hmac(("AWS4" + secret_access_key).encode("utf-8"), _DATE)
    for part in (region, _SERVICE, _TERMINAL, _MESSAGE):
        signature = _hmac(signature, part)
    return base64.b64encode(bytes([V4]) + signature).decode("ascii")


def smtp_password_v2(secret_access_key: str) -> str:
    return base64.b64encode(bytes([V2]) + _hmac(secret_access_key.encode("utf-8"), _MESSAGE)).decode("ascii")


_SECRET_KEY_RE = re.compile(r"^[A-Za-z0-9/+]{40}$")


def password_form(password: str) -> PasswordForm:
    """What a configured SMTP password looks like: a SigV4 or SigV2 SMTP password, or a raw secret key."""
    if not password:
        return "empty"
    if len(password) == 44:
        try:
            raw = base64.b64decode(password, validate=True)
        except ValueError:
            raw = b""
        if len(raw) == 33 and raw[0] == V4:
            return "sigv4"
        if len(raw) == 33 and raw[0] == V2:
            return "sigv2"
    if _SECRET_KEY_RE.match(password):
        return "secret-key"
    return "unknown"


def matching_region(password: str, secret_access_key: str, regions: list[str]) -> str | None:
    """The region among ``regions`` whose SigV4 password from ``secret_access_key`` is ``password``."""
    for region in regions:
        if hmac.compare_digest(smtp_password_v4(secret_access_key, region), password):
            return region
    return None
