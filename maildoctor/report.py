"""The session report: one JSON-safe dict (CONTRACT.md's shape) that every output is rendered from.

Headless output, transcripts and exports all go through ``Redactor`` here, so a secret input's value
cannot reach any of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from maildoctor import __version__
from maildoctor.engine import Finding, Step, Walk

SECRET = "[secret]"
ALL_CLEAR = "all-clear"
INCONCLUSIVE = "inconclusive"
AUDIT_CLEAN = "audit-clean"
# A flow whose clean verdict has a code of its own (CONTRACT.md's audit); every other flow's is all-clear.
CLEAN_VERDICTS = {"smtp-audit": (AUDIT_CLEAN, "Every SMTP credential found is in use, recently rotated, and "
                                 "watched by a rotation alert")}  # fmt: skip
CLEAN_CODES = frozenset({ALL_CLEAR, AUDIT_CLEAN})
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


class Redactor:
    """Replaces secret values wherever they appear, also inside longer strings (an SMTP dialogue)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # longest first, so a secret that contains another is replaced whole
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, value: Any) -> Any:
        if not self.secrets:
            return value
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, SECRET)
            return value
        if isinstance(value, Mapping):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value


def secret_names(walk: Walk) -> set[str]:
    return {name for name, spec in walk.flow.inputs.items() if spec.secret}


def redactor_for(walk: Walk) -> Redactor:
    return Redactor(walk.inputs[name] for name in secret_names(walk) if walk.inputs.get(name))


def shown_inputs(walk: Walk) -> dict[str, str]:
    secrets = secret_names(walk)
    return {k: (SECRET if k in secrets else v) for k, v in walk.inputs.items() if v}


def step_dict(step: Step) -> dict[str, Any]:
    return {
        "index": step.index,
        "node": step.node,
        "kind": step.kind,
        "title": step.title,
        "layer": step.layer,
        "check": step.check,
        "status": step.status,
        "outcome": step.outcome,
        "summary": step.summary,
        "facts": step.facts,
        "evidence": [e.to_dict() for e in step.evidence],
        "answered_by": step.answered_by,
        "next": step.next,
        "why": step.why,
        "started_at": step.started_at,
        "duration_ms": step.duration_ms,
    }


def finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code,
        "severity": finding.severity,
        "title": finding.title,
        "summary": finding.summary,
        "facts": finding.facts,
        "remedy": finding.remedy,
        "node": finding.node,
        "layer": finding.layer,
        "rank": finding.rank,
        "step_index": finding.step_index,
        "cause_index": finding.cause_index,
        "cause_node": finding.cause_node,
    }


def rank_key(finding: Mapping[str, Any]) -> tuple[int, int, int]:
    """Most likely root cause first: worst severity, then the flow's rank, then the order found."""
    return (SEVERITY_ORDER.get(finding["severity"], 9), finding.get("rank", 50), finding.get("step_index", 0))


def ranked(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(findings, key=rank_key)


def unchecked_list(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """CONTRACT.md's ``unchecked``: every step that could not check what it exists to check."""
    return [
        {"node": s["node"], "title": s["title"], "reason": s["summary"].removeprefix("could not check: ")}
        for s in steps
        if s["status"] == "error" and s["kind"] == "check"
    ]


def diagnosis_dict(
    findings: list[dict[str, Any]], steps: list[dict[str, Any]], complete: bool, flow: str = ""
) -> dict[str, Any]:
    """The verdict, decided here for every surface: the most likely root cause among the findings;
    ``inconclusive`` when nothing was found but some step could not check; ``all-clear`` (the audit's
    ``audit-clean``, by ``flow``) only when every step that ran checked and the walk finished."""
    if findings:
        top = ranked(findings)[0]
        return {
            "code": top["code"],
            "title": top["title"],
            "summary": top["summary"],
            "remedy": top["remedy"],
        }
    unchecked = unchecked_list(steps)
    if unchecked:
        count = len(unchecked)
        return {
            "code": INCONCLUSIVE,
            "title": f"No problem found, but {count} step{'s' if count != 1 else ''} could not check",
            "summary": "; ".join(f"{u['title']}: {u['reason']}" for u in unchecked),
            "remedy": "",
        }
    if not complete:
        return {"code": INCONCLUSIVE, "title": "No problem found, but the walk did not finish", "summary": "",
                "remedy": ""}  # fmt: skip
    code, title = CLEAN_VERDICTS.get(flow, (ALL_CLEAR, "Every layer checked passed"))
    return {"code": code, "title": title, "summary": "", "remedy": ""}


def header_dict(walk: Walk, session: str = "") -> dict[str, Any]:
    return {
        "maildoctor": __version__,
        "session": session,
        "flow": walk.flow.name,
        "flow_title": walk.flow.title,
        "inputs": shown_inputs(walk),
        "region_from": region_from(walk),
        "started_at": walk.started_at,
    }


def region_from(walk: Walk) -> dict[str, str]:
    """Where the walk's ``region`` input came from: ``input`` (--set, MAILDOCTOR_INPUT_REGION, the TUI),
    ``option`` (--region), ``environment`` (AWS_REGION / AWS_DEFAULT_REGION), ``profile`` (the AWS
    profile's own region in the AWS config file) or ``default`` (the flow's); {} without such an input."""
    spec = walk.flow.inputs.get("region")
    region = walk.inputs.get("region", "")
    if spec is None or not region:
        return {}
    settings = walk.clients.settings
    if spec.default_from == "aws-region" and settings.region == region and settings.region_source:
        return {"region": region, "source": settings.region_source, "detail": settings.region_detail}
    if settings.region is None and spec.default == region:
        return {"region": region, "source": "default", "detail": "no region set: the flow's default"}
    return {"region": region, "source": "input", "detail": "given as the input region"}


def build(walk: Walk, session: str = "") -> dict[str, Any]:
    """The whole report of a walk, redacted."""
    redact = redactor_for(walk)
    steps = [redact(step_dict(s)) for s in walk.steps]
    findings = [redact(finding_dict(f)) for f in walk.findings]
    return assemble(
        redact(header_dict(walk, session)),
        steps,
        findings,
        walk.complete,
        walk.incomplete_reason,
        walk.finished_at,
    )


def assemble(
    header: Mapping[str, Any],
    steps: list[dict[str, Any]],
    findings: list[dict[str, Any]],
    complete: bool,
    incomplete_reason: str | None,
    finished_at: str | None,
) -> dict[str, Any]:
    """CONTRACT.md's JSON object from its parts; transcripts rebuild reports through here too."""
    return {
        **header,
        "steps": steps,
        "findings": findings,
        "unchecked": unchecked_list(steps),
        "answers": answers_of(steps),
        "diagnosis": diagnosis_dict(findings, steps, complete, str(header.get("flow") or "")),
        "complete": complete,
        "incomplete_reason": incomplete_reason,
        "finished_at": finished_at,
    }


def answers_of(steps: list[dict[str, Any]]) -> dict[str, str]:
    """The values that operators (or earlier steps) gave as answers to questions, by node."""
    return {s["node"]: s["outcome"] for s in steps if s["kind"] == "question" and s.get("outcome")}


def exit_code(report: Mapping[str, Any]) -> int:
    """CONTRACT.md: 0 all clear (audit-clean) · 1 at least one finding · 3 the walk could not finish, or
    inconclusive."""
    if report["findings"]:
        return 1
    return 0 if report["diagnosis"]["code"] in CLEAN_CODES else 3
