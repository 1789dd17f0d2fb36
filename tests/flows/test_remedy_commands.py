"""A remedy's commands are its sh blocks (what the TUI's `y` copies); nothing else is in them, and no
command is left inline in the prose."""

from __future__ import annotations

import pytest

from maildoctor.flow.commands import shell_blocks, shell_commands, stray_commands
from maildoctor.flow.load import builtin_flow_paths, load_flow
from maildoctor.flow.model import RemedyNode

FIX = """\
The key was deleted.

```text
2026-11-20 DeleteAccessKey AKIAOLD by alice
{
```

1. Derive the password:

   ```sh
   maildoctor smtp-password --region eu-west-1
   ```

2. Alert next time:

```json
{"source": ["aws.iam"]}
```

```sh
aws iam create-access-key --user-name ses-smtp-user
```
"""

REMEDIES = [
    (f"{path.stem}:{node_id}", node.remedy)
    for path in builtin_flow_paths()
    for node_id, node in load_flow(path).nodes.items()
    if isinstance(node, RemedyNode)
]


def test_only_sh_blocks_are_copied_dedented_in_order() -> None:
    assert shell_blocks(FIX) == [
        "maildoctor smtp-password --region eu-west-1\n",
        "aws iam create-access-key --user-name ses-smtp-user\n",
    ]
    pasted = shell_commands(FIX)
    assert "DeleteAccessKey" not in pasted and "{" not in pasted and "aws.iam" not in pasted


def test_a_block_with_a_value_not_found_is_not_copied() -> None:
    assert (
        shell_blocks("```sh\naws sesv2 delete-suppressed-destination --email-address (unknown)\n```\n") == []
    )


def test_an_inline_command_in_prose_is_found_but_not_one_in_a_block() -> None:
    prose = "Reactivate it: `aws iam update-access-key --status Active`, or read `aws` docs.\n"
    assert stray_commands(prose) == ["aws iam update-access-key --status Active"]
    assert stray_commands(FIX) == []


@pytest.mark.parametrize(("where", "remedy"), REMEDIES, ids=[w for w, _ in REMEDIES])
def test_shipped_remedies_keep_every_command_in_a_sh_block(where: str, remedy: str) -> None:
    assert stray_commands(remedy) == []
    for block in shell_blocks(remedy):
        for line in block.splitlines():
            # a command, a comment, a continued line or a fact holding a command
            assert line.startswith(("aws ", "maildoctor ", "#", "  --", "{")), (where, line)
