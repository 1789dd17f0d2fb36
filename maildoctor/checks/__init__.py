"""Checks, registered by name on import. Add a module here and import it below."""

from maildoctor.checks import bounce, cloudtrail, dns, iam, receiver, ses, ses_history, smtp  # noqa: F401
