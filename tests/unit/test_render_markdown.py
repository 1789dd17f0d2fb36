"""The markdown incident report (issue 13): diagnosis and fix first, then a steps table, then the
evidence, each piece once, with nothing from the bounce or the world able to render as HTML.

Reports come from walks of the seed incident on the lab (real protocols, through `maildoctor run
--format json`); that JSON is the oracle of what the markdown must hold. What a reader sees is
checked on the markdown as a renderer turns it into HTML (markdown-it, which the HTML export uses too).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from maildoctor import render
from maildoctor.cli import main
from maildoctor.lab.scenario import Scenario

# a bounce reply that tries every trick: HTML, a fence-closing backtick run, a table cell break
HOSTILE_REPLY = "535 Authentication Credentials Invalid <script>alert(1)</script> <b>bold</b> ```` a|b"
REPORTS: dict[str, dict[str, Any]] = {}  # walks cost ~1.5 s (CloudTrail paging): one per bounce


def walk_report(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, reply: str | None = None
) -> dict[str, Any]:
    """The JSON report of a walk run as a user runs it; ``reply`` replaces the bounce's SMTP reply."""
    key = f"{scenario.name}:{reply}"
    if key in REPORTS:
        return REPORTS[key]
    args = ["run", "ses-delivery", "--format", "json"]
    for name, value in scenario.walk_inputs().items():
        if name == "smtp_password":
            monkeypatch.setenv("MAILDOCTOR_INPUT_SMTP_PASSWORD", value)
        elif name == "bounce":
            if reply is not None:
                value = value.replace("535 Authentication Credentials Invalid", reply)
            path = tmp_path / "bounce.txt"
            path.write_text(value)
            args += ["--set", f"bounce=@{path}"]
        elif value:
            args += ["--set", f"{name}={value}"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    REPORTS[key] = json.loads(result.stdout)
    return REPORTS[key]


@pytest.fixture
def seed(load, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    return walk_report(load("seed-incident"), monkeypatch, tmp_path)


@pytest.fixture
def hostile(load, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    return walk_report(load("seed-incident"), monkeypatch, tmp_path, reply=HOSTILE_REPLY)


def rendered(markdown: str, *, passing_html: bool = False) -> str:
    """The HTML a renderer makes of the markdown; ``passing_html``: one that lets raw HTML through."""
    return MarkdownIt("commonmark", {"html": passing_html}).enable("table").render(markdown)


def visible_text(page: str) -> str:
    """What a reader of the rendered page reads: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def squash(text: str) -> str:
    """Text without whitespace: the report may lay out a pretty-printed JSON on one line."""
    return "".join(text.split())


def empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def steps_table(page: str) -> list[list[str]]:
    """The rows (cell texts) of the table under the Steps heading of a rendered report."""
    table = page.split("<h2>Steps</h2>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table.split("</thead>", 1)[1], re.S)
    return [[visible_text(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]


def evidence_section(markdown: str, number: int) -> str:
    """The markdown of step ``number`` under the Evidence heading ('' when the step has none)."""
    evidence = markdown.split("\n## Evidence\n", 1)[1]
    match = re.search(rf"^### {number}\. .*?(?=^### |^## |^- \*\*|\Z)", evidence, re.S | re.M)
    if match:  # a step that found a problem: its heading and what follows
        return match.group(0)
    line = re.search(rf"^- \*\*{number}\. .*$", evidence, re.M)  # a passed step: its line of the list
    return line.group(0) if line else ""


def shown_by_steps(report: dict[str, Any]) -> dict[str, list[int]]:
    """Each evidence text of the report, with the numbers of the steps that give it."""
    texts: dict[str, list[int]] = {}
    for step in report["steps"]:
        for evidence in step["evidence"]:
            texts.setdefault(evidence["text"].rstrip(), []).append(step["index"] + 1)
    return texts


# --- structure ------------------------------------------------------------------------------------------


def test_the_diagnosis_and_fix_come_first_then_the_steps_table_then_the_evidence(seed) -> None:
    markdown = render.to_markdown(seed)
    diagnosis = seed["diagnosis"]
    assert markdown.startswith(f"# Mail delivery diagnosis: {diagnosis['code']}\n")
    places = [
        markdown.index(diagnosis["title"]),
        markdown.index(diagnosis["summary"]),
        markdown.index("**Inputs:**"),
        markdown.index("## Findings"),
        markdown.index(seed["findings"][0]["remedy"].rstrip()),  # the fix, as the flow wrote it
        markdown.index("\n## Steps\n"),
        markdown.index("\n## Evidence\n"),
    ]
    assert places == sorted(places)
    # the verdict is on the first screen, not after the evidence
    assert diagnosis["summary"] in "\n".join(markdown.splitlines()[:12])
    page = render.to_html(seed)
    assert (
        page.index("<h1>") < page.index("<h2>Findings") < page.index("<h2>Steps") < page.index("<h2>Evidence")
    )


def test_every_step_is_a_row_of_the_steps_table(seed) -> None:
    rows = steps_table(rendered(render.to_markdown(seed)))
    assert [row[0] for row in rows] == [str(s["index"] + 1) for s in seed["steps"]]
    for row, step in zip(rows, seed["steps"], strict=True):
        assert len(row) == 7, row
        assert row[3] == step["title"]
        assert row[4] == " ".join(step["summary"].split())
        assert row[6] == f"{step['duration_ms']} ms"


# --- nothing lost, each piece once --------------------------------------------------------------------------


def test_every_finding_non_empty_fact_and_evidence_text_of_the_json_is_in_the_report(seed) -> None:
    markdown = render.to_markdown(seed)
    reader = squash(visible_text(rendered(markdown)))
    for finding in seed["findings"]:
        assert finding["code"] in markdown and finding["remedy"].rstrip() in markdown
        for value in (v for v in finding["facts"].values() if not empty(v)):  # under the finding or a step
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            assert squash(shown) in reader or squash(shown) in squash(markdown), value
    by_status = {step["index"] + 1: step["status"] for step in seed["steps"]}
    for text, numbers in shown_by_steps(seed).items():
        if any(by_status[n] in render.IN_FULL for n in numbers):  # a problem's evidence: in full
            assert squash(text) in reader, text
    for step in seed["steps"]:  # a passed step's evidence: named (its text is in the JSON export)
        for evidence in step["evidence"]:
            assert squash(evidence["title"]) in reader, evidence["title"]
    for step in seed["steps"]:
        for key, value in step["facts"].items():
            if empty(value):
                continue
            if isinstance(value, str) and "\n" in value:  # in a block, or named: as written in the fix
                assert squash(value) in squash(markdown), (step["index"] + 1, key)
                continue
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            assert squash(shown) in reader, (step["index"] + 1, key, value)
            if step["kind"] == "remedy":  # its code and text are the finding's, above
                assert step["facts"]["code"] in markdown.split("\n## Steps\n")[0]
                continue
            assert re.search(rf"(?<!\w){key}:", evidence_section(markdown, step["index"] + 1)), key


def test_an_evidence_text_several_steps_give_is_shown_once_and_referred_to_after(seed) -> None:
    markdown = render.to_markdown(seed)
    repeated = {text: steps for text, steps in shown_by_steps(seed).items() if len(steps) > 1}
    # the seed's GetEmailIdentity of example.com is given by four steps (issue 13 measured it so)
    assert max(len(steps) for steps in repeated.values()) >= 3
    page = squash(visible_text(rendered(markdown)))
    in_full = {step["index"] + 1 for step in seed["steps"] if step["status"] in render.IN_FULL}
    for text, numbers in repeated.items():
        if len(text) > 80:  # a short text ('{"Account": …}') may be inside a longer one by chance
            assert page.count(squash(text)) <= 1, text
        shown_in = [n for n in numbers if n in in_full]  # a passed step names its evidence, never shows it
        for number in shown_in[1:]:
            if number != shown_in[0]:
                assert f"same as step {shown_in[0]}" in evidence_section(markdown, number), (text, number)
    # and within one step too: the key check's GetCallerIdentity answer is its GetAccessKeyInfo answer
    key = next(step["index"] + 1 for step in seed["steps"] if step["node"] == "key")
    assert f"STS GetCallerIdentity: same as step {key}" in evidence_section(markdown, key)


def test_no_empty_facts_and_no_list_collapsed_to_a_count(seed) -> None:
    markdown = render.to_markdown(seed)
    assert not re.search(r"\(\d+ items\)", markdown)
    assert not re.search(r"\bNone\b", markdown)
    empties = 0
    for step in seed["steps"]:
        section = evidence_section(markdown, step["index"] + 1)
        for key, value in step["facts"].items():
            if empty(value):
                empties += 1
                assert not re.search(rf"(?<![\w\\]){key}:", section), (step["index"] + 1, key)
    assert empties  # the seed has some (smtp_code-like facts left empty by a bounce without DSN)


def test_the_json_export_keeps_every_step_s_evidence_whole(seed) -> None:
    exported = json.loads(render.to_json(seed))
    assert exported == seed
    repeated = [steps for steps in shown_by_steps(exported).values() if len(steps) > 2]
    assert repeated  # each step keeps its own copy there
    for step in exported["steps"]:
        for evidence in step["evidence"]:
            if evidence["text"].lstrip().startswith("$ aws sesv2 get-email-identity"):
                assert '\n  "IdentityType"' in evidence["text"] or "NotFoundException" in evidence["text"]


def test_the_seed_report_is_short(seed) -> None:
    # issue 13 asks for under 200 lines; the fix as written (~75 lines), the steps table and the
    # distinct evidence (~150 lines with JSON on one line) need this much; it was 1015 lines
    assert len(render.to_markdown(seed).splitlines()) < 200


# --- escaping ---------------------------------------------------------------------------------------------


def test_html_and_markdown_from_the_bounce_render_as_text(hostile) -> None:
    markdown = render.to_markdown(hostile)
    assert HOSTILE_REPLY in json.dumps(hostile, ensure_ascii=False).replace('\\"', '"')  # it got in
    for page in (rendered(markdown, passing_html=True), render.to_html(hostile)):
        assert "<script" not in page and "<b>" not in page
        reader = visible_text(page)
        assert HOSTILE_REPLY in reader  # kept, as text: in the evidence block and in the table
        assert reader.count("<script>alert(1)</script>") >= 3
    # the `|` did not split a cell, and the ```` run did not close the evidence block early
    rows = steps_table(rendered(markdown))
    assert {len(row) for row in rows} == {7}
    blocks = [
        html.unescape(b) for b in re.findall(r"<pre><code[^>]*>(.*?)</code></pre>", rendered(markdown), re.S)
    ]
    for text in shown_by_steps(hostile):
        if "````" in text:
            assert any(text in block for block in blocks), text


@pytest.mark.parametrize(
    "text",
    [
        "<script>x</script>",
        "<b>b</b> & &amp;",
        "a | b",
        "*em* _u_ `c` [l](u)",
        "# h",
        "- item",
        "1. item",
        "``` x",
    ],
)
def test_escaped_text_renders_as_itself(text: str) -> None:
    page = rendered(render.md_text(text), passing_html=True)
    assert visible_text(page).strip() == text
    assert not re.search(r"<(?!/?p>)", page), page  # a paragraph and nothing else: no tag, list, heading


@pytest.mark.parametrize("text", ["a ``` b", "````\nx\n`````", "`", "ends with `"])
def test_a_fence_or_code_span_outlasts_every_backtick_run(text: str) -> None:
    page = rendered("\n".join(render.fenced(text)))
    assert page.count("<pre>") == 1 and html.unescape(page).count(text) == 1
    if "\n" not in text:
        assert visible_text(rendered(render.md_code(text))).strip() == text.strip()
