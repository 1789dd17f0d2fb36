"""Render a report dict (see report.py) as terminal text, an incident-report Markdown or HTML."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from typing import Any

from maildoctor.report import ranked

ICONS = {"pass": "✔", "warn": "!", "fail": "✘", "error": "?", "skipped": "-", "info": "•"}


def _facts_lines(facts: Mapping[str, Any]) -> list[str]:
    lines = []
    for key, value in facts.items():
        if isinstance(value, str) and "\n" in value:
            continue  # multi-line facts (zone text) are shown in the remedy instead
        if isinstance(value, list | dict):
            value = (
                json.dumps(value, sort_keys=True)
                if len(json.dumps(value)) <= 120
                else f"({len(value)} items)"
            )
        lines.append(f"{key}: {value}")
    return lines


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
    """An incident report: what was wrong, the fix, then the evidence step by step."""
    diagnosis = report["diagnosis"]
    out = [
        f"# Mail delivery diagnosis: {diagnosis['code']}",
        "",
        f"- **Flow:** {report['flow_title']} (`{report['flow']}`)",
        f"- **Started:** {report['started_at']}  **Finished:** {report.get('finished_at') or 'not finished'}",
        f"- **maildoctor:** {report['maildoctor']}"
        + (f"  **Session:** `{report['session']}`" if report.get("session") else ""),
        "",
        "## Inputs",
        "",
    ]
    for key, value in report["inputs"].items():
        shown = value if "\n" not in value else f"({len(value.splitlines())} lines, see below)"
        out.append(f"- `{key}`: `{shown}`")
    out += ["", "## Diagnosis", "", f"**{diagnosis['title']}**", ""]
    if diagnosis.get("summary"):
        out += [diagnosis["summary"], ""]
    unchecked = _unchecked(report)
    if unchecked:
        out += [
            f"**Not checked** ({len(unchecked)}): {', '.join(unchecked)} — the diagnosis may miss a cause there.",
            "",
        ]
    findings = ranked(report["findings"])
    if findings:
        out += ["## Findings (most likely root cause first)", ""]
        for number, finding in enumerate(findings, 1):
            out += [f"### {number}. {finding['title']} (`{finding['code']}`, {finding['severity']})", ""]
            out += [finding["summary"], "", finding["remedy"], ""]
    if report.get("incomplete_reason"):
        out += ["## The walk could not finish", "", report["incomplete_reason"], ""]
    out += ["## Steps", "", "| # | step | status | summary | time |", "|---|---|---|---|---|"]
    for step in report["steps"]:
        summary = step["summary"].replace("|", "\\|").replace("\n", " ")
        out.append(
            f"| {step['index'] + 1} | {step['title']} | {step['status']} | {summary} | {step['duration_ms']} ms |"
        )
    out.append("")
    out += ["## Evidence", ""]
    for step in report["steps"]:
        if step["kind"] != "check":
            continue
        out += [f"### {step['index'] + 1}. {step['title']} — {step['status']}", "", step["summary"], ""]
        facts = _facts_lines(step["facts"])
        if facts:
            out += [f"- {line}" for line in facts] + [""]
        for evidence in step["evidence"]:
            out += [f"**{evidence['title']}**", "", "```", evidence["text"].rstrip(), "```", ""]
        out += [f"_Why: {step['why']}._", ""]
    multiline = {k: v for k, v in report["inputs"].items() if "\n" in v}
    for key, value in multiline.items():
        out += [f"## Input `{key}`", "", "```", value.rstrip(), "```", ""]
    return "\n".join(out).rstrip() + "\n"


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
