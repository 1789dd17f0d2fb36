"""CONTRACT.md's audit JSON, built from the report of an ``smtp-audit`` walk (live or from a transcript),
and its text and markdown forms.

The walk's steps are found by their check (``audit.credentials``, ``audit.rotation_alerts``), not by node
id, so a copy of the flow with other node names reports the same. The verdict is the session's (report.py
``diagnosis_dict``: ``audit-clean`` when clean); the sending pathways are added to its remedy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from maildoctor import __version__

CREDENTIALS_CHECK = "audit.credentials"
ALERTS_CHECK = "audit.rotation_alerts"
ALERT_MISSING = "rotation-alert-missing"
NOT_KNOWN = "not known"


def _facts_of(report: Mapping[str, Any], check: str) -> dict[str, Any]:
    step = next((s for s in report.get("steps", []) if s.get("check") == check), None)
    return dict(step["facts"]) if step else {}


def _credential(c: Mapping[str, Any], unwatched: set[str]) -> dict[str, Any]:
    codes = list(c.get("findings") or [])
    if c.get("user") in unwatched and c.get("status") == "Active":
        codes.append(ALERT_MISSING)
    last = c.get("last_used") or {}
    history = [
        {k: e.get(k) for k in ("time", "event", "key", "status", "actor")} for e in c.get("history") or []
    ]
    return {
        "user": c.get("user"),
        "key_id": c.get("key_id"),
        "status": c.get("status"),
        "created": c.get("created"),
        "last_used": {"when": last.get("when"), "service": last.get("service"), "region": last.get("region")},
        "history": history,
        "findings": codes,
    }


def build(report: Mapping[str, Any]) -> dict[str, Any]:
    """The audit's JSON object (CONTRACT.md "Audit codes"), exactly its keys."""
    creds = _facts_of(report, CREDENTIALS_CHECK)
    alerts = _facts_of(report, ALERTS_CHECK)
    unwatched = set(alerts.get("unwatched") or [])
    diagnosis = report["diagnosis"]
    remedy = diagnosis.get("remedy") or ""
    if creds.get("pathways"):
        remedy = (
            (remedy + "\n\n" if remedy else "") + "**Sending pathways, as found**\n\n" + creds["pathways"]
        )
    return {
        "maildoctor": __version__,
        "account": creds.get("account"),
        "regions": creds.get("regions") or [],
        "credentials": [_credential(c, unwatched) for c in creds.get("credentials") or []],
        "findings": [
            {"code": f["code"], "severity": f["severity"], "summary": f["summary"], "facts": f["facts"]}
            for f in report.get("findings", [])
        ],
        "unchecked": list(report.get("unchecked", [])),
        "diagnosis": {"code": diagnosis["code"], "title": diagnosis["title"], "remedy": remedy},
    }


# ------------------------------------------------------------------------------------------ renderers


def _age(c: Mapping[str, Any]) -> str:
    return NOT_KNOWN if c.get("created") is None else str(c["created"])[:10]


def _last(c: Mapping[str, Any]) -> str:
    last = c["last_used"]
    if not last.get("when"):
        return "never"
    return f"{str(last['when'])[:16].replace('T', ' ')} {last.get('service') or '?'} {last.get('region') or ''}".strip()


def _rows(audit: Mapping[str, Any]) -> list[list[str]]:
    return [
        [
            str(c["user"]),
            str(c["key_id"]),
            str(c["status"]),
            _age(c),
            _last(c),
            ", ".join(c["findings"]) or "-",
        ]
        for c in audit["credentials"]
    ]


HEADER = ["user", "key", "status", "created", "last used", "findings"]


def _columns(rows: list[list[str]]) -> list[str]:
    table = [HEADER, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]


def text(audit: Mapping[str, Any]) -> str:
    """For a terminal: the keys as a table, the findings, what was not checked, the verdict."""
    lines = [
        f"maildoctor audit {audit['maildoctor']}: account {audit['account'] or NOT_KNOWN}, "
        f"regions {', '.join(audit['regions']) or NOT_KNOWN}",
        "",
    ]
    lines += _columns(_rows(audit)) if audit["credentials"] else ["(no SES SMTP credentials found)"]
    lines.append("")
    for f in audit["findings"]:
        lines.append(f"✗ {f['code']} ({f['severity']}): {f['summary']}")
    for u in audit["unchecked"]:
        lines.append(f"? not checked: {u['title']}: {u['reason']}")
    d = audit["diagnosis"]
    lines += ["", f"diagnosis: {d['code']} — {d['title']}"]
    if d["remedy"]:
        lines += ["", d["remedy"]]
    return "\n".join(lines).rstrip() + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def markdown(audit: Mapping[str, Any], fixes: list[tuple[str, str]] | None = None) -> str:
    """The audit as a report for a ticket: verdict and fix first, then the keys, findings, the other
    findings' fixes (``fixes``: code and remedy, the diagnosis' own left out), unchecked."""
    d = audit["diagnosis"]
    out = [
        "# SES SMTP credential audit",
        "",
        f"Account `{audit['account'] or NOT_KNOWN}`, regions {', '.join(f'`{r}`' for r in audit['regions'])}; "
        f"maildoctor {audit['maildoctor']}.",
        "",
        f"## Diagnosis: `{d['code']}`",
        "",
        d["title"],
        "",
    ]
    if d["remedy"]:
        out += [d["remedy"], ""]
    out += ["## Credentials", ""]
    if audit["credentials"]:
        out += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in _rows(audit)]
    else:
        out.append("No SES SMTP credentials found.")
    out += ["", "## Findings", ""]
    out += [f"- `{f['code']}` ({f['severity']}): {_cell(f['summary'])}" for f in audit["findings"]] or [
        "None."
    ]
    for code, remedy in fixes or []:
        if code != d["code"] and remedy:
            out += ["", f"## Fix: `{code}`", "", remedy]
    if audit["unchecked"]:
        out += ["", "## Not checked", ""]
        out += [f"- {u['title']}: {_cell(u['reason'])}" for u in audit["unchecked"]]
    return "\n".join(out).rstrip() + "\n"


def render(fmt: str, report: Mapping[str, Any]) -> str:
    """The audit of an ``smtp-audit`` walk's report as ``fmt``: text, json or markdown."""
    audit = build(report)
    if fmt == "json":
        return json.dumps(audit, indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return markdown(audit, [(f["code"], f.get("remedy") or "") for f in report.get("findings", [])])
    return text(audit)


FORMATS = ("text", "json", "markdown")
