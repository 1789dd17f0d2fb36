"""How the TUI draws, for pictures that must not move: given to the app once, passed down to the widgets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DisplayOptions:
    """``show_timings``: elapsed times in the tree and the detail pane; ``motion``: the spinner turns and
    cursors blink. Snapshot tests and screenshots turn both off."""

    show_timings: bool = True
    motion: bool = True


STILL = DisplayOptions(show_timings=False, motion=False)
