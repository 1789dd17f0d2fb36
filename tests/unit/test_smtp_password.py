"""SES SMTP password derivation against the published vectors in ses-facts.md."""

from __future__ import annotations

import pytest

from maildoctor.smtp_password import matching_region, password_form, smtp_password_v2, smtp_password_v4

V4_VECTORS = [
    ("some+secret+key", "eu-central-1", "BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2"),
    ("another+secret+key", "eu-central-1", "BBbphbrQmrKMx42d1N6+C7VINYEBGI5v9VsZeTxwskfh"),
    ("some+secret+key", "us-west-1", "BH+jbMzper5WwlwUar9E1ySBqHa9whi0GPo+sJ0mVYJj"),
    ("another+secret+key", "us-west-1", "BKVmjjMDFk/qqw8EROW99bjCS65PF8WKvK5bSr4Y6EqF"),
    ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-2", "BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS"),
]
V2_VECTORS = [
    ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "An60U4ZD3sd4fg+FvXUjayOipTt8LO4rUUmhpdX6ctDy"),
    ("some+secret+key", "AnkqhOiWEcszZZzTMCQbOY1sPGoLFgMH9zhp4eNgSjo4"),
]


@pytest.mark.parametrize(("secret", "region", "expected"), V4_VECTORS)
def test_sigv4_vectors(secret: str, region: str, expected: str) -> None:
    assert smtp_password_v4(secret, region) == expected
    assert password_form(expected) == "sigv4"


@pytest.mark.parametrize(("secret", "expected"), V2_VECTORS)
def test_sigv2_vectors(secret: str, expected: str) -> None:
    assert smtp_password_v2(secret) == expected
    assert password_form(expected) == "sigv2"


def test_forms_and_regions() -> None:
    assert password_form("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") == "secret-key"
    assert password_form("") == "empty"
    assert password_form("hunter2") == "unknown"
    pw = V4_VECTORS[0][2]
    assert (
        matching_region(pw, "some+secret+key", ["us-east-1", "us-west-1", "eu-central-1"]) == "eu-central-1"
    )
    assert matching_region(pw, "another+secret+key", ["eu-central-1"]) is None
