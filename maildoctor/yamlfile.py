"""YAML files whose errors name the file and the line: flows and lab scenarios both read through here.

:func:`read` parses a text once into data and a :class:`Lines` map (the line of every mapping key and
sequence item, by path; duplicate keys are found too); :func:`error_line` places a pydantic error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from maildoctor.errors import MaildoctorError

Path_ = tuple[str | int, ...]


class YamlError(MaildoctorError):
    """``file:line: not valid YAML: …``"""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line, self.message = file, line, message


class Lines:
    """Line numbers of every mapping key and sequence item, by path; duplicate keys are recorded."""

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


def find(name_or_path: str, folder: Path) -> Path | None:
    """A YAML file by path, or by name in ``folder`` (``NAME.yaml``); None when neither exists (also
    for a name the file system cannot hold)."""
    try:
        candidate = Path(name_or_path)
        if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
            return candidate
        shipped = folder / f"{name_or_path}.yaml"
        return shipped if shipped.is_file() else None
    except (OSError, ValueError):  # too long a name, a NUL byte
        return None


@dataclass(frozen=True)
class Parsed:
    data: Any
    lines: Lines


# libyaml's parser when PyYAML was built with it: it reads the shipped flows in ~10 ms, the pure-Python
# one in ~100 ms (most of `flows list`). One pass makes the node tree (for Lines) and the data from it.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read(text: str, file: str) -> Parsed:
    """Parse YAML ``text``; raises YamlError naming the file and line of a syntax error."""
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())  # one line, always
        raise YamlError(file, line, f"not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    return Parsed(data, Lines(root))


def error_message(err: Any, field: str) -> str:
    """A pydantic error (one of ``exc.errors()``) in words, for the field named ``field``; one line."""
    field = field.encode("unicode_escape").decode("ascii")  # a key with a line break in it stays one line
    if err["type"] == "extra_forbidden":
        return f"unknown field '{field}'"
    if err["type"] == "missing":
        return f"missing field '{field}'"
    message = f"{field}: {err['msg']}" if field else str(err["msg"])
    if err["type"] in ("literal_error", "enum"):
        message += f" (got {err.get('input')!r})"
    return message
