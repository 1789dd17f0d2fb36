"""Load flow files: YAML → pydantic model → graph validation, every error naming file, line and node."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from maildoctor.checks.registry import CheckSpec, registry
from maildoctor.errors import MaildoctorError
from maildoctor.flow.model import CheckNode, EndNode, Flow, QuestionNode, RemedyNode
from maildoctor.flow.templates import placeholders

Path_ = tuple[str | int, ...]
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
    packaged = Path(str(resources.files("maildoctor") / "_flows"))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "flows"


def builtin_flow_paths() -> list[Path]:
    return sorted(builtin_flows_dir().glob("*.yaml"))


def find_flow(name_or_path: str) -> Path:
    """A shipped flow by name, or a flow file by path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    shipped = builtin_flows_dir() / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    known = ", ".join(p.stem for p in builtin_flow_paths())
    raise MaildoctorError(f"no flow named {name_or_path!r} (shipped flows: {known})")


# --- YAML with line numbers -------------------------------------------------------------------------


class _Lines:
    """Line numbers of every mapping key and sequence item, by path; duplicate keys are errors."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.lines: dict[Path_, int] = {(): 1}
        self.duplicates: list[tuple[Path_, int]] = []
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: Path_) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if key in seen:
                    self.duplicates.append(((*path, key), line))
                seen.add(key)
                self.lines[(*path, key)] = line
                self._walk(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = item.start_mark.line + 1
                self._walk(item, (*path, index))

    def line(self, path: Iterable[str | int]) -> int:
        """The line of the deepest known prefix of ``path`` (pydantic adds union tags to paths)."""
        best, current = 1, ()  # type: int, Path_
        for part in path:
            candidate: Path_ = (*current, part)
            if candidate in self.lines:
                current = candidate
                best = self.lines[candidate]
        return best


def line_of(text: str, path: Iterable[str | int]) -> int:
    """The line in YAML ``text`` of the deepest known prefix of ``path`` (1 when unknown)."""
    try:
        return _Lines(yaml.compose(text)).line(path)
    except yaml.YAMLError:
        return 1


def _node_of(path: Iterable[str | int]) -> str | None:
    parts = list(path)
    if len(parts) >= 2 and parts[0] == "nodes":
        return str(parts[1])
    return None


def _pydantic_errors(exc: ValidationError, file: str, lines: _Lines) -> list[FlowError]:
    errors = []
    for err in exc.errors():
        loc = list(err["loc"])
        node = _node_of(loc)
        # pydantic puts the union tag (the node's kind) after the node id; it is not a YAML key
        if node and len(loc) > 2 and loc[2] in _NODE_KINDS:
            del loc[2]
        line = lines.line(loc)
        shown = [str(p) for p in (loc[2:] if node else loc)]
        field = ".".join(shown)
        if err["type"] == "extra_forbidden":
            message = f"unknown field '{field}'"
        elif err["type"] == "missing":
            message = f"missing field '{field}'"
        else:
            message = f"{field}: {err['msg']}" if field else err["msg"]
            if err["type"] in ("literal_error", "enum"):
                message += f" (got {err.get('input')!r})"
        errors.append(FlowError(file, line, message, node))
    return errors


def parse_flow_text(text: str, file: str) -> Flow:
    """Parse and validate one flow's text; raises FlowErrors listing every problem found."""
    try:
        root = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise FlowErrors([FlowError(file, line, f"not valid YAML: {problem}")]) from None
    lines = _Lines(root)
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
    errors = list(validate_graph(flow, file, lines, registry()))
    if errors:
        raise FlowErrors(errors)
    return flow


def load_flow(path: Path) -> Flow:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowErrors([FlowError(str(path), 0, f"cannot read: {exc.strerror}")]) from None
    return parse_flow_text(text, _display(path))


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


def validate_graph(
    flow: Flow, file: str, lines: _Lines, checks: dict[str, CheckSpec] | Any
) -> Iterator[FlowError]:
    def err(node: str | None, message: str, *path: str | int) -> FlowError:
        at = ("nodes", node, *path) if node else path
        return FlowError(file, lines.line(at), message, node)

    if flow.start not in flow.nodes:
        yield err(None, f"start node '{flow.start}' does not exist", "start")

    for node_id, node in flow.nodes.items():
        for label, target in flow.routes(node_id).items():
            if target not in flow.nodes:
                hint = difflib.get_close_matches(target, list(flow.nodes), n=1)
                also = f" (did you mean '{hint[0]}'?)" if hint else ""
                what = "continue" if label == "continue" else f"outcome '{label}'"
                path = ("continue",) if label == "continue" else ("next", label)
                yield err(node_id, f"{what} goes to '{target}', which does not exist{also}", *path)

        if isinstance(node, CheckNode):
            spec = checks.get(node.check)
            if spec is None:
                hint = difflib.get_close_matches(node.check, list(checks), n=1)
                also = f" (did you mean '{hint[0]}'?)" if hint else ""
                yield err(node_id, f"check '{node.check}' is not registered{also}", "check")
            else:
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
                for arg in sorted(node.args.keys() - spec.args):
                    takes = ", ".join(sorted(spec.args)) or "none"
                    yield err(
                        node_id,
                        f"check '{node.check}' takes no argument '{arg}' (it takes {takes})",
                        "args",
                        arg,
                    )

        if isinstance(node, QuestionNode):
            values = [o.value for o in node.options]
            for value in values:
                if value not in node.next:
                    yield err(node_id, f"option '{value}' is not routed", "next")
            for value in node.next.keys() - set(values):
                yield err(node_id, f"routes '{value}', which is not an option", "next", value)
            if node.key not in flow.inputs:
                yield err(node_id, f"question key '{node.key}' is not a declared input", "key")

        for field, text in _templates(flow, node_id):
            at = field.split(".")
            try:
                names = placeholders(text)
            except ValueError as exc:
                yield err(node_id, f"{field}: {exc} (write {{{{ and }}}} for literal braces)", *at)
                continue
            for name in names:
                ref, dot, _ = name.partition(".")
                if dot and ref not in flow.nodes:
                    yield err(node_id, f"{field}: placeholder '{{{name}}}' names no node '{ref}'", *at)
                elif not dot and name not in flow.inputs:
                    yield err(node_id, f"{field}: placeholder '{{{name}}}' names no declared input", *at)

    if flow.start in flow.nodes:
        yield from _reachability(flow, err)


def _reachability(flow: Flow, err: Any) -> Iterator[FlowError]:
    edges = {n: [t for t in flow.routes(n).values() if t in flow.nodes] for n in flow.nodes}
    seen, todo = {flow.start}, [flow.start]
    while todo:
        for target in edges[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
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
    can_finish, todo = set(terminal), list(terminal)
    while todo:
        for source in reverse[todo.pop()]:
            if source not in can_finish:
                can_finish.add(source)
                todo.append(source)
    for node_id in flow.nodes:
        if node_id in seen and node_id not in can_finish:
            yield err(node_id, f"is caught in a cycle with no way out ({_cycle_from(node_id, edges)})")


def _cycle_from(start: str, edges: dict[str, list[str]]) -> str:
    path, node = [start], start
    while edges[node]:
        node = edges[node][0]
        if node in path:
            return " → ".join([*path[path.index(node) :], node])
        path.append(node)
    return " → ".join(path)
