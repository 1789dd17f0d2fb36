"""CONTRACT.md's diagnosis codes: what each means (tests check the shipped flows reach every one)."""

from __future__ import annotations

DIAGNOSIS_CODES: dict[str, str] = {
    "all-clear": "every layer checked passed",
    "identity-not-found": "the sender's address or domain is not an SES identity in the sending region",
    "identity-unverified": "the identity exists but is not verified for sending",
    "account-sandbox": "the account is in the sandbox and the recipient is not a verified identity",
    "account-sending-paused": "sending is disabled or the account is shut down",
    "account-under-review": "the account is on probation (review), or bounce/complaint rates are at review level",
    "quota-exhausted": "the 24-hour sending quota is used up",
    "dkim-records-missing": "one or more Easy DKIM CNAME records are absent or point elsewhere",
    "dkim-not-verified": "the DKIM records are right but SES has not verified DKIM",
    "spf-missing": "no SPF record",
    "spf-invalid": "a broken SPF record (several records, syntax, more than 10 DNS lookups, more than 2 void lookups)",
    "dmarc-missing": "no DMARC record",
    "dmarc-invalid": "a broken DMARC record",
    "dmarc-unaligned": "DMARC enforces (quarantine/reject) and neither DKIM nor SPF can align for SES mail",
    "mail-from-mx-missing": "the custom MAIL FROM domain has no (or a wrong) MX record",
    "mail-from-spf-missing": "the custom MAIL FROM domain has no SPF record allowing SES",
    "mail-from-not-verified": "SES has not verified the custom MAIL FROM domain",
    "recipient-suppressed": "the recipient is on the account-level suppression list in the sending region",
    "smtp-credentials-stale": "the SMTP user name is an access key that no longer exists (deleted, e.g. by a rotation)",
    "smtp-key-inactive": "the access key exists but is inactive",
    "smtp-password-v2": "the password has the retired Signature Version 2 form",
    "smtp-password-wrong": "the key is active, but the password is not the one derived from it for this region",
    "smtp-not-authorized": "the login works but the IAM user may not ses:SendRawEmail",
    "smtp-unreachable": "the SMTP endpoint cannot be reached or refuses TLS",
}
