"""The maildoctor TUI: one more renderer of the engine's events.

Screens: flow picker → form → walk → remedy (``b`` goes one back), with the help and export dialogs; a
walk that audits SMTP credentials (an ``audit.credentials`` step) ends on the audit screen instead, whose
findings open the remedy.
Every key is a binding with an id (``maildoctor.back`` …) so a user's keymap can rebind it, and every
action is a command in the palette.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from maildoctor import inputs
from maildoctor.checks.registry import Registry
from maildoctor.clients.settings import Settings
from maildoctor.errors import MaildoctorError
from maildoctor.flow.load import find_flow, load_flow
from maildoctor.flow.model import Flow
from maildoctor.keymap import BY_ID
from maildoctor.tui.bindings import KeyNames, binding
from maildoctor.tui.messages import FindingsRequested, FlowChosen, RemedyRequested, WalkRequested
from maildoctor.tui.options import DisplayOptions
from maildoctor.tui.screens.picker import PickerScreen

# The other screens (and the walk's session, with the engine) are imported when first opened: the first
# frame, the picker, does not wait for them (markdown, the bounce parser, the engine …).
if TYPE_CHECKING:
    from maildoctor.tui.session import WalkSession

EXIT_INTERRUPTED = 130
THEMES = ("textual-dark", "textual-light")
THEME_NAMES = {"dark": THEMES[0], "light": THEMES[1]}  # the config file's words
NOT_IN_PALETTE = {"maildoctor.palette", "maildoctor.interrupt"}
SCREENSHOT_TITLE = "Screenshot"  # Textual's own command, which saves into ~/Downloads


class MaildoctorApp(App[int], inherit_bindings=False):
    """Returns (``App.run``) the exit status of CONTRACT.md: 0 all clear, 1 findings, 3 unfinished,
    130 interrupted; 0 when quit before any walk.

    The app owns the session and the order of the screens: screens post messages (``FlowChosen``,
    ``WalkRequested``, ``RemedyRequested``) and return with ``dismiss``; they never call the app."""

    CSS_PATH = "app.tcss"
    TITLE = "maildoctor"
    BINDINGS: ClassVar[list[BindingType]] = [
        binding("maildoctor.help", "help"),
        binding("maildoctor.export", "export"),
        binding("maildoctor.quit", "quit"),
        binding("maildoctor.theme", "toggle_theme", show=False),
        binding("maildoctor.palette", "command_palette", show=False, priority=True),
        binding("maildoctor.interrupt", "interrupt", show=False),
    ]

    def __init__(
        self,
        *,
        flow: str | None,
        prefill: Mapping[str, str],
        settings: Settings,
        keymap: Mapping[str, str] | None = None,
        theme: str | None = None,
        display: DisplayOptions | None = None,
        registry: Registry | None = None,
    ) -> None:
        """``prefill``: input values (secrets included; kept in memory only). ``keymap``: binding id →
        keys. ``theme``: ``dark``, ``light`` or a Textual theme's name. ``display``: for snapshot tests
        and screenshots (no elapsed times, no motion). ``registry``: the checks the walk runs (the
        shipped ones by default; tests and screenshots hold some of them)."""
        super().__init__()
        self.start_theme = THEME_NAMES.get(theme or "dark", theme or THEMES[0])
        self.flow_ref = flow
        self.prefill = dict(prefill)
        self.settings = settings
        self.user_keymap = dict(keymap or {})
        self.key_names = KeyNames(self.user_keymap)
        self.display_options = display or DisplayOptions()
        self.session: WalkSession | None = None
        self.registry = registry
        self.ready_callback: Callable[[], None] | None = None
        if self.user_keymap:
            self.set_keymap(self.user_keymap)

    # -- screens

    def on_mount(self) -> None:
        if self.start_theme in self.available_themes:
            self.theme = self.start_theme
        if self.flow_ref is None:
            self.push_screen(PickerScreen())
            return
        try:
            flow = load_flow(find_flow(self.flow_ref))
        except MaildoctorError as exc:
            self.push_screen(PickerScreen())
            self.notify(str(exc), title="Cannot open the flow", severity="error", timeout=15, markup=False)
        else:
            self.open_form(flow)

    def on_ready(self) -> None:
        if self.ready_callback is not None:
            self.ready_callback()

    def form_values(self, flow: Flow) -> dict[str, str]:
        """The prefilled values of a flow's inputs, with their defaults (the AWS region in effect …)."""
        return inputs.resolve(flow, self.prefill, self.settings, {}, require=False)

    def open_form(self, flow: Flow) -> None:
        from maildoctor.tui.screens.form import FormScreen

        form = FormScreen(flow, self.form_values(flow), self.display_options)
        self.push_screen(form, self._form_left)

    def _form_left(self, _: None) -> None:
        """Back from the form: to the picker (which is below it, unless the app opened on the form)."""
        if not isinstance(self.screen, PickerScreen):
            self.push_screen(PickerScreen())

    @on(FlowChosen)
    def _flow_chosen(self, message: FlowChosen) -> None:
        self.open_form(message.flow)

    @on(WalkRequested)
    def _walk_requested(self, message: WalkRequested) -> None:
        self.start_walk(message.flow, message.values)

    def start_walk(self, flow: Flow, values: Mapping[str, str]) -> None:
        from maildoctor.tui.screens.walk import WalkScreen
        from maildoctor.tui.session import WalkSession

        if self.session is not None:
            self.session.close()
        session = WalkSession(flow, values, self.settings, registry=self.registry)
        self.session = session
        screen = WalkScreen(session, self.key_names, self.display_options)
        self.push_screen(screen, partial(self._walk_left, session))

    def _walk_left(self, session: WalkSession, _: None) -> None:
        session.interrupt("the walk was left before it finished")
        session.close()

    @on(RemedyRequested)
    def _remedy_requested(self) -> None:
        """The walk's end: the audit screen for a walk with an audit step (by the steps it holds, not
        the flow's name), otherwise the remedy."""
        from maildoctor.tui.screens.audit import AuditScreen, is_audit

        if self.session is None:
            return
        if is_audit(self.session):
            self.push_screen(AuditScreen(self.session, self.key_names))
        else:
            self._open_remedy(self.session)

    @on(FindingsRequested)
    def _findings_requested(self) -> None:
        if self.session is not None:
            self._open_remedy(self.session)

    def _open_remedy(self, session: WalkSession) -> None:
        from maildoctor.tui.screens.remedy import RemedyScreen

        self.push_screen(RemedyScreen(session, self.key_names))

    # -- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "export":
            return self.session is not None
        return True

    def action_help(self) -> None:
        from maildoctor.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.key_names))

    def action_export(self) -> None:
        from maildoctor.tui.screens.export import ExportDialog, default_export_path

        if self.session is None or isinstance(self.screen, ExportDialog):
            return
        path = default_export_path(self.settings.resolved_state_dir(), self.session.session_id, "markdown")
        self.push_screen(ExportDialog(self.session, path, self.display_options), self._exported)

    def _exported(self, path: Path | None) -> None:
        if path is not None:
            self.notify(f"Wrote {path}", title="Exported", markup=False)

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]

    def exit_status(self) -> int:
        return 0 if self.session is None else self.session.exit_status()

    async def action_quit(self) -> None:
        status = self.exit_status()
        if self.session is not None:
            self.session.interrupt("quit before the walk finished")
            self.session.close()
        self.exit(status, return_code=status)

    async def action_interrupt(self) -> None:
        """ctrl+c: 130 during a walk (CONTRACT.md), otherwise the same as quit."""
        if self.session is not None and self.session.running:
            self.session.interrupt("interrupted")
            self.session.close()
            self.exit(EXIT_INTERRUPTED, return_code=EXIT_INTERRUPTED)
            return
        await self.action_quit()

    # -- screenshots: into the state folder (Textual's default, ~/Downloads, may not exist)

    def screenshot_folder(self) -> Path:
        return self.settings.resolved_state_dir() / "screenshots"

    def save_screenshot_in_state(self) -> None:
        folder = self.screenshot_folder()
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            written = self.save_screenshot(path=str(folder))
        except OSError as exc:
            self.notify(f"Cannot save the screenshot in {folder}: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"Saved {written}", title="Screenshot", markup=False)

    # -- the command palette: every action of the screen and the app that can run now

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        seen: set[tuple[int, str]] = set()
        for node, bindings in ((screen, type(screen).BINDINGS), (self, type(self).BINDINGS)):
            for bound in Binding.make_bindings(bindings):
                if not bound.id or bound.id in NOT_IN_PALETTE or (id(node), bound.action) in seen:
                    continue
                seen.add((id(node), bound.action))
                if not node.check_action(bound.action, ()):
                    continue
                yield SystemCommand(
                    f"{bound.description} ({self.key_names.shown(bound.id)})",
                    BY_ID[bound.id].help,
                    partial(self.run_action, bound.action, node),
                )
        for command in super().get_system_commands(screen):
            if command.title == SCREENSHOT_TITLE:
                yield SystemCommand(
                    SCREENSHOT_TITLE,
                    f"Save an SVG picture of the screen in {self.screenshot_folder()}",
                    lambda: self.set_timer(0.1, self.save_screenshot_in_state),
                )
            elif command.title != "Quit":
                yield command


def run_tui(
    *,
    flow: str | None,
    prefill: dict[str, str],
    settings: Settings,
    keymap: dict[str, str] | None = None,
    on_ready: Callable[[], None] | None = None,
    theme: str | None = None,
) -> int:
    """Run the TUI in the terminal; returns the exit status (CONTRACT.md)."""
    app = MaildoctorApp(flow=flow, prefill=prefill, settings=settings, keymap=keymap, theme=theme)
    app.ready_callback = on_ready
    result = app.run()
    if isinstance(result, int):
        return result
    return app.return_code or 0
