"""``maildoctor audit``: every SES SMTP credential of the account, its rotation, and who would notice.

The audit is the shipped flow ``smtp-audit`` (flows/smtp-audit.yaml), so a session, transcript, verdict,
exit status and the TUI's walk serve it as any flow. Its data, for any surface (a screen shows it as it
is):

- the ``audit.credentials`` step's facts (:class:`maildoctor.checks.audit.CredentialsFacts`): the account,
  the regions, and ``credentials``, one :class:`~maildoctor.checks.audit.Credential` per access key of an
  SMTP user (user, key id, status, created, age, last use, CloudTrail history, the key's audit codes, its
  rotation runbook), plus per audit code the keys or users it applies to;
- the ``audit.rotation_alerts`` step's facts (:class:`~maildoctor.checks.audit.AlertFacts`): the
  EventBridge rules read, which SMTP users a rule watches, and the rule to create when none does;
- :func:`maildoctor.audit.report.build`: CONTRACT.md's audit JSON from a session's report.

Pure parts: :mod:`maildoctor.audit.rules` (does an EventBridge pattern match an IAM key event) and
:mod:`maildoctor.audit.texts` (runbooks, Gmail fields, the sending pathways, in the user's values).
"""
