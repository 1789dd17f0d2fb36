"""Regenerate screenshots/: the TUI's main screens as SVG (Textual's own screenshots) and PNG.

    python scripts/screenshots.py        (or: make screenshots)
    python scripts/screenshots.py 08-audit   (only the pictures named; the others are left as they are)

Starts the lab in this process, loads its scenarios and drives the app with Textual's pilot at 120×40,
the way tests/tui does: no elapsed times, no spinner motion, no cursor blink, secrets masked. The PNGs
come from rsvg-convert (librsvg2-bin); without it only the SVGs are written, with a warning. Lab dates
(the bounce, the key history) are relative to now, so they change from one run to the next.
"""

from __future__ import annotations

import asyncio
import html
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from maildoctor.checks.registry import CheckContext, CheckResult
    from maildoctor.lab import Lab
    from maildoctor.tui.app import MaildoctorApp

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots"
SIZE = (120, 40)
TIMEOUT = 30.0


async def wait_until(pilot: Pilot[int], what: str, predicate: Callable[[], object]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        await pilot.pause(0.02)


class Shooter:
    def __init__(self, lab: Lab, state_dir: Path) -> None:
        self.lab = lab
        self.state_dir = state_dir
        self.written: list[Path] = []
        self.secrets: set[str] = set()  # never on a screenshot (CONTRACT.md): checked at the end
        self.wanted: set[str] = set()  # the pictures to write (empty: every one)

    def app(
        self, scenario: str | None, *, flow: str | None = "ses-delivery", drop: tuple[str, ...] = ()
    ) -> MaildoctorApp:
        """The app as `maildoctor demo` opens it, on ``scenario``'s inputs (``drop``: inputs left out)."""
        from maildoctor.clients.settings import Settings
        from maildoctor.tui.app import MaildoctorApp
        from maildoctor.tui.options import STILL

        prefill: dict[str, str] = {}
        if scenario is not None:
            loaded = self.lab.load(scenario)
            os.environ.update(self.lab.env())  # boto3 and Settings read the lab's endpoints from here
            prefill = {k: v for k, v in loaded.walk_inputs().items() if v and k not in drop}
            self.secrets |= {v for k, v in prefill.items() if k in ("smtp_password", "smtp_secret_key")}
        settings = Settings.resolve(state_dir=str(self.state_dir))
        return MaildoctorApp(flow=flow, prefill=prefill, settings=settings, display=STILL)

    def save(self, app: MaildoctorApp, name: str) -> None:
        if self.wanted and name not in self.wanted:
            return
        filename = f"{name}.svg"
        app.save_screenshot(filename, str(OUT))
        self.written.append(OUT / filename)
        print(f"screenshots: {OUT.relative_to(ROOT) / filename}")

    async def picker(self) -> None:
        app = self.app(None, flow=None)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            self.save(app, "01-picker")

    async def form(self) -> None:
        app = self.app("seed-incident")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            self.save(app, "02-form")

    async def running(self) -> None:
        from maildoctor.checks.registry import default_registry
        from maildoctor.tui.screens.walk import WalkScreen

        # hold the suppression check (every region, at once) until the screenshot is taken
        entered = asyncio.Event()

        async def held(ctx: CheckContext[Any]) -> CheckResult:
            from maildoctor.checks import progress
            from maildoctor.clients.aws import ses_regions_of

            # as the real sweep reports when a third of the SES regions have answered
            counter = progress.Counter(len(ses_regions_of("aws")), "regions read")
            for _ in range(counter.total // 3):
                counter.tick()
            entered.set()
            await asyncio.Event().wait()  # never set: the step runs until the app quits
            raise AssertionError("unreachable")

        app = self.app("seed-incident")
        app.registry = default_registry().with_fn("ses.suppression", held)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("enter")
            walk = app.screen
            assert isinstance(walk, WalkScreen)
            items = walk.step_tree.items
            await wait_until(
                pilot,
                "the suppression check to run",
                # the walk has reached it (it starts ahead of the walk, with the checks before it)
                lambda: (
                    entered.is_set()
                    and items
                    and items[-1].node == "suppression"
                    and walk.detail.shown is items[-1]
                ),
            )
            await pilot.pause(0.3)  # the detail pane catches up with the running step
            self.save(app, "03-walk-running")

    async def question(self) -> None:
        from maildoctor.tui.screens.walk import WalkScreen

        # without a bounce and a pathway the walk cannot tell how the mail is sent: it asks
        app = self.app("seed-incident", drop=("bounce", "pathway"))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("enter")
            walk = app.screen
            assert isinstance(walk, WalkScreen)
            await wait_until(
                pilot,
                "the pathway question",
                lambda: walk.detail.options is not None and walk.detail.options.has_focus,
            )
            await pilot.pause()
            self.save(app, "04-walk-question")

    async def finished(self) -> None:
        from maildoctor.tui.screens.help import HelpScreen
        from maildoctor.tui.screens.remedy import RemedyScreen
        from maildoctor.tui.screens.walk import WalkScreen
        from maildoctor.tui.widgets.step_tree import StepItem

        app = self.app("seed-incident")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("enter")
            walk = app.screen
            assert isinstance(walk, WalkScreen)
            await wait_until(pilot, "the end of the walk", lambda: walk.session.walk.finished)
            await app.workers.wait_for_complete()
            await pilot.pause()
            app.clear_notifications()  # the notice that the walk finished
            await pilot.press("enter")  # the fix
            await wait_until(pilot, "the remedy", lambda: isinstance(app.screen, RemedyScreen))
            await pilot.pause()
            self.save(app, "06-remedy")
            await pilot.press("b")
            assert app.screen is walk
            # up the tree to the step with the evidence: the CloudTrail history of the deleted key
            for _ in range(len(walk.step_tree.items) * 2):
                shown = walk.detail.shown
                if isinstance(shown, StepItem) and shown.node == "history-stale":
                    break
                await pilot.press("up")
            else:
                raise SystemExit("screenshots: the CloudTrail step is not in the finished walk")
            await pilot.pause()
            self.save(app, "05-walk-finished")
            await pilot.press("question_mark")
            await wait_until(pilot, "the help", lambda: isinstance(app.screen, HelpScreen))
            await pilot.pause()
            self.save(app, "07-help")

    async def audit(self) -> None:
        from maildoctor.tui.screens.audit import AuditScreen
        from maildoctor.tui.screens.walk import WalkScreen

        # the seed incident's account audited: the new key unused since the rotation, the old one in Gmail
        app = self.app("seed-incident", flow="smtp-audit")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("enter")
            walk = app.screen
            assert isinstance(walk, WalkScreen)
            await wait_until(pilot, "the end of the audit", lambda: walk.session.walk.finished)
            await app.workers.wait_for_complete()
            await pilot.pause()
            app.clear_notifications()
            await pilot.press("enter")  # the audit screen
            await wait_until(pilot, "the audit screen", lambda: isinstance(app.screen, AuditScreen))
            await pilot.pause()
            self.save(app, "08-audit")


def to_png(svgs: list[Path]) -> None:
    converter = shutil.which("rsvg-convert")
    if converter is None:
        print(
            "screenshots: warning: rsvg-convert not found (apt install librsvg2-bin): SVG only",
            file=sys.stderr,
        )
        return
    for svg in svgs:
        png = svg.with_suffix(".png")
        # rsvg drops the leading spaces of a <text> (the gap after a bold label) unless told to keep them
        text = svg.read_text(encoding="utf-8").replace("<svg ", '<svg xml:space="preserve" ', 1)
        subprocess.run([converter, "--format", "png", "--output", str(png)], input=text.encode(), check=True)
        print(f"screenshots: {png.relative_to(ROOT)}")


# each shot and the pictures it writes
SHOTS: dict[str, tuple[str, ...]] = {
    "picker": ("01-picker",),
    "form": ("02-form",),
    "running": ("03-walk-running",),
    "question": ("04-walk-question",),
    "finished": ("05-walk-finished", "06-remedy", "07-help"),
    "audit": ("08-audit",),
}


def shots_for(names: list[str]) -> list[str]:
    """The shots that write the pictures ``names`` (all of them for none)."""
    if not names:
        return list(SHOTS)
    unknown = sorted(set(names) - {p for pictures in SHOTS.values() for p in pictures})
    if unknown:
        raise SystemExit(f"screenshots: no picture named {', '.join(unknown)}")
    return [shot for shot, pictures in SHOTS.items() if set(pictures) & set(names)]


async def shoot_all(shooter: Shooter, shots: list[str]) -> None:
    for shot in shots:
        await getattr(shooter, shot)()


def main() -> int:
    # the same colours whoever runs it, and nothing of the user's own state or config
    for name in ("NO_COLOR", "TEXTUAL_THEME"):
        os.environ.pop(name, None)
    from maildoctor.lab import Lab

    names = sys.argv[1:]
    shots = shots_for(names)
    OUT.mkdir(exist_ok=True)
    old = [*OUT.glob("*.svg"), *OUT.glob("*.png")]
    for path in old if not names else [p for p in old if p.stem in names]:
        path.unlink()
    with tempfile.TemporaryDirectory(prefix="maildoctor-screenshots-") as state, Lab() as lab:
        os.environ["MAILDOCTOR_STATE_DIR"] = state
        shooter = Shooter(lab, Path(state))
        shooter.wanted = set(names)
        asyncio.run(shoot_all(shooter, shots))
    shown = [
        svg.name
        for svg in shooter.written
        for secret in shooter.secrets
        if secret in html.unescape(svg.read_text())
    ]
    if shown:
        print(f"screenshots: a secret is on {', '.join(shown)}: not converted", file=sys.stderr)
        return 1
    to_png(sorted(shooter.written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
