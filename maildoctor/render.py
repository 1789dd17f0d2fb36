"""Render a report dict (see report.py) as terminal text, an incident-report Markdown or HTML."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from maildoctor.report import ranked

ICONS = {"pass": "✔", "warn": "!", "fail": "✘", "error": "?", "skipped": "-", "info": "•"}


def _unchecked(report: Mapping[str, Any]) -> list[str]:
    """Titles of the steps whose check could not run (status error)."""
    return [s["title"] for s in report["steps"] if s["status"] == "error"]


def to_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def to_text(report: Mapping[str, Any]) -> str:
    out = [f"maildoctor {report['maildoctor']} · {report['flow_title']} ({report['flow']})"]
    if report["inputs"]:
        out.append("inputs: " + ", ".join(f"{k}={v}" for k, v in report["inputs"].items() if "\n" not in v))
    out.append("")
    layer = None
    for step in report["steps"]:
        if step["layer"] and step["layer"] != layer:
            layer = step["layer"]
            out.append(f"[{layer}]")
        if step["kind"] == "remedy":  # its check's line above already says what was found
            out.append(f"      ↳ finding {step['outcome']}: {step['title']}")
            continue
        icon = ICONS.get(step["status"], "?")
        out.append(f"  {icon} {step['title']}: {step['summary']}  ({step['duration_ms']} ms)")
    out.append("")
    diagnosis = report["diagnosis"]
    out.append(f"Diagnosis: {diagnosis['code']} — {diagnosis['title']}")
    if diagnosis.get("summary"):
        out.append(f"  {diagnosis['summary']}")
    unchecked = _unchecked(report)
    if unchecked:
        out.append(
            f"  Not checked ({len(unchecked)}): {', '.join(unchecked)} — the diagnosis may miss a cause there"
        )
    findings = ranked(report["findings"])
    for number, finding in enumerate(findings, 1):
        out.append("")
        out.append(f"{number}. [{finding['severity']}] {finding['code']}: {finding['summary']}")
        for line in finding["remedy"].splitlines():
            out.append(f"   {line}" if line else "")
    if report.get("incomplete_reason"):
        out.append("")
        out.append(f"The walk could not finish: {report['incomplete_reason']}")
    return "\n".join(out).rstrip() + "\n"


def to_markdown(report: Mapping[str, Any]) -> str:
    """An incident report for a ticket: the diagnosis, the findings and their fix first (about a
    screenful), then one table row per step, then each step's facts and evidence, each piece once.

    Everything that came from the bounce or the world is escaped (see ``md_text`` and ``fenced``), so
    that a bounce holding HTML or markdown renders as the text it is."""
    out = _md_head(report) + _md_findings(report) + _md_steps_table(report) + _md_evidence(report)
    out += _md_multiline_inputs(report)
    return "\n".join(out).rstrip() + "\n"


def _md_head(report: Mapping[str, Any]) -> list[str]:
    diagnosis = report["diagnosis"]
    out = [
        f"# Mail delivery diagnosis: {md_text(diagnosis['code'])}",
        "",
        f"**{md_text(diagnosis['title'])}**",
    ]
    if diagnosis.get("summary"):
        out += ["", md_text(diagnosis["summary"])]
    finished = report.get("finished_at") or "not finished"
    session = f" · session {md_code(report['session'])}" if report.get("session") else ""
    out += [
        "",
        f"{md_text(report['flow_title'])} ({md_code(report['flow'])}) · {report['started_at']} → {finished}"
        f" · maildoctor {report['maildoctor']}{session}",
    ]
    if report["inputs"]:
        out += ["", "**Inputs:** " + " · ".join(_md_input(k, v) for k, v in report["inputs"].items())]
    if report.get("incomplete_reason"):
        out += ["", f"**The walk could not finish:** {md_text(report['incomplete_reason'])}"]
    return [*out, "", *_md_unchecked(report)]


def _md_input(key: str, value: str) -> str:
    if "\n" in value:
        return f"{md_text(key)}: {len(value.splitlines())} lines, at the end"
    return f"{md_text(key)} {md_value(value)}"


def _md_unchecked(report: Mapping[str, Any]) -> list[str]:
    """The steps that could not check, with why: the diagnosis may miss a cause there."""
    unchecked = [s for s in report["steps"] if s["status"] == "error"]
    if not unchecked:
        return []
    titles = ", ".join(md_text(s["title"]) for s in unchecked)
    out = [f"**Not checked** ({len(unchecked)}): {titles} — the diagnosis may miss a cause there:", ""]
    out += [f"- {md_text(s['title'])}: {md_text(s['summary'])}" for s in unchecked]
    return [*out, ""]


def _md_findings(report: Mapping[str, Any]) -> list[str]:
    findings = ranked(report["findings"])
    if not findings:
        return []
    out = ["## Findings (most likely root cause first)", ""]
    in_steps = _facts_in_steps(report)
    for number, finding in enumerate(findings, 1):
        out += [
            f"### {number}. {md_text(finding['title'])} ({md_code(finding['code'])}, {finding['severity']})",
            "",
        ]
        if finding["summary"] != report["diagnosis"].get("summary"):  # the top one's is the diagnosis's
            out += [md_text(finding["summary"]), ""]
        facts = _md_facts_line(finding["facts"], skip=in_steps)
        if facts:
            out += [facts, ""]
        if finding["remedy"].strip():
            out += [finding["remedy"].rstrip(), ""]  # the flow's own markdown, as written
        out += _md_finding_texts(finding, in_steps)
    return out


def _md_finding_texts(finding: Mapping[str, Any], in_steps: Mapping[str, Any]) -> list[str]:
    """A finding's multi-line facts that neither a step nor its fix shows already."""
    out = []
    for key, value in finding["facts"].items():
        if _is_multiline(value) and in_steps.get(key) != value and value.strip() not in finding["remedy"]:
            out += [f"{md_text(key)}:", "", *fenced(value.strip()), ""]
    return out


def _facts_in_steps(report: Mapping[str, Any]) -> dict[str, Any]:
    """Facts shown under the steps already: a finding's copy of them is not shown again."""
    shown: dict[str, Any] = {}
    for step in report["steps"]:
        shown.update(step["facts"])
    return shown


def _md_steps_table(report: Mapping[str, Any]) -> list[str]:
    out = ["## Steps", "", "| # | layer | | step | summary | why | time |", "|--:|---|:-:|---|---|---|--:|"]
    for step in report["steps"]:
        cells = [
            str(step["index"] + 1),
            md_cell(step["layer"] or ""),
            ICONS.get(step["status"], "?"),
            md_cell(step["title"]),
            md_cell(step["summary"]),
            md_cell(step["why"] or ""),
            f"{step['duration_ms']} ms",
        ]
        out.append("| " + " | ".join(cells) + " |")
    return [*out, ""]


# Steps with these statuses found something or could not check: their evidence is what a reader of the
# ticket goes through, so it is shown in full. The others name theirs (the JSON export holds every text).
IN_FULL = {"fail", "warn", "error"}


def _md_evidence(report: Mapping[str, Any]) -> list[str]:
    """Per step, its non-empty facts and its evidence, each text once: a text shown already (by an
    earlier piece, or as written in a finding's fix) is named, not repeated. Steps that passed name their
    evidence instead of showing it, to keep the report short."""
    export = "the JSON export"
    if report.get("session"):
        export += f" (`maildoctor transcript export {report['session']} --format json`)"
    out = [
        "## Evidence",
        "",
        f"Steps that found a problem or could not check show their evidence in full; the others name it, "
        f"and {export} holds every text.",
        "",
    ]
    shown = _Shown(report)
    for step in report["steps"]:
        if step["kind"] in ("remedy", "end"):
            continue  # a remedy's content is its finding above; the end says nothing more
        lines = _md_step_evidence(step, shown)
        if out[-1].startswith("- **") and not (lines and lines[0].startswith("- **")):
            out.append("")  # a list of passed steps ends before the next heading
        out += lines
    return [*out, ""] if out[-1] else out


def _md_step_evidence(step: Mapping[str, Any], shown: _Shown) -> list[str]:
    number = step["index"] + 1
    facts = {k: v for k, v in step["facts"].items() if not _empty(v)}
    named = [(e["title"], e["text"].rstrip()) for e in step["evidence"]]
    named += [(f"fact {k}", v.strip()) for k, v in facts.items() if _is_multiline(v)]
    in_full = step["status"] in IN_FULL
    pieces, repeats, titles = [], [], []
    for title, text in named:
        earlier = shown.where(text)
        if earlier:
            repeats.append(_same_as(title, *earlier))
        elif in_full:
            shown.add(text, f"step {number}", title)
            pieces.append((title, _compact_json_tail(text)))
        else:
            titles.append(f"{md_text(title)} ({_lines(text)})")
    line = _md_facts_line(facts)
    named_only = "evidence: " + " · ".join(titles) if titles else ""
    said = [text for text in [line, named_only, " · ".join(repeats)] if text]
    head = f"{number}. {md_text(step['title'])} {ICONS.get(step['status'], '?')} {step['status']}"
    if not in_full:  # a step that passed: one line of a list
        return [
            f"- **{head}**"
            + "".join(f" — {text}" for text in said[:1])
            + "".join(f" · {t}" for t in said[1:])
        ]
    out = [f"### {head}", *(f"- {text}" for text in said)]
    if pieces:
        out += fenced(_evidence_block(pieces))
    return [*out, ""]


def _lines(text: str) -> str:
    count = len(text.splitlines())
    return f"{count} line{'s' if count != 1 else ''}"


class _Shown:
    """Where each text was first shown: a step's evidence, or a finding's fix (as written there)."""

    def __init__(self, report: Mapping[str, Any]) -> None:
        self.first: dict[str, tuple[str, str]] = {}  # text -> (where, its title there)
        self.remedies = [
            (number, f["remedy"]) for number, f in enumerate(ranked(report["findings"]), 1) if f["remedy"]
        ]

    def where(self, text: str) -> tuple[str, str] | None:
        if text in self.first:
            return self.first[text]
        for number, remedy in self.remedies:
            if len(text) > 40 and text in remedy:  # short texts are in many places by chance
                return f"the fix of finding {number} above", ""
        return None

    def add(self, text: str, where: str, title: str) -> None:
        self.first[text] = (where, title)


def _same_as(title: str, where: str, first_title: str) -> str:
    """``same as step 3: GetEmailIdentity …``, naming this piece too when it had another title there."""
    if not first_title:
        return f"{md_text(title)}: same as {where}"
    if first_title == title:
        return f"same as {where}: {md_text(title)}"
    return f"{md_text(title)}: same as {where}: {md_text(first_title)}"


def _evidence_block(pieces: list[tuple[str, str]]) -> str:
    """Several evidence texts in one block, each under a ``──`` line with its title."""
    return "\n".join(f"── {title}\n{text}" for title, text in pieces)


def _md_multiline_inputs(report: Mapping[str, Any]) -> list[str]:
    out = []
    for key, value in report["inputs"].items():
        if "\n" in value:
            out += [f"## Input {md_code(key)}", "", *fenced(value.rstrip()), ""]
    return out


def _md_facts_line(facts: Mapping[str, Any], skip: Mapping[str, Any] | None = None) -> str:
    """``key: `value` · …`` for every fact that says something (multi-line ones go in the block)."""
    skip = skip or {}
    shown = [
        f"{md_text(key)}: {md_value(_fact_value(value))}"
        for key, value in facts.items()
        if not _empty(value) and not _is_multiline(value) and not (key in skip and skip[key] == value)
    ]
    return " · ".join(shown)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict | tuple) and not value)


def _is_multiline(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value.strip()


def _fact_value(value: Any) -> str:
    """A fact as it reads: strings as they are, everything else (lists and dicts in full) as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _compact_json_tail(text: str) -> str:
    """An evidence text that ends in a pretty-printed JSON document, with that document on one line.

    Only whitespace between tokens is dropped (checked by parsing both), so nothing is lost; the JSON
    export keeps the text as it was."""
    lines = text.splitlines()
    for start, line in enumerate(lines):
        if line in ("{", "[") and start < len(lines) - 1:
            tail = "\n".join(lines[start:])
            joined = " ".join(part.strip() for part in lines[start:])
            try:
                if json.loads(tail) == json.loads(joined):
                    return "\n".join([*lines[:start], joined])
            except ValueError:
                return text
            break
    return text


# --- escaping: every text from the bounce or the world --------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*\[\]|~])")
_HTML_CHARS = re.compile(r"[<>&]")
_LONE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")  # intraword `_` emphasises nothing
_BLOCK_START = re.compile(r"^(\s*(?:\d+(?=[.)]))?)([#+=.)-])", re.MULTILINE)  # a heading, list or rule


def md_text(text: str) -> str:
    """Text shown as prose: HTML escaped, markdown's specials backslashed, so it renders as itself."""
    text = html.escape(str(text), quote=False)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _LONE_UNDERSCORE.sub(r"\\_", text)
    return _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def md_value(text: str) -> str:
    """A value: a code span, or escaped text when it holds HTML's characters (a code span shows them
    raw in the markdown, and a renderer that passes HTML through might not keep them text)."""
    return md_text(" ".join(text.split("\n"))) if _HTML_CHARS.search(text) else md_code(text)


def md_cell(text: str) -> str:
    """A table cell: escaped text on one line (``|`` is escaped by ``md_text``)."""
    return " ".join(md_text(text).split())


def md_code(text: str) -> str:
    """An inline code span that no backtick in ``text`` can close; new lines become spaces."""
    text = " ".join(str(text).split("\n"))
    run = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{run}{pad}{text}{pad}{run}"


def fenced(text: str, info: str = "text") -> list[str]:
    """A fenced block whose fence is longer than any backtick run in ``text``."""
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return [fence + info, text, fence]


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def to_html(report: Mapping[str, Any]) -> str:
    """The Markdown report as a self-contained HTML page."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(to_markdown(report))
    title = html.escape(f"maildoctor: {report['diagnosis']['code']} ({report['flow']})")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
        "pre{background:#f4f4f4;padding:.6rem;overflow-x:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}"
    )
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{style}</style></head>\n<body>\n{body}</body></html>\n"
    )


FORMATS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "text": to_text,
    "json": to_json,
    "markdown": to_markdown,
    "html": to_html,
}
