"""The shell commands of a remedy: exactly its fenced ``sh`` blocks.

A remedy puts every command the operator should run in a ```` ```sh ```` block, and nothing else there;
records, JSON and timelines go in other blocks (```` ```text ````, ```` ```json ````). So what the TUI's
"copy commands" key copies can be pasted into a shell as it is.
"""

from __future__ import annotations

import re

from maildoctor.flow.templates import UNKNOWN

SHELL_BLOCK = re.compile(r"^[ \t]*```sh[ \t]*\n(.*?)^[ \t]*```[ \t]*$", re.MULTILINE | re.DOTALL)
ANY_BLOCK = re.compile(r"^[ \t]*```[^\n]*\n.*?^[ \t]*```[ \t]*$", re.MULTILINE | re.DOTALL)
# programs a remedy may tell the operator to run; an inline `aws iam …` in prose is a command out of place
PROGRAMS = ("aws", "maildoctor", "dig", "nslookup", "openssl", "swaks", "curl")
INLINE_COMMAND = re.compile(r"`((?:" + "|".join(PROGRAMS) + r") [a-z][^`]*)`")


def shell_blocks(markdown: str) -> list[str]:
    """The text of each ```` ```sh ```` block of ``markdown``, in order, dedented, each ending in a new
    line. A block holding a value the walk did not find (``(unknown)``) is left out: it would not run."""
    blocks = []
    for block in SHELL_BLOCK.findall(markdown):
        lines = block.rstrip("\n").splitlines()
        indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
        text = "\n".join(line[indent:] for line in lines) + "\n"
        if UNKNOWN not in text:
            blocks.append(text)
    return blocks


def shell_commands(markdown: str) -> str:
    """Every shell block of ``markdown``, one after the other: what can be pasted into a shell."""
    return "".join(shell_blocks(markdown))


def stray_commands(markdown: str) -> list[str]:
    """Commands written inline in the prose (`` `aws iam …` ``) instead of in a ``sh`` block."""
    return INLINE_COMMAND.findall(ANY_BLOCK.sub("", markdown))
