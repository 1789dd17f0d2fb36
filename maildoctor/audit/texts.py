"""The audit's words in the user's values: where SMTP credentials live (Gmail "Send mail as" first), the
rotation runbook of a key, and the sending pathways as found. Pure functions over plain values.

Every command is in a fenced ``sh`` block (what the TUI's copy key copies, maildoctor/flow/commands.py);
a value the audit does not know is written as an upper-case word the operator replaces (NEW_KEY_ID),
never as a guess.
"""

from __future__ import annotations

from collections.abc import Sequence

NEW_KEY = "NEW_KEY_ID"


def shell(*commands: str) -> str:
    return "```sh\n" + "\n".join(commands) + "\n```"


def smtp_host(region: str) -> str:
    return f"email-smtp.{region}.amazonaws.com"


def gmail_fields(region: str, username: str, password: str = "the password derived for this region") -> str:
    """Gmail "Send mail as" → edit info: the fields as flows/ses-delivery.yaml's fix-stale gives them."""
    return (
        'Gmail → ⚙ Settings → **See all settings** → **Accounts and Import** → "Send mail as" → '
        "**edit info** next to the address → **Next Step**, then set:\n\n"
        "| field | value |\n|---|---|\n"
        f"| SMTP Server | `{smtp_host(region)}` |\n"
        "| Port | `587` |\n"
        f"| Username | `{username}` |\n"
        f"| Password | {password} |\n"
        "| Security | Secured connection using TLS (recommended) |\n\n"
        "**Save Changes** (Gmail tests the login as it saves), then send a test message."
    )


def where_credentials_live(region: str, username: str) -> str:
    """Where a copy of SES SMTP credentials usually is, Gmail "Send mail as" first."""
    items = [
        f'**Gmail "Send mail as"** (the usual one, and it never refreshes). {gmail_fields(region, username)}',
        "**An app or server** sending through SES SMTP (a web app's mail settings, a CMS plug-in, a `.env` "
        f"file, a secrets manager entry, a CI variable): host `{smtp_host(region)}`, port `587` with STARTTLS "
        f"(or `465` with TLS), user name `{username}`; reload the service so it reads them.",
        f"**A mail relay** (Postfix `sasl_passwd`, Exim, sendmail) relaying to `{smtp_host(region)}`; run "
        "`postmap` on the file and reload the relay.",
        "**Devices and appliances** (printers and scanners that mail, monitoring tools, NAS boxes).",
    ]
    # continuation lines indented under their item, so the Gmail table stays inside item 1
    return "\n".join(f"{n}. " + item.replace("\n", "\n   ") for n, item in enumerate(items, 1))


def prove(region: str, sender: str | None, username: str) -> str:
    """A walk of ses-delivery whose live SMTP login uses the new credentials (the password from stdin)."""
    who = sender or "SENDER"
    return shell(
        f"maildoctor run ses-delivery --set sender={who} --set region={region} --set pathway=smtp "
        f"--set smtp_username={username} --set smtp_password=@-"
    )


def runbook(
    user: str,
    key_id: str,
    regions: Sequence[str],
    sender: str | None,
    *,
    replaces: str | None = None,
    old_status: str | None = "Active",
) -> str:
    """The rotation of ``key_id`` of ``user``, in order. ``replaces``: ``key_id`` is itself the new key of
    a rotation some client has not followed (the steps then start at deriving its password);
    ``old_status``: that old key's status now (None: deleted, nothing left to retire; Inactive: only
    the watching and the deleting are left)."""
    regions = list(regions) or ["us-east-1"]
    first = regions[0]
    steps: list[str] = []
    new = key_id if replaces else NEW_KEY
    old = replaces or key_id
    if not replaces:
        steps.append(
            f"**Create the new key** of `{user}` (IAM shows its secret once; a user has at most two keys):\n\n"
            + shell(f"aws iam create-access-key --user-name {user}")
        )
    steps.append(
        f"**Derive the SMTP password** of `{new}` for {', '.join(regions)} from its secret access key (read "
        "from a hidden prompt, never stored; an SMTP password is per region):\n\n"
        + shell(*(f"maildoctor smtp-password --region {r}" for r in regions))
    )
    steps.append(
        f"**Update every client** that holds `{old}` to user name `{new}` and the new password; where "
        "such credentials usually live, Gmail first:\n\n" + where_credentials_live(first, new)
    )
    steps.append(
        "**Prove it**: a walk of `ses-delivery` whose live SMTP login answers `235 Authentication "
        "successful` (paste the new password on stdin):\n\n" + prove(first, sender, new)
    )
    if old_status is None:
        steps.append(f"`{old}` is deleted already: nothing to deactivate; any client still holding it fails.")
    else:
        steps += _retire(user, old)[0 if old_status == "Active" else 1 :]
    numbered = [f"{n}. " + step.replace("\n", "\n   ") for n, step in enumerate(steps, 1)]
    return "\n".join(numbered)


def _retire(user: str, old: str) -> list[str]:
    """Deactivate the old key, watch that nothing uses it, delete it."""
    return [
        f"**Deactivate the old key** `{old}` (reversible: `--status Active` brings it back):\n\n"
        + shell(f"aws iam update-access-key --user-name {user} --access-key-id {old} --status Inactive"),
        f"**Watch its last use stay still** for a few days: a client still using `{old}` now fails, and "
        "the date below must not move:\n\n"
        + shell(f"aws iam get-access-key-last-used --access-key-id {old}"),
        "**Delete it** once nothing has used it:\n\n"
        + shell(f"aws iam delete-access-key --user-name {user} --access-key-id {old}"),
    ]


def pathways(users: Sequence[tuple[str, Sequence[str]]]) -> str:
    """The sending pathways as found: which credentials each uses, and who must act when a key rotates.
    ``users``: each SMTP user with its active key ids."""
    if users:
        smtp = "; ".join(
            f"`{u}` ({', '.join(f'`{k}`' for k in keys) or 'no active key'})" for u, keys in users
        )
    else:
        smtp = "none found"
    return "\n".join(
        [
            "| pathway | credentials | rotated by | when a key rotates |",
            "|---|---|---|---|",
            "| SES API (an SDK, a Lambda) with an IAM role | temporary STS credentials of the role (not "
            "listed by this audit) | AWS, continuously | nobody acts |",
            f"| SES SMTP with an IAM user's key | long-term access keys: {smtp} | by hand | whoever rotates "
            "derives the new SMTP password for each region and updates every client below |",
            '| clients holding a copy (Gmail "Send mail as", apps, relays, devices) | the SMTP user name (the '
            "key id) and the password derived from it | never by themselves | each client's owner, told by "
            "the rotation alert; until then the client fails with `535 Authentication Credentials Invalid` |",
        ]
    )
