"""The one error type the CLI turns into a clear message and an exit status (never a traceback)."""

from __future__ import annotations


class MaildoctorError(Exception):
    """A problem the user can fix: bad input, a broken flow file, an unreadable transcript ..."""

    exit_code = 2


class MissingExtra(MaildoctorError):
    def __init__(self, extra: str, module: str | None) -> None:
        super().__init__(
            f"this needs the '{extra}' extra: pip install 'maildoctor[{extra}]' ({module} is missing)"
        )
