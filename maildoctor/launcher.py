"""The console entry point (``maildoctor``, ``python -m maildoctor``): ``--version`` is answered here,
before click is imported.

Importing click costs about as much as Python's own start-up again (25-40 ms: it pulls in inspect,
typing, enum ...), so through click ``maildoctor --version`` took over 3x ``python -c pass``. Only the
bare ``maildoctor --version`` takes this path, and it prints click's own line (``version_option``'s
``%(prog)s, version %(version)s``); everything else, ``--version`` among other options included, goes to
:mod:`maildoctor.cli` unchanged.
"""

from __future__ import annotations

import sys

from maildoctor import __version__

VERSION_LINE = f"maildoctor, version {__version__}"


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        print(VERSION_LINE)
        return
    from maildoctor.cli import entry

    entry()
