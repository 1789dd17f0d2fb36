"""The lab's `export VAR=value` lines, and the file `maildoctor lab --env-file PATH` writes them to.

The file appears whole or not at all: written to a temporary file in the same folder with mode 600,
then renamed over PATH, so a script waiting for it never reads half of it.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from maildoctor.errors import MaildoctorError


class EnvFileError(MaildoctorError):
    """PATH cannot be written (exit code 2): said before any server starts."""


def export_lines(env: Mapping[str, str]) -> list[str]:
    """``export NAME=value`` per variable, values quoted for a POSIX shell."""
    return [f"export {name}={shlex.quote(value)}" for name, value in env.items()]


def check_env_file(path: Path) -> None:
    """Refuse, in one line, a PATH that could not be written once the lab runs."""
    folder = path.parent
    if path.is_dir():
        raise EnvFileError(f"--env-file {path}: is a folder; give a file name")
    if not folder.is_dir():
        raise EnvFileError(f"--env-file {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise EnvFileError(f"--env-file {path}: cannot write in {folder}")


def write_env_file(path: Path, lines: list[str]) -> None:
    """Write the lines to PATH, mode 600, atomically (temporary file in the same folder, then rename)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("".join(line + "\n" for line in lines))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def remove_env_file(path: Path) -> None:
    """Remove PATH (a stopped lab's variables point nowhere); fine if it is already gone."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def detach_stdout() -> None:
    """Point file descriptor 1 at /dev/null once the lab has printed what it prints on stdout.

    ``eval "$(maildoctor lab &)"`` reads the lab's stdout to its end; a lab that kept it open while it
    serves made that wait forever. A terminal is left alone; so is a stdout that is not a real file.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    if fd != 1 or os.isatty(fd):
        return
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
    finally:
        os.close(devnull)
