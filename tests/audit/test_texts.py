"""The rotation runbook and the pathways, in the user's values (pure functions)."""

from __future__ import annotations

from maildoctor.audit.texts import NEW_KEY, pathways, runbook
from maildoctor.flow.commands import shell_blocks, stray_commands


def _commands(text: str) -> list[str]:
    return [line for block in shell_blocks(text) for line in block.splitlines()]


def test_a_full_rotation_in_order() -> None:
    text = runbook("app", "AKIAOLDOLDOLDOLDOLD1", ["us-west-2", "eu-west-1"], "ops@example.org")
    assert _commands(text) == [
        "aws iam create-access-key --user-name app",
        "maildoctor smtp-password --region us-west-2",
        "maildoctor smtp-password --region eu-west-1",
        "maildoctor run ses-delivery --set sender=ops@example.org --set region=us-west-2 --set pathway=smtp "
        f"--set smtp_username={NEW_KEY} --set smtp_password=@-",
        "aws iam update-access-key --user-name app --access-key-id AKIAOLDOLDOLDOLDOLD1 --status Inactive",
        "aws iam get-access-key-last-used --access-key-id AKIAOLDOLDOLDOLDOLD1",
        "aws iam delete-access-key --user-name app --access-key-id AKIAOLDOLDOLDOLDOLD1",
    ]
    assert text.index('Gmail "Send mail as"') < text.index("An app or server")
    assert "| SMTP Server | `email-smtp.us-west-2.amazonaws.com` |" in text
    assert not stray_commands(text)


def test_a_rotation_a_client_did_not_follow_starts_at_the_password() -> None:
    new, old = "AKIANEWNEWNEWNEWNEW2", "AKIAOLDOLDOLDOLDOLD1"
    gone = runbook("app", new, ["us-east-1"], None, replaces=old, old_status=None)
    assert [c.split(" --")[0] for c in _commands(gone)] == [
        "maildoctor smtp-password",
        "maildoctor run ses-delivery",
    ]
    assert "sender=SENDER" in gone and f"smtp_username={new}" in gone and "deleted already" in gone
    inactive = runbook("app", new, ["us-east-1"], None, replaces=old, old_status="Inactive")
    assert [c.split(" --")[0] for c in _commands(inactive)][-2:] == [
        "aws iam get-access-key-last-used",
        "aws iam delete-access-key",
    ]
    assert "update-access-key" not in inactive


def test_pathways_name_the_smtp_users_and_their_keys() -> None:
    table = pathways([("relay", ["AKIANEWNEWNEWNEWNEW2"]), ("idle", [])])
    assert "`relay` (`AKIANEWNEWNEWNEWNEW2`); `idle` (no active key)" in table
    assert "role" in table and 'Gmail "Send mail as"' in table
    assert "none found" in pathways([])
