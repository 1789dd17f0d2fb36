"""CONTRACT.md's codes: what each means. Tests check that this module lists exactly CONTRACT.md's codes
and that the shipped flows and lab scenarios reach every diagnosis code not marked as not yet reached."""

from __future__ import annotations

DIAGNOSIS_CODES: dict[str, str] = {
    "all-clear": "every layer that applies was checked, and passed",
    "inconclusive": "nothing was found, but some layers could not be checked",
    "identity-not-found": "the sender's address or domain is not an SES identity in the sending region",
    "identity-unverified": "the identity exists but is not verified for sending",
    "account-sandbox": "the account is in the sandbox and the recipient is not a verified identity",
    "account-sending-paused": "sending is disabled or the account is shut down",
    "account-under-review": "the account is on probation (review), or bounce/complaint rates are at review level",
    "quota-exhausted": "the 24-hour sending quota is used up",
    "sending-rate-exceeded": "sends come faster than the account's maximum send rate",
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
    "recipient-rejected": "the receiving server refused the recipient itself: no such mailbox, disabled, full, moved",
    "receiver-authentication": "the receiving server refused the mail as unauthenticated (DKIM, SPF or DMARC alignment)",
    "receiver-policy": "the receiving server refused the mail for reputation, a blocklist, spam or content, or rate-limited it",
    "smtp-credentials-stale": "the SMTP user name is an access key that no longer exists (deleted, e.g. by a rotation)",
    "smtp-key-other-account": "the SMTP user name is an access key of another AWS account than the one checked",
    "smtp-key-inactive": "the access key exists but is inactive",
    "smtp-login-rejected": "SES refused the SMTP credentials, and what is behind them could not be checked",
    "smtp-password-v2": "the password has the retired Signature Version 2 form",
    "smtp-password-wrong": "the key is active, but the password is not the one derived from it for this region",
    "smtp-not-authorized": "the login works but the IAM user may not ses:SendRawEmail",
    "smtp-unreachable": "the SMTP endpoint cannot be reached or refuses TLS",
}

# Verdicts the session gives itself, never a flow's remedy.
VERDICT_CODES = frozenset({"all-clear", "inconclusive"})

# Codes CONTRACT.md added that no shipped flow reaches yet; the issues that follow make the flows reach
# them (honest verdicts, the credential path as real AWS answers it, real bounces).
NOT_YET_REACHED: frozenset[str] = frozenset()

AUDIT_CODES: dict[str, str] = {
    "audit-clean": "every SMTP credential found is in use, recently rotated, and watched by a rotation alert",
    "smtp-key-unused-since-rotation": "a key was created or rotated and no SES use of the new key is recorded since",
    "smtp-key-rotation-due": "an active SMTP key is older than the rotation age",
    "smtp-key-unused": "an active SMTP key has never been used, or not in the last 90 days",
    "smtp-user-cannot-send": "an IAM user that looks like an SMTP user may not ses:SendRawEmail",
    "rotation-alert-missing": "no EventBridge rule in us-east-1 matches IAM access-key events for the SMTP users",
}
