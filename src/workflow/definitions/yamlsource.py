"""Read YAML text into plain Python data while remembering where every value came from.

YAML 1.2 rules apply (``on``, ``off``, ``yes`` and ``no`` stay strings), duplicate keys are reported
instead of silently overwritten, only plain data types are accepted (no ``!!python/...`` tags), a node
budget keeps alias expansion ("billion laughs") from exhausting memory, and a nesting limit keeps a deeply
nested document from exhausting the stack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

Path = tuple[str | int, ...]

MAX_NODES = 200_000
MAX_TEXT = 2_000_000  # characters of scalar text once aliases are expanded (a file itself holds at most 1 MB)
MAX_DIGITS = 30  # an integer longer than this is no count of days or credits, and Python refuses 4,300 digits
MAX_DEPTH = 64  # nested mappings and lists; real files stay under ten

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_STRINGLIKE = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a YAML document, located by line (1-based) and a path into the data."""

    line: int
    rule: str
    message: str
    path: Path = ()


@dataclass
class SourceMap:
    """Line numbers (1-based) of every value and every mapping key, by path."""

    values: dict[Path, int] = field(default_factory=dict)
    keys: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path, *, key: bool = False) -> int:
        """The line of the value at ``path`` (or of its key), falling back to the nearest parent."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), 1)


@dataclass
class Document:
    """Plain data read from YAML, with its source map and any problems found while reading."""

    data: Any
    lines: SourceMap
    problems: list[Problem]


class _Reader:
    def __init__(self) -> None:
        self.lines = SourceMap()
        self.problems: list[Problem] = []
        self.budget = MAX_NODES
        self.text_budget = MAX_TEXT

    def read(self, node: Node, path: Path) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _TooLarge(node.start_mark.line + 1,
                            f"document too large (more than {MAX_NODES} values, aliases included)")
        if isinstance(node, ScalarNode):
            self.text_budget -= len(node.value)
            if self.text_budget < 0:
                raise _TooLarge(node.start_mark.line + 1,
                                f"document too large (more than {MAX_TEXT} characters of text, aliases included)")
        self.lines.values[path] = node.start_mark.line + 1
        expected = _MAP if isinstance(node, MappingNode) else _SEQ if isinstance(node, SequenceNode) else None
        if expected is not None and str(node.tag) != expected:
            self.problems.append(
                Problem(node.start_mark.line + 1, "yaml", f"unsupported YAML tag '{_short(str(node.tag))}'", path))
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.read(item, (*path, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return self._scalar(node, path)

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(Problem(line, "yaml", "merge keys ('<<') are not supported", path))
                continue
            if not isinstance(key_node, ScalarNode):
                self.problems.append(Problem(line, "yaml", "mapping keys must be plain text", path))
                continue
            key = str(key_node.value)
            if key in result:
                first = self.lines.keys[(*path, key)]
                self.problems.append(
                    Problem(line, "duplicate-key", f"duplicate key '{key}' (first defined on line {first})",
                            (*path, key))
                )
                continue
            self.lines.keys[(*path, key)] = line
            result[key] = self.read(value_node, (*path, key))
        return result

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        tag, text = str(node.tag), node.value
        if tag in _STRINGLIKE:
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return text.lower() == "true"
        if tag == _INT:
            cleaned = text.replace("_", "")
            if len(cleaned.lstrip("+-")) > MAX_DIGITS:
                self.problems.append(Problem(node.start_mark.line + 1, "bad-value",
                                             f"a number of {len(cleaned)} digits is too large", path))
                return 0
            try:
                return int(cleaned, 10)
            except ValueError:
                return int(cleaned, 0)
        if tag == _FLOAT:
            lowered = text.lower()
            if lowered.endswith(".inf"):
                return -math.inf if lowered.startswith("-") else math.inf
            if lowered == ".nan":
                return math.nan
            return float(text.replace("_", ""))
        self.problems.append(
            Problem(node.start_mark.line + 1, "yaml", f"unsupported YAML tag '{_short(tag)}'", path)
        )
        return text


def _short(tag: str) -> str:
    """A tag as it is written in YAML: ``!!python/object`` rather than ``tag:yaml.org,2002:python/object``."""
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


class _TooLarge(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _DepthLimitedComposer(Composer):
    """ruamel's composer, stopping at ``MAX_DEPTH`` levels instead of recursing until the stack runs out."""

    _nesting = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self._nesting >= MAX_DEPTH:
            raise _TooDeep(self.parser.peek_event().start_mark.line + 1)
        self._nesting += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._nesting -= 1


def read_yaml(text: str) -> Document:
    """Parse one YAML document into plain data.

    Args:
        text: the YAML source.

    Returns:
        The data (``None`` for an empty document), its source map and the problems found. A syntax error is
        returned as a problem, never raised.
    """
    reader = _Reader()
    # The safe pipeline, not the round-trip one: the round-trip scanner marks every fold of a folded scalar
    # (``description: >``) with U+0007 for its own dumper to restore, and that mark would reach the text.
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _DepthLimitedComposer
    try:
        node = yaml.compose(text)
    except _TooDeep as error:
        return Document(None, reader.lines, [
            Problem(error.line, "yaml", f"nested too deeply (more than {MAX_DEPTH} levels of mappings and lists)")
        ])
    except ReaderError as error:  # a character YAML does not allow, e.g. NUL or another control character
        character = error.character if isinstance(error.character, int) else 0
        return Document(None, reader.lines, [
            Problem(text.count("\n", 0, max(0, error.position)) + 1, "yaml",
                    f"character U+{character:04X} is not allowed in YAML text")
        ])
    except MarkedYAMLError as error:
        last_line = max(1, len(text.splitlines()))
        mark = error.problem_mark
        if mark is None or mark.line + 1 > last_line:
            mark = error.context_mark or mark  # e.g. an unclosed quote: where it opened, not the end of the file
        line = min(mark.line + 1, last_line) if mark is not None else 1
        message = ": ".join(part for part in (error.context, error.problem) if part)
        return Document(None, reader.lines, [Problem(line, "yaml", f"invalid YAML: {message}")])
    except YAMLError as error:
        return Document(None, reader.lines, [Problem(1, "yaml", f"invalid YAML: {error}")])
    if node is None:
        return Document(None, reader.lines, [])
    try:
        data = reader.read(node, ())
    except _TooLarge as error:
        return Document(None, reader.lines, [
            Problem(error.line, "yaml", error.message)
        ])
    return Document(data, reader.lines, reader.problems)
