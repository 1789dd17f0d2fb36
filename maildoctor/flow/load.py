"""Load flow files: YAML → pydantic model → graph validation, every error naming file, line and node."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import TypeAdapter, ValidationError

from maildoctor import yamlfile
from maildoctor.codes import AUDIT_CODES, DIAGNOSIS_CODES, VERDICT_CODES
from maildoctor.errors import MaildoctorError
from maildoctor.flow.model import CheckNode, EndNode, Flow, QuestionNode, RemedyNode
from maildoctor.flow.templates import placeholders
from maildoctor.yamlfile import Lines

# The check registry imports every check module (~100 ms of start-up): it is imported where a flow's
# graph is validated against the checks, so that reading a flow (``read_flow``: `flows list`) and merely
# naming FlowErrors (the CLI's error guard) do not pay for it.
if TYPE_CHECKING:
    from maildoctor.checks.registry import CheckSpec, Registry

_NODE_KINDS = ("check", "question", "remedy", "end")


@dataclass(frozen=True)
class FlowError:
    file: str
    line: int
    message: str
    node: str | None = None

    def __str__(self) -> str:
        where = f"node '{self.node}': " if self.node else ""
        return f"{self.file}:{self.line}: {where}{self.message}"


class FlowErrors(MaildoctorError):
    def __init__(self, errors: list[FlowError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def builtin_flows_dir() -> Path:
    """The shipped flows: inside the wheel as package data, or the repository's flows/ when editable."""
    # found beside the package, not through importlib.resources: that costs ~10 ms of every start-up
    # (tempfile, zipfile ...), and a flow is read as a Path anyway
    package = Path(__file__).resolve().parents[1]
    packaged = package / "_flows"
    if packaged.is_dir():
        return packaged
    return package.parent / "flows"


# The flow most incidents need (the one `maildoctor demo` walks): listed first by `flows list`, the TUI's
# picker and every "shipped flows" message, so a newcomer's first enter takes it; the others by name.
MAIN_FLOW = "ses-delivery"


def builtin_flow_paths() -> list[Path]:
    """The shipped flow files, the main flow first."""
    return sorted(builtin_flows_dir().glob("*.yaml"), key=lambda p: (p.stem != MAIN_FLOW, p.name))


def find_flow(name_or_path: str) -> Path:
    """A shipped flow by name, or a flow file by path."""
    found = yamlfile.find(name_or_path, builtin_flows_dir())
    if found is not None:
        return found
    known = ", ".join(p.stem for p in builtin_flow_paths())
    raise MaildoctorError(f"no flow named {name_or_path!r} (shipped flows: {known})")


def _node_of(path: Iterable[str | int]) -> str | None:
    parts = list(path)
    if len(parts) >= 2 and parts[0] == "nodes":
        return str(parts[1])
    return None


def _pydantic_errors(exc: ValidationError, file: str, lines: Lines) -> list[FlowError]:
    errors = []
    for err in exc.errors():
        loc = list(err["loc"])
        node = _node_of(loc)
        # pydantic puts the union tag (the node's kind) after the node id; it is not a YAML key
        if node and len(loc) > 2 and loc[2] in _NODE_KINDS:
            del loc[2]
        field = ".".join(str(p) for p in (loc[2:] if node else loc))
        errors.append(FlowError(file, lines.line(loc), yamlfile.error_message(err, field), node))
    return errors


def parse_flow_text(text: str, file: str, registry: Registry | None = None) -> Flow:
    """Parse and validate one flow's text against ``registry`` (the shipped checks by default);
    raises FlowErrors listing every problem found."""
    flow, lines = _parse_shape(text, file)
    if registry is None:
        from maildoctor.checks.registry import default_registry

        registry = default_registry()
    errors = list(validate_graph(flow, file, lines, registry))
    if errors:
        raise FlowErrors(errors)
    return flow


def _parse_shape(text: str, file: str) -> tuple[Flow, Lines]:
    """The flow as written: valid YAML with no key given twice, in the flow model's shape (FlowErrors
    otherwise); its graph and checks not looked at."""
    try:
        parsed = yamlfile.read(text, file)
    except yamlfile.YamlError as exc:
        raise FlowErrors([FlowError(file, exc.line, exc.message)]) from None
    data, lines = parsed.data, parsed.lines
    if lines.duplicates:
        raise FlowErrors(
            [
                FlowError(file, line, f"'{'.'.join(map(str, path))}' is given twice", _node_of(path))
                for path, line in lines.duplicates
            ]
        )
    if not isinstance(data, dict):
        raise FlowErrors(
            [FlowError(file, 1, "a flow file must be a mapping (name, title, inputs, nodes ...)")]
        )
    try:
        flow = Flow.model_validate(data)
    except ValidationError as exc:
        raise FlowErrors(_pydantic_errors(exc, file, lines)) from None
    return flow, lines


def load_flow(path: Path, registry: Registry | None = None) -> Flow:
    """A flow file, validated in full (see parse_flow_text)."""
    return parse_flow_text(_read_text(path), _display(path), registry)


def read_flow(path: Path) -> Flow:
    """A flow file's shape only, for listing it (name, title, description, inputs): FlowErrors for bad
    YAML or a bad shape, but its graph is not validated against the checks, so no check module is
    imported. A walk, `flows check` and `flows show` load with load_flow."""
    return _parse_shape(_read_text(path), _display(path))[0]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowErrors([FlowError(str(path), 0, f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise FlowErrors([FlowError(str(path), 0, "cannot read: not UTF-8 text")]) from None


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --- graph validation -------------------------------------------------------------------------------


def _templates(flow: Flow, node_id: str) -> Iterator[tuple[str, str]]:
    """(field, text) for every text of a node that may hold placeholders."""
    node = flow.nodes[node_id]
    yield "title", node.title
    if isinstance(node, CheckNode):
        for name, value in node.args.items():
            yield f"args.{name}", value
    elif isinstance(node, QuestionNode):
        yield "prompt", node.prompt
        if node.default:
            yield "default", node.default
    elif isinstance(node, RemedyNode):
        yield "summary", node.summary
        yield "remedy", node.remedy
    elif isinstance(node, EndNode):
        yield "reason", node.reason


ErrFn = Callable[..., FlowError]


def validate_graph(
    flow: Flow, file: str, lines: Lines, checks: Mapping[str, CheckSpec]
) -> Iterator[FlowError]:
    """Every rule that needs the whole flow or the check contract, one error per problem."""

    def err(node: str | None, message: str, *path: str | int) -> FlowError:
        at = ("nodes", node, *path) if node else path
        return FlowError(file, lines.line(at), message, node)

    if flow.start not in flow.nodes:
        yield err(None, f"start node '{flow.start}' does not exist", "start")
    for node_id, node in flow.nodes.items():
        yield from _targets(flow, node_id, err)
        if isinstance(node, CheckNode):
            yield from _check_contract(node_id, node, checks, err)
        elif isinstance(node, QuestionNode):
            yield from _question(flow, node_id, node, err)
        elif isinstance(node, RemedyNode):
            yield from _remedy_code(node_id, node, err)
        yield from _placeholders(flow, node_id, checks, err)
    if flow.start in flow.nodes:
        yield from _reachability(flow, err)
        yield from _unasked_cycles(flow, err)


def _targets(flow: Flow, node_id: str, err: ErrFn) -> Iterator[FlowError]:
    for label, target in flow.routes(node_id).items():
        if target not in flow.nodes:
            hint = difflib.get_close_matches(target, list(flow.nodes), n=1)
            also = f" (did you mean '{hint[0]}'?)" if hint else ""
            what = "continue" if label == "continue" else f"outcome '{label}'"
            path = ("continue",) if label == "continue" else ("next", label)
            yield err(node_id, f"{what} goes to '{target}', which does not exist{also}", *path)


def _check_contract(
    node_id: str, node: CheckNode, checks: Mapping[str, CheckSpec], err: ErrFn
) -> Iterator[FlowError]:
    spec = checks.get(node.check)
    if spec is None:
        hint = difflib.get_close_matches(node.check, list(checks), n=1)
        also = f" (did you mean '{hint[0]}'?)" if hint else ""
        yield err(node_id, f"check '{node.check}' is not registered{also}", "check")
        return
    for outcome in sorted(spec.all_outcomes - node.next.keys()):
        yield err(node_id, f"outcome '{outcome}' of check '{node.check}' is not routed", "next")
    for outcome in sorted(node.next.keys() - spec.all_outcomes):
        known = ", ".join(sorted(spec.all_outcomes))
        yield err(
            node_id,
            f"routes outcome '{outcome}', which check '{node.check}' never returns (it returns {known})",
            "next",
            outcome,
        )
    for arg in sorted(spec.required_args - node.args.keys()):
        yield err(node_id, f"check '{node.check}' needs argument '{arg}'", "args")
    for arg, text in node.args.items():
        field = spec.args.model_fields.get(arg)
        if field is None:
            takes = ", ".join(sorted(spec.arg_names)) or "none"
            yield err(
                node_id, f"check '{node.check}' takes no argument '{arg}' (it takes {takes})", "args", arg
            )
            continue
        try:
            literal = not placeholders(text)
        except ValueError:
            continue  # reported with the placeholders
        if literal:
            try:
                TypeAdapter(field.annotation or str).validate_python(text.strip())
            except ValidationError as exc:
                problem = exc.errors()[0]["msg"]
                yield err(node_id, f"args.{arg}: {text!r} is not a valid value ({problem})", "args", arg)


def _remedy_code(node_id: str, node: RemedyNode, err: ErrFn) -> Iterator[FlowError]:
    if node.code in VERDICT_CODES or node.code == "audit-clean":
        yield err(
            node_id, f"code '{node.code}' is a verdict the walk reaches by itself, not a finding", "code"
        )
    elif node.code not in DIAGNOSIS_CODES and node.code not in AUDIT_CODES:  # the audit's codes too
        findings = [c for c in DIAGNOSIS_CODES if c not in VERDICT_CODES]
        hint = difflib.get_close_matches(node.code, findings, n=1)
        also = f" (did you mean '{hint[0]}'?)" if hint else ""
        yield err(node_id, f"code '{node.code}' is not a diagnosis code of CONTRACT.md{also}", "code")


def _question(flow: Flow, node_id: str, node: QuestionNode, err: ErrFn) -> Iterator[FlowError]:
    values = [o.value for o in node.options]
    for value in values:
        if value not in node.next:
            yield err(node_id, f"option '{value}' is not routed", "next")
    for value in node.next.keys() - set(values):
        yield err(node_id, f"routes '{value}', which is not an option", "next", value)
    if node.key not in flow.inputs:
        yield err(node_id, f"question key '{node.key}' is not a declared input", "key")


def facts_of(flow: Flow, node_id: str, checks: Mapping[str, CheckSpec]) -> frozenset[str] | None:
    """The facts a node's step has (None when its check is unknown: reported elsewhere)."""
    from maildoctor.checks.registry import STEP_FACTS

    node = flow.nodes[node_id]
    own: frozenset[str] = frozenset(STEP_FACTS)
    if isinstance(node, CheckNode):
        spec = checks.get(node.check)
        return spec.fact_names() if spec else None
    if isinstance(node, QuestionNode):
        return own | {node.key}
    if isinstance(node, RemedyNode):
        return own | {"code"}
    return own


def _placeholders(
    flow: Flow, node_id: str, checks: Mapping[str, CheckSpec], err: ErrFn
) -> Iterator[FlowError]:
    for field, text in _templates(flow, node_id):
        at = field.split(".")
        try:
            names = placeholders(text)
        except ValueError as exc:
            yield err(node_id, f"{field}: {exc} (write {{{{ and }}}} for literal braces)", *at)
            continue
        for name in names:
            ref, dot, fact = name.partition(".")
            if not dot:
                if name not in flow.inputs:
                    yield err(node_id, f"{field}: placeholder '{{{name}}}' names no declared input", *at)
                continue
            if ref not in flow.nodes:
                yield err(node_id, f"{field}: placeholder '{{{name}}}' names no node '{ref}'", *at)
                continue
            known = facts_of(flow, ref, checks)
            if known is not None and fact not in known:
                hint = difflib.get_close_matches(fact, list(known), n=1)
                also = f" (did you mean '{ref}.{hint[0]}'?)" if hint else ""
                yield err(
                    node_id,
                    f"{field}: placeholder '{{{name}}}': node '{ref}' has no fact '{fact}'{also}",
                    *at,
                )


def _reachability(flow: Flow, err: ErrFn) -> Iterator[FlowError]:
    edges = {n: [t for t in flow.routes(n).values() if t in flow.nodes] for n in flow.nodes}
    seen = _closure({flow.start}, edges)
    for node_id in flow.nodes:
        if node_id not in seen:
            yield err(node_id, f"is not reachable from the start node '{flow.start}'")

    # A node that cannot reach a node with no way onward (an end, or a remedy that does not continue)
    # is caught in a cycle with no exit.
    terminal = {n for n, out in edges.items() if not out}
    reverse: dict[str, list[str]] = {n: [] for n in flow.nodes}
    for source, targets in edges.items():
        for target in targets:
            reverse[target].append(source)
    can_finish = _closure(terminal, reverse)
    for node_id in flow.nodes:
        if node_id in seen and node_id not in can_finish:
            yield err(node_id, f"is caught in a cycle with no way out ({_cycle_from(node_id, edges)})")


def _closure(starts: set[str], edges: Mapping[str, list[str]]) -> set[str]:
    """Every node reachable from ``starts`` along ``edges`` (the starts included)."""
    seen, todo = set(starts), list(starts)
    while todo:
        for target in edges[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _cycle_from(start: str, edges: dict[str, list[str]]) -> str:
    path, node = [start], start
    while edges[node]:
        node = edges[node][0]
        if node in path:
            return " → ".join([*path[path.index(node) :], node])
        path.append(node)
    return " → ".join(path)


def _unasked_cycles(flow: Flow, err: ErrFn) -> Iterator[FlowError]:
    """A cycle that passes through no question repeats without anyone choosing to: refused."""
    edges = {
        n: [
            t
            for t in flow.routes(n).values()
            if t in flow.nodes and not isinstance(flow.nodes[t], QuestionNode)
        ]
        for n in flow.nodes
        if not isinstance(flow.nodes[n], QuestionNode)
    }
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    reported: set[frozenset[str]] = set()

    def visit(node: str, path: list[str]) -> Iterator[FlowError]:
        state[node] = 1
        path.append(node)
        for target in edges[node]:
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    yield err(target, f"is on a loop that passes through no question ({' → '.join(cycle)})")
            elif target not in state:
                yield from visit(target, path)
        path.pop()
        state[node] = 2

    for node in edges:
        if node not in state:
            yield from visit(node, [])
