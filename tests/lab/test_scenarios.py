"""Scenario files: every shipped one is valid, every diagnosis code has one, errors name file and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maildoctor.codes import AUDIT_CODES, DIAGNOSIS_CODES, NOT_YET_REACHED
from maildoctor.lab import Lab
from maildoctor.lab.scenario import ScenarioError, load_scenario, scenario_paths
from maildoctor.smtp_password import smtp_password_v4

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "CONTRACT.md"


def _contract_codes(start: str, end: str | None) -> set[str]:
    text = CONTRACT.read_text()
    table = text[text.index(start) : text.index(end) if end else None]
    return {
        code
        for row in re.findall(r"^\| (`.+?) \|", table, re.M)
        for code in re.findall(r"`([a-z0-9-]+)`", row)
    }


def test_the_codes_module_matches_contract_md() -> None:
    """shared/ sits beside the checkout (in CI too); the codes module must list exactly its codes."""
    if not CONTRACT.is_file():
        pytest.skip(f"{CONTRACT} is not beside this checkout")
    assert _contract_codes("## Diagnosis codes", "## TUI keys") == set(DIAGNOSIS_CODES)
    assert _contract_codes("## Audit codes", None) == set(AUDIT_CODES)


def test_every_shipped_scenario_loads_and_every_reached_code_has_one() -> None:
    scenarios = [load_scenario(str(p)) for p in scenario_paths()]
    assert {s.name for s in scenarios} == {p.stem for p in scenario_paths()}
    assert set(DIAGNOSIS_CODES) > NOT_YET_REACHED
    # inconclusive needs a fault, not a state of the world: the engine and verdict tests reach it
    reached = set(DIAGNOSIS_CODES) - NOT_YET_REACHED - {"inconclusive"}
    assert {"smtp-credentials-stale", "all-clear"} <= reached
    assert {s.expect for s in scenarios} == reached


def test_seed_incident_is_the_incident() -> None:
    seed = load_scenario("seed-incident")
    assert seed.expect == "smtp-credentials-stale"
    assert seed.find_key("AKIAEXAMPLEOLDKEY001") is None  # deleted by the rotation
    user, key = seed.find_key("AKIAEXAMPLENEWKEY002") or (None, None)
    assert user is not None and user.name == "ses-smtp-user" and key is not None and key.status == "Active"
    assert [e.event for e in seed.cloudtrail if e.key == "AKIAEXAMPLEOLDKEY001"] == [
        "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey",
    ]  # fmt: skip
    inputs = seed.walk_inputs()
    assert inputs["smtp_username"] == "AKIAEXAMPLEOLDKEY001"
    assert inputs["smtp_password"] == smtp_password_v4(
        "SeOKIxlRdFtofitXDgGlxB3sh+OW9KCHrDYgOzb6", "us-east-1"
    )
    assert "535 Authentication Credentials Invalid" in inputs["bounce"]
    # extends: SES and DNS come from all-clear unchanged
    assert seed.identity("us-east-1", "example.com") == load_scenario("all-clear").identity(
        "us-east-1", "example.com"
    )


def test_dns_drop_and_add_edit_the_inherited_zone() -> None:
    zone = load_scenario("spf-invalid").dns.effective_zone()
    assert zone.count("v=spf1 include:amazonses.com ~all") == 2  # the domain's and mail.'s
    assert 'example.com. IN TXT "v=spf1 include:_spf.google.com ~all"' in zone
    assert "_dmarc " not in load_scenario("dmarc-missing").dns.effective_zone()


def test_bad_scenario_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\ndescription: d\nexpect: all-clear\niam:\n  users:\n    - name: u\n      keys:\n"
        "        - {id: AKIASHORT, secret: x}\n"
        "colour: red\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(bad))
    lines = str(caught.value).splitlines()
    assert f"{bad}:8: iam.users.0.keys.0.id: String should match pattern '^AKIA[A-Z0-9]{{16}}$'" in lines
    assert f"{bad}:9: unknown field 'colour'" in lines  # worded as flow errors are


def test_extends_cycle_and_unknown_parent(tmp_path: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text("name: c\ndescription: d\nexpect: all-clear\nextends: nowhere\n")
    with pytest.raises(ScenarioError, match="no scenario named 'nowhere'"):
        load_scenario(str(child))


def test_a_blocked_smtp_endpoint_points_clients_at_a_closed_port(lab: Lab) -> None:
    lab.load(load_scenario("smtp-unreachable"))
    assert lab.env()["MAILDOCTOR_SMTP_ENDPOINT"] != lab.smtp.address
    lab.load(load_scenario("all-clear"))
    assert lab.env()["MAILDOCTOR_SMTP_ENDPOINT"] == lab.smtp.address
