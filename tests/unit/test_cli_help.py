"""`maildoctor run FLOW --help` lists the flow's inputs; the main flow comes first wherever flows are listed."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from maildoctor.cli import EXIT_USAGE, main
from maildoctor.flow.load import builtin_flow_paths, find_flow, load_flow
from maildoctor.flow.model import Flow


def flat(text: str) -> str:
    """Whitespace made single spaces: click wraps the help to the terminal's width."""
    return " ".join(text.split())


def input_entries(help_text: str, flow: Flow) -> dict[str, str]:
    """Each input's entry of the help's inputs section (`--set NAME=` and what follows), by name."""
    section = help_text.split(f"Inputs of {flow.name}:", 1)[1].split("\nOptions:", 1)[0]
    entries: dict[str, list[str]] = {}
    for line in section.splitlines():
        start = re.match(r"  --set (\w+)=(.*)", line)
        if start:
            entries[start[1]] = [start[2]]
        elif line.startswith("     ") and entries:  # a wrapped description, under the last entry
            list(entries.values())[-1].append(line)
    return {name: flat(" ".join(lines)) for name, lines in entries.items()}


@pytest.mark.parametrize("before", [[], ["--format", "json"], ["--set", "sender=a@example.com"]])
def test_run_flow_help_lists_each_input_with_its_description_and_how_to_give_it(before: list[str]) -> None:
    flow = load_flow(find_flow("ses-delivery"))
    result = CliRunner().invoke(main, ["run", *before, "ses-delivery", "--help"])
    assert result.exit_code == 0, result.output
    entries = input_entries(result.output, flow)
    assert list(entries) == list(flow.inputs)
    for name, spec in flow.inputs.items():
        entry = entries[name]
        assert flat(spec.description) in entry, name
        assert ("[required" in entry) is spec.required, name
        if spec.secret:  # never suggested as a literal: from a file, stdin or the environment
            assert entry.startswith("@FILE "), name
            assert f"MAILDOCTOR_INPUT_{name.upper()}" in entry, name
        if spec.default:
            assert spec.default in entry, name
        for choice in spec.choices or []:
            assert choice in entry.split()[0], name


def test_a_flow_file_given_by_path_has_its_inputs_listed_too() -> None:
    path = find_flow("dns-auth")
    flow = load_flow(path)
    result = CliRunner().invoke(main, ["run", str(path), "-h"])
    assert result.exit_code == 0, result.output
    assert list(input_entries(result.output, flow)) == list(flow.inputs)


def test_run_help_without_a_flow_names_the_shipped_flows_main_first() -> None:
    result = CliRunner().invoke(main, ["run", "--help"])
    assert result.exit_code == 0, result.output
    section = result.output.split("Shipped flows:", 1)[1].split("\nOptions:", 1)[0]
    listed = re.findall(r"^  (\S+)  ", section, re.MULTILINE)
    assert listed == [p.stem for p in builtin_flow_paths()]
    assert listed[0] == "ses-delivery"
    assert "Inputs of" not in result.output


@pytest.mark.parametrize("args", [["nosuch", "--help"], ["--format", "json", "nosuch", "-h"]])
def test_help_of_an_unknown_flow_is_one_line_and_a_usage_error(args: list[str]) -> None:
    result = CliRunner().invoke(main, ["run", *args])
    assert result.exit_code == EXIT_USAGE
    assert result.output.splitlines() == [result.output.strip()]
    assert result.output.startswith("maildoctor: no flow named 'nosuch' (shipped flows: ses-delivery, ")


def test_flows_list_puts_the_main_flow_first_then_the_others_by_name() -> None:
    result = CliRunner().invoke(main, ["flows", "list"])
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.output.splitlines() if not line.startswith(" ")]
    shipped = sorted(p.stem for p in (find_flow("ses-delivery").parent).glob("*.yaml"))
    assert len(names) == len(shipped) >= 2
    assert names[0] == "ses-delivery"  # the flow `maildoctor demo` walks
    assert names[1:] == sorted(set(shipped) - {"ses-delivery"})


def test_the_tui_picker_lists_the_main_flow_first() -> None:
    from maildoctor.tui.screens.picker import shipped_flows

    names = [name for name, _ in shipped_flows()]
    assert names[0] == "ses-delivery" and sorted(names) == sorted(p.stem for p in builtin_flow_paths())
