"""The check contract as users see it: `maildoctor checks`, `checks show`, and docs/checks.md."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from maildoctor.checks.reference import describe, reference
from maildoctor.checks.registry import default_registry
from maildoctor.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs" / "checks.md"


def test_the_generated_reference_has_not_drifted() -> None:
    registry = default_registry()
    assert DOCS.read_text(encoding="utf-8") == reference(registry[n] for n in registry), (
        "docs/checks.md is stale: run `make docs`"
    )


def test_checks_lists_every_check_with_its_facts() -> None:
    result = CliRunner().invoke(main, ["checks"])
    assert result.exit_code == 0
    registry = default_registry()
    for name in registry:
        assert f"\n{name} " in "\n" + result.output
        for fact in registry[name].facts.model_fields:
            assert fact in result.output


def test_checks_show_prints_outcomes_arguments_facts_with_descriptions_and_iam_actions() -> None:
    spec = default_registry()["ses.identity"]
    result = CliRunner().invoke(main, ["checks", "show", "ses.identity"])
    assert result.exit_code == 0
    assert result.output.strip() == describe(spec, level="#").strip()
    for outcome in spec.all_outcomes:
        assert f"`{outcome}`" in result.output
    for name, info in spec.facts.model_fields.items():
        assert f"- `{name}` (" in result.output and str(info.description) in result.output
    assert "`ses:GetEmailIdentity`" in result.output
    assert "- `sender` (str, required)" in result.output


def test_an_unknown_check_is_one_line_with_a_suggestion() -> None:
    result = CliRunner().invoke(main, ["checks", "show", "ses.identiy"])
    assert result.exit_code == 2
    assert (
        result.stderr
        == "maildoctor: no check named 'ses.identiy' (did you mean 'ses.identity'?); `maildoctor checks` lists them\n"
    )
