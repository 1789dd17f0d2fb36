"""The TUI's keys as data: binding ids, default keys and what each does.

No textual import here, so that a config loader can check a user's keymap (``{binding id: keys}``)
without loading the TUI. ``tui/bindings.py`` turns these into Textual bindings; the help screen and the
command palette list them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    id: str
    keys: str  # Textual key names, comma separated
    label: str  # the footer's word
    help: str  # the help screen, the footer's tooltip and the command palette


KEYS: tuple[Key, ...] = (
    Key("maildoctor.enter", "enter", "Start", "Start the walk (form) · continue to the fix · choose (list)"),
    Key("maildoctor.back", "b,escape", "Back", "One screen back: remedy → walk → form → flow picker"),
    Key("maildoctor.rerun", "r", "Re-run", "Run the selected step again; the steps after it are replaced"),
    Key("maildoctor.export", "e", "Export", "Write the transcript as Markdown, JSON or HTML"),
    Key("maildoctor.copy", "c", "Copy fix", "Copy the selected finding's fix (Markdown) to the clipboard"),
    Key(
        "maildoctor.copy_code",
        "y",
        "Copy commands",
        "Copy only the shell commands of the selected fix (its sh blocks), ready to paste into a shell",
    ),
    Key("maildoctor.help", "question_mark,f1", "Help", "List every key"),
    Key("maildoctor.palette", "ctrl+p", "Palette", "Open the command palette: every action by name"),
    Key("maildoctor.theme", "ctrl+t", "Light/dark theme", "Switch between the light and the dark theme"),
    Key("maildoctor.quit", "q,ctrl+q", "Quit", "Quit (exit status: 0 all clear, 1 findings, 3 unfinished)"),
    Key("maildoctor.interrupt", "ctrl+c", "Interrupt", "Stop at once (exit status 130 during a walk)"),
    Key("maildoctor.next_field", "down", "Next field", "The form: the next field"),
    Key("maildoctor.previous_field", "up", "Previous field", "The form: the previous field"),
    Key(
        "maildoctor.close",
        "escape,q,question_mark",
        "Close",
        "Close the help or the export dialog (in the export's path field only esc: q and ? type there)",
    ),
    Key("maildoctor.page_down", "pagedown", "Page down", "The remedy: page down through the fix"),
    Key("maildoctor.page_up", "pageup", "Page up", "The remedy: page up through the fix"),
    Key("maildoctor.findings", "f", "Findings", "The audit: every finding of the walk, with its fix"),
)

BY_ID: dict[str, Key] = {key.id: key for key in KEYS}
KEY_IDS: frozenset[str] = frozenset(BY_ID)

# Keys that belong to the widgets themselves, listed on the help screen.
NAVIGATION: tuple[tuple[str, str], ...] = (
    ("↑ ↓", "Move: flows, fields, steps of the walk, options of a question, findings"),
    ("tab / shift+tab", "Next / previous field or pane"),
    ("space", "Fold or unfold a layer of the walk"),
    ("pgup / pgdn", "Page through the focused pane: a list, the step's details, the fix, this help"),
    ("in a text field", "Letters type: on the form use esc (back), ctrl+q (quit), f1 (help)"),
)


def unknown_ids(keymap: dict[str, str]) -> list[str]:
    """Binding ids in a user's keymap that the TUI does not have (for a config loader's error)."""
    return sorted(set(keymap) - KEY_IDS)
