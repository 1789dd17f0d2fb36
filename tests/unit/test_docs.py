"""The README and --help mention every command (a habit from sqlite-utils)."""

from __future__ import annotations

import re
from pathlib import Path

import click
from click.testing import CliRunner

from maildoctor.cli import main

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def commands(group: click.Group, prefix: str = "maildoctor") -> list[str]:
    found = []
    for name, command in group.commands.items():
        found.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix} {name}")
    return found


def test_readme_mentions_every_command() -> None:
    names = commands(main)
    assert "maildoctor smtp-password" in names and "maildoctor transcript export" in names
    missing = [name for name in names if name not in README]
    assert missing == []


def test_every_command_has_help() -> None:
    for name in commands(main):
        result = CliRunner().invoke(main, [*name.split()[1:], "--help"])
        assert result.exit_code == 0, name
        assert "Usage:" in result.output and len(result.output.splitlines()) > 3, name


def test_readme_says_what_maildoctor_is_then_the_two_commands_then_the_pictures() -> None:
    what = README.index("**maildoctor** is")
    commands = README.index("make demo   #")
    assert what < commands < README.index("make test   #") < README.index("![")


def test_every_picture_the_readme_shows_exists() -> None:
    root = Path(__file__).resolve().parents[2]
    pictures = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", README)
    assert len(pictures) >= 7
    assert [p for p in pictures if not (root / p).is_file()] == []


def test_the_readme_names_every_binding_id() -> None:
    """A user rebinds keys by id: every id of the key table is in the README's list."""
    from maildoctor.keymap import KEY_IDS

    listed = README.split("Binding ids:", 1)[1].split("\n\n", 1)[0]
    missing = [
        key
        for key in KEY_IDS
        if f"`{key}`" not in listed and f"`.{key.removeprefix('maildoctor.')}`" not in listed
    ]
    assert not missing, missing
