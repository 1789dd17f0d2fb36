"""The audit: one row per SMTP key (user, key, status, age, last use, findings), the selected key's
evidence and its rotation runbook beside the table (below it, in one pane that scrolls, when narrow).

Everything shown comes from the walk's report (the ``audit.credentials`` step's facts, the
``audit.rotation_alerts`` step's facts and the findings), so a transcript holds the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Markdown, Static

from maildoctor.checks.common import parse_time, stamp, utc_now
from maildoctor.flow.commands import shell_commands
from maildoctor.tui import display
from maildoctor.tui.bindings import KeyNames, binding
from maildoctor.tui.messages import FindingsRequested
from maildoctor.tui.session import WalkSession
from maildoctor.tui.widgets.header import header

AUDIT_CHECK = "audit.credentials"  # the step whose facts are the audit's rows
ALERTS_CHECK = "audit.rotation_alerts"
ALERT_MISSING = "rotation-alert-missing"
SIDE_BY_SIDE = 110  # from this width on, the evidence and the runbook are two panes side by side
WIDE_COLUMNS = ("User", "Key", "Status", "Age", "Last use", "Findings")
COMPACT_COLUMNS = ("Key · user", "State", "Findings")
TABLE_CHROME = 2  # the table's scrollbar and a column of slack
FOUND_BY = {
    "send-permission": "the user may ses:SendRawEmail (IAM policy simulation)",
    "console-user": "made by the SES console (an ses-smtp-user.* user)",
    "ses-use": "its keys were last used with SES",
}


def is_audit(session: WalkSession) -> bool:
    """A walk that audits SMTP credentials (its finish opens the audit screen, not the remedy)."""
    return any(step.check == AUDIT_CHECK for step in session.walk.steps)


def step_facts(steps: Iterable[Mapping[str, Any]], check: str) -> dict[str, Any]:
    """The facts of the report's last step that ran ``check`` (empty when none did)."""
    found: dict[str, Any] = {}
    for step in steps:
        if step.get("check") == check:
            found = dict(step.get("facts") or {})
    return found


# -- cells: short, relative times (the evidence's history keeps CloudTrail's own times)


def since(when: str | None, now: datetime) -> str:
    """``2 h ago``, ``3 d ago``; ``never`` without a time."""
    moment = parse_time(when) if when else None
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{round(seconds / 60)} min ago"
    if seconds < 86400 - 1800:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} d ago"


def age(days: object) -> str:
    return f"{days} d" if isinstance(days, int) else "—"


def where_used(cred: Mapping[str, Any]) -> str:
    """The last use's service and region (``ses us-east-1``), or '' when never used."""
    used = cred.get("last_used") or {}
    return " ".join(str(v) for v in (used.get("service"), used.get("region")) if v)


def findings_cell(cred: Mapping[str, Any]) -> Text:
    codes = list(cred.get("findings") or [])
    if not codes:
        return Text(f"{display.ICONS['pass']} none", style="dim", end="")
    return Text("\n".join(codes), style="bold", end="")


def wide_cells(cred: Mapping[str, Any], now: datetime, between: str = " · ") -> list[Text]:
    """A column each; ``between`` joins the last use's time and place (a new line: a narrower table)."""
    when = since((cred.get("last_used") or {}).get("when"), now)
    used = between.join(p for p in (when, where_used(cred)) if p)
    cells = [cred.get("user"), cred.get("key_id"), cred.get("status"), age(cred.get("age_days")), used]
    return [*(Text(str(c or "—"), end="") for c in cells), findings_cell(cred)]


def compact_cells(cred: Mapping[str, Any], now: datetime) -> list[Text]:
    """Three columns, a few lines each: what fits 80 columns without cutting a word."""
    key = f"{cred.get('key_id') or '—'}\n{cred.get('user') or '—'}"
    when = since((cred.get("last_used") or {}).get("when"), now)
    state = [
        f"{cred.get('status') or '—'} · {age(cred.get('age_days'))}",
        "never used" if when == "never" else f"used {when}",
    ]
    if where_used(cred):
        state.append(where_used(cred))
    return [Text(key, end=""), Text("\n".join(state), end=""), findings_cell(cred)]


def needed_width(columns: tuple[str, ...], rows: list[list[Text]]) -> int:
    """The width a table of these cells takes (DataTable pads each cell by one on each side)."""
    widths = [len(label) for label in columns]
    for row in rows:
        for n, cell in enumerate(row):
            widths[n] = max(widths[n], *(len(line) for line in cell.plain.splitlines() or [""]))
    return sum(widths) + 2 * len(columns) + TABLE_CHROME


# -- the evidence and the runbook, as Markdown


def history_lines(history: Iterable[Mapping[str, Any]]) -> list[str]:
    """CloudTrail's key events as the remedy's timeline says them: time, event, key, → status, actor."""
    lines = []
    for event in history:
        moment = parse_time(event.get("time"))
        when = stamp(moment) if moment else str(event.get("time") or "—")
        change = (
            f" → {event['status']}" if event.get("event") == "UpdateAccessKey" and event.get("status") else ""
        )
        lines.append(
            f"{when}  {event.get('event')} {event.get('key')}{change} by {event.get('actor') or '—'}"
        )
    return lines


def alert_line(user: str, alerts: Mapping[str, Any], finding_keys: str) -> str:
    """Whether a rotation of ``user``'s keys would be noticed, from the alerts step's facts
    (``finding_keys``: the key that opens every finding, where the rule's commands are)."""
    if not alerts:
        return "not checked (the walk did not read the EventBridge rules)"
    region = alerts.get("region") or "us-east-1"
    if user in (alerts.get("unwatched") or []):
        return (
            f"no enabled EventBridge rule in {region} fires on `{user}`'s key events: "
            f"**{ALERT_MISSING}** ({finding_keys} shows its rule and commands)"
        )
    if user in (alerts.get("cannot_tell") or []):
        return f"a rule in {region} may fire on `{user}`'s key events: its pattern cannot be judged ahead"
    if user in (alerts.get("watched") or []):
        watching = [r.get("name") for r in alerts.get("rules") or [] if user in (r.get("watches") or [])]
        return f"watched in {region} by {', '.join(f'`{n}`' for n in watching) or 'an enabled rule'}"
    return "not checked"


def evidence_markdown(
    cred: Mapping[str, Any],
    summaries: Mapping[str, str],
    alerts: Mapping[str, Any],
    now: datetime,
    finding_keys: str,
) -> str:
    """The selected key's evidence: its state, its findings with the walk's summaries, the key it
    replaced, how it was found, the send decision, the rotation alert and CloudTrail's history."""
    used = cred.get("last_used") or {}
    last = (
        f"last used {since(used.get('when'), now)} with {used.get('service') or '—'} in {used.get('region') or '—'}"
        if used.get("when")
        else "never used"
    )
    parts = [
        f"## `{cred.get('key_id')}` of `{cred.get('user')}`",
        f"{cred.get('status')} · created {since(cred.get('created'), now)} · {last}",
    ]
    codes = list(cred.get("findings") or [])
    if codes:
        parts.append("**Findings**\n\n" + "\n".join(f"- **{c}**: {summaries.get(c, c)}" for c in codes))
    else:
        parts.append("**Findings**: none (in use, and not due for rotation)")
    replaced = list(cred.get("replaced_keys") or [])
    if replaced:
        olds = ", ".join(f"`{k}`" for k in replaced)
        if cred.get("ses_use_since_created") is False:
            parts.append(
                f"**A client still holds** {olds}: this key replaced it, and has no SES use recorded since"
            )
        else:
            parts.append(f"**Replaced** {olds}, and is in use since")
    found_by = [FOUND_BY.get(str(w), str(w)) for w in cred.get("found_by") or []]
    parts.append("**How it was found**: " + ("; ".join(found_by) or "—"))
    parts.append(f"**Send decision**: {cred.get('send_decision') or 'not known'}")
    parts.append("**Rotation alert**: " + alert_line(str(cred.get("user")), alerts, finding_keys))
    timeline = history_lines(cred.get("history") or [])
    if timeline:
        parts.append("**Key history** (CloudTrail, 90 days)\n\n```text\n" + "\n".join(timeline) + "\n```")
    else:
        parts.append("**Key history** (CloudTrail, 90 days): no key events")
    return "\n\n".join(parts) + "\n"


def runbook_markdown(cred: Mapping[str, Any]) -> str:
    """The key's rotation runbook as the walk wrote it, under a heading."""
    runbook = cred.get("runbook") or "(no runbook: the walk did not write one for this key)"
    return f"## Rotation runbook of `{cred.get('key_id')}`\n\n{runbook}\n"


class AuditScreen(Screen[None]):
    """Dismissed when the operator goes back to the walk. PageUp/PageDown page the runbook whatever has
    focus (the table is short; the runbook is what is read)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        binding("maildoctor.back", "back"),
        binding("maildoctor.copy", "copy", "Copy runbook"),
        binding("maildoctor.copy_code", "copy_code", show=False),  # the headline names it: 80 columns
        binding("maildoctor.findings", "findings"),
        binding("maildoctor.page_down", "page_runbook(1)", show=False, priority=True),
        binding("maildoctor.page_up", "page_runbook(-1)", show=False, priority=True),
    ]

    def __init__(self, session: WalkSession, keys: KeyNames | None = None) -> None:
        super().__init__()
        self.session = session
        self.keys = keys or KeyNames()
        data = session.report()  # redacted by the session
        self.facts = step_facts(data["steps"], AUDIT_CHECK)
        self.alerts = step_facts(data["steps"], ALERTS_CHECK)
        self.credentials: list[dict[str, Any]] = list(self.facts.get("credentials") or [])
        self.findings: list[dict[str, Any]] = list(data["findings"])
        self.summaries = {f["code"]: f["summary"] for f in self.findings}
        self.now = utc_now()
        self.table_layout: int | None = None  # the table's layout, chosen by the width
        self._shown: int | None = None

    def compose(self) -> ComposeResult:
        yield header()
        yield Static(self._headline(), id="audit-headline")
        yield DataTable(id="audit-keys", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="audit-body"):
            with VerticalScroll(id="audit-evidence"):
                yield Markdown(id="audit-evidence-text")
            with VerticalScroll(id="audit-runbook"):
                yield Markdown(id="audit-runbook-text")
        yield Footer()

    async def on_mount(self) -> None:
        self.sub_title = self.session.walk.flow.title
        self._layout(self.app.size.width)
        table = self.query_one("#audit-keys", DataTable)
        table.focus()
        await self._show(0)

    def on_resize(self, event: Resize) -> None:
        self._layout(event.size.width)

    # -- layout

    def _layout(self, width: int) -> None:
        """Side by side when wide; narrow: one pane (the body) scrolls the evidence, then the runbook."""
        narrow = width < SIDE_BY_SIDE
        self.set_class(narrow, "-narrow")
        self.query_one("#audit-body").can_focus = narrow
        for pane in ("#audit-evidence", "#audit-runbook"):
            self.query_one(pane).can_focus = not narrow
        room = width - (0 if narrow else 2)  # the table's margins
        layouts = [
            (WIDE_COLUMNS, [wide_cells(c, self.now) for c in self.credentials]),
            (WIDE_COLUMNS, [wide_cells(c, self.now, "\n") for c in self.credentials]),
            (COMPACT_COLUMNS, [compact_cells(c, self.now) for c in self.credentials]),
        ]
        # the first that fits (the last, at worst): a table wider than the screen would cut its words
        chosen = next((n for n, (cols, rows) in enumerate(layouts) if needed_width(cols, rows) <= room), 2)
        if chosen != self.table_layout:
            self.table_layout = chosen
            self._fill(*layouts[chosen])

    def _fill(self, columns: tuple[str, ...], rows: list[list[Text]]) -> None:
        table = self.query_one("#audit-keys", DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        table.add_columns(*columns)
        for number, cells in enumerate(rows):
            table.add_row(*cells, key=str(number), height=None)
        if rows:
            table.move_cursor(row=min(row, len(rows) - 1))

    # -- what it shows

    def _key(self, name: str) -> str:
        return self.keys.shown(f"maildoctor.{name}", first=True)

    def _headline(self) -> Content:
        verdict = self.session.verdict()
        users = len(self.facts.get("users") or [])
        keys = len(self.credentials)
        counted = f"{keys} key{'s' if keys != 1 else ''}, {users} SMTP user{'s' if users != 1 else ''}"
        parts: list[str | tuple[str, str]]
        if verdict.findings:
            parts = [
                (f"{display.ICONS['fail']} Most likely root cause: ", "$error bold"),
                (verdict.code, "bold"),
                f" — {verdict.title}\n",
            ]
            counted += f", {verdict.findings} finding{'s' if verdict.findings != 1 else ''}"
        elif verdict.inconclusive or not verdict.complete:
            parts = [(f"{display.ICONS['error']} Inconclusive: ", "magenta bold"), f"{verdict.title}\n"]
        else:
            parts = [
                (f"{display.ICONS['pass']} ", "$success bold"),
                (verdict.code, "bold"),
                f" — {verdict.title}\n",
            ]
        copy = f"{self._key('copy')} copies a key's runbook, {self._key('copy_code')} its commands"
        parts.append((f"{counted} · {copy}", "dim"))
        if verdict.unchecked:
            titles = ", ".join(u["title"] for u in verdict.unchecked)
            parts.append((f"\nNot checked ({len(verdict.unchecked)}): {titles}", "magenta"))
        if self.session.walk.incomplete_reason:
            parts.append((f"\nThe walk did not finish: {self.session.walk.incomplete_reason}", "magenta"))
        if not self.credentials:
            parts.append(("\nNo SMTP credential was found: no key to show.", "bold"))
        return Content.assemble(*parts)

    async def _show(self, index: int) -> None:
        if not self.credentials or index == self._shown:
            return
        self._shown = index
        cred = self.credentials[index]
        evidence = evidence_markdown(cred, self.summaries, self.alerts, self.now, self._key("findings"))
        await self.query_one("#audit-evidence-text", Markdown).update(evidence)
        await self.query_one("#audit-runbook-text", Markdown).update(runbook_markdown(cred))
        for pane in ("#audit-body", "#audit-evidence", "#audit-runbook"):
            self.query_one(pane, VerticalScroll).scroll_home(animate=False)

    @property
    def selected(self) -> dict[str, Any] | None:
        if not self.credentials:
            return None
        row = self.query_one("#audit-keys", DataTable).cursor_row
        return self.credentials[min(max(row, 0), len(self.credentials) - 1)]

    @on(DataTable.RowHighlighted, "#audit-keys")
    async def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        await self._show(event.cursor_row)

    @on(DataTable.RowSelected, "#audit-keys")
    def _selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row: into its runbook, to read it with the arrows."""
        self.query_one("#audit-body" if self.has_class("-narrow") else "#audit-runbook").focus()

    # -- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("copy", "copy_code"):
            return bool(self.credentials)
        if action == "findings":
            return bool(self.findings)
        return True

    def action_back(self) -> None:
        self.dismiss(None)

    def action_findings(self) -> None:
        self.post_message(FindingsRequested())

    def action_page_runbook(self, pages: int) -> None:
        pane = self.query_one(
            "#audit-body" if self.has_class("-narrow") else "#audit-runbook", VerticalScroll
        )
        if pages > 0:
            pane.scroll_page_down(animate=False)
        else:
            pane.scroll_page_up(animate=False)

    def action_copy(self) -> None:
        cred = self.selected
        if cred is None or not cred.get("runbook"):
            return
        runbook = str(cred["runbook"])
        self.app.copy_to_clipboard(runbook)
        lines = len(runbook.splitlines())
        self.notify(f"Copied the runbook of {cred.get('key_id')} ({lines} lines) to the clipboard.")

    def action_copy_code(self) -> None:
        cred = self.selected
        if cred is None:
            return
        commands = shell_commands(str(cred.get("runbook") or ""))
        if not commands:
            self.notify(
                f"The runbook of {cred.get('key_id')} has no shell commands to copy; "
                f"{self._key('copy')} copies the whole runbook.",
                severity="warning",
            )
            return
        self.app.copy_to_clipboard(commands)
        lines = len(commands.splitlines())
        self.notify(
            f"Copied the shell commands of the runbook of {cred.get('key_id')} ({lines} lines) to the clipboard."
        )
