"""Checks, registered by name on import. Add a module here and import it below."""

from maildoctor.checks import dns  # noqa: F401
