"""The shell commands of a remedy: exactly its fenced ``sh`` blocks.

A remedy puts every command the operator should run in a ```` ```sh ```` block, and nothing else there;
records, JSON and timelines go in other blocks (```` ```text ````, ```` ```json ````). So what the TUI's
"copy commands" key copies can be pasted into a shell as it is.
"""

from __future__ import annotations

import re

SHELL_BLOCK = re.compile(r"^```sh[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def shell_blocks(markdown: str) -> list[str]:
    """The text of each ```` ```sh ```` block of ``markdown``, in order, each ending in a new line."""
    return [block.rstrip("\n") + "\n" for block in SHELL_BLOCK.findall(markdown)]


def shell_commands(markdown: str) -> str:
    """Every shell block of ``markdown``, one after the other: what can be pasted into a shell."""
    return "".join(shell_blocks(markdown))
