"""Assertions shared by the check tests."""

from __future__ import annotations

from typing import Any


def assert_json_safe(value: Any) -> None:
    """Facts must survive JSON as they are: string keys, and only None/str/int/float/bool leaves."""
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value)
        for v in value.values():
            assert_json_safe(v)
    elif isinstance(value, list):
        for v in value:
            assert_json_safe(v)
    else:
        assert value is None or isinstance(value, str | int | float | bool), repr(value)
