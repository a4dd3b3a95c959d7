"""The definition pipeline: YAML text → plain data → frozen typed model → whole-graph validation."""

from __future__ import annotations

import hashlib
import stat
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from workflow.definitions.model import Definition
from workflow.definitions.validate import did_you_mean, validate_definition
from workflow.definitions.yamlsource import Problem, SourceMap, read_yaml
from workflow.errors import DefinitionProblem, InvalidDefinition, InvalidFile

MAX_DEFINITION_BYTES = 1_000_000
MAX_MESSAGE = 300  # characters of one problem's message: an id can be any text, and aliases can repeat it
MAX_PROBLEMS = 100  # problems listed per file; the rest are counted


@dataclass(frozen=True)
class LoadedDefinition:
    """A valid definition together with the exact text it came from and that text's SHA-256."""

    definition: Definition
    source: str
    content_hash: str
    path: str


def content_hash(text: str) -> str:
    """The SHA-256 of a definition's text, which identifies one version of it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_definition(text: str, *, file: str = "<definition>") -> LoadedDefinition:
    """Turn definition text into a validated model.

    Args:
        text: the YAML source.
        file: the name used in error messages.

    Returns:
        The loaded definition.

    Raises:
        InvalidDefinition: listing every problem found, each with file, line and rule.
    """
    if len(text.encode("utf-8")) > MAX_DEFINITION_BYTES:
        raise InvalidDefinition([DefinitionProblem(file, 1, "too-large",
                                                   f"definition is larger than {MAX_DEFINITION_BYTES} bytes")])
    document = read_yaml(text)
    problems = list(document.problems)
    if document.data is None and not problems:
        problems.append(Problem(1, "empty", "the file holds no definition"))
    elif document.data is not None and not isinstance(document.data, dict):
        problems.append(Problem(1, "bad-value", "a definition must be a mapping (name, title, roles, states, ...)"))
    if problems:
        raise invalid(file, problems)
    try:
        definition = Definition.model_validate(document.data)
    except ValidationError as error:
        raise invalid(file, structure_problems(error, document.lines, Definition)) from None
    problems = validate_definition(definition, document.lines)
    if problems:
        raise invalid(file, problems)
    return LoadedDefinition(definition, text, content_hash(text), file)


def load_definition(path: Path | str) -> LoadedDefinition:
    """Read and validate one definition file (see :func:`parse_definition`)."""
    try:
        text = read_source(Path(path), max_bytes=MAX_DEFINITION_BYTES, kind="definition")
    except InvalidFile as error:
        raise InvalidDefinition(error.problems) from None
    return parse_definition(text, file=str(path))


def read_source(path: Path, *, max_bytes: int, kind: str) -> str:
    """The UTF-8 text of a YAML file, refusing before reading anything a file that is too large or not a file.

    Raises:
        InvalidFile: one problem naming the file (and the line of a byte that is not UTF-8).
    """
    def refuse(rule: str, message: str) -> InvalidFile:
        return InvalidFile([DefinitionProblem(str(path), 1, rule, message)])

    try:
        mode = path.stat()  # before opening: a pipe or device would block or never end
        if stat.S_ISDIR(mode.st_mode):
            raise refuse("unreadable", "is a directory, not a file")
        if not stat.S_ISREG(mode.st_mode):
            raise refuse("unreadable", "is not a regular file")
        if mode.st_size > max_bytes:
            raise refuse("too-large", f"{kind} is larger than {max_bytes} bytes ({mode.st_size} bytes)")
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as error:
        raise refuse("unreadable", error.strerror or str(error)) from None
    if len(raw) > max_bytes:  # it grew while being read
        raise refuse("too-large", f"{kind} is larger than {max_bytes} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise refuse("encoding", f"the file is not UTF-8 text: byte 0x{raw[error.start]:02x} on line {line} "
                                 "(save it as UTF-8)") from None


def definition_files(paths: Iterable[Path | str]) -> list[Path]:
    """Expand directories to the ``*.yaml`` / ``*.yml`` files in them, sorted; keep files as given."""
    found: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            # Anything named like a definition but a folder is kept, so that a symlink loop, a dangling link or a
            # pipe is reported (by :func:`read_source`) rather than silently skipped.
            found.extend(sorted(p for p in entry.iterdir() if p.suffix in {".yaml", ".yml"} and not _is_folder(p)))
        else:
            found.append(entry)
    return found


def load_all(paths: Iterable[Path | str]) -> dict[str, LoadedDefinition]:
    """Load every definition under ``paths``; all problems of all files are raised together.

    Raises:
        InvalidDefinition: if any file is invalid, or two files define the same name.
    """
    loaded: dict[str, LoadedDefinition] = {}
    problems: list[DefinitionProblem] = []
    for path in definition_files(paths):
        try:
            item = load_definition(path)
        except InvalidDefinition as error:
            problems.extend(error.problems)
            continue
        name = item.definition.name
        if name in loaded:
            problems.append(DefinitionProblem(str(path), 1, "duplicate-definition",
                                              f"definition '{name}' is also defined in {loaded[name].path}"))
            continue
        loaded[name] = item
    if problems:
        raise InvalidDefinition(problems)
    return loaded


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a symlink loop: not a folder, and read_source says what it is
        return False


def invalid(file: str, problems: Iterable[Problem]) -> InvalidDefinition:
    """An :class:`InvalidDefinition` naming ``file`` for each problem: at most ``MAX_PROBLEMS`` of them (in line
    order, then a count of the rest), each message at most ``MAX_MESSAGE`` characters."""
    ordered = sorted(problems, key=lambda p: (p.line, p.rule, p.message[:MAX_MESSAGE]))
    shown = [DefinitionProblem(file, p.line, p.rule, shorten(p.message)) for p in ordered[:MAX_PROBLEMS]]
    if len(ordered) > MAX_PROBLEMS:
        rest = ordered[MAX_PROBLEMS:]
        shown.append(DefinitionProblem(file, rest[0].line, "too-many-problems",
                                       f"{len(rest)} more problems from this line on are not listed; "
                                       "fix the ones above and validate again"))
    return InvalidDefinition(shown)


def shorten(message: str) -> str:
    """``message`` cut to ``MAX_MESSAGE`` characters, marking the cut."""
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE - 1] + "…"


def structure_problems(error: ValidationError, lines: SourceMap, root: type[BaseModel]) -> list[Problem]:
    """Turn pydantic's errors about YAML data into located problems (unknown keys list the allowed ones)."""
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        where = _dotted(loc[:-1]) if loc[:-1] else "the definition"
        if item["type"] == "extra_forbidden":
            key = str(loc[-1])
            allowed = _allowed_keys(root, loc[:-1])
            hint = did_you_mean(key, allowed)
            problems.append(Problem(lines.line_of(loc, key=True), "unknown-key",
                                    f"{where}: unknown key '{key}'{hint}; allowed: {', '.join(allowed)}", loc))
        elif item["type"] == "missing":
            problems.append(Problem(lines.line_of(loc[:-1]), "missing-key",
                                    f"{where}: required key '{loc[-1]}' is missing", loc))
        else:
            value_loc = _data_path(loc, lines)
            message = item["msg"]
            if item["type"] == "string_pattern_mismatch":
                message = "must be an identifier: lower-case letters, digits and '_', starting with a letter"
            problems.append(Problem(lines.line_of(value_loc), "bad-value", f"{_dotted(value_loc)}: {message}", loc))
    return problems


def _data_path(loc: tuple[Any, ...], lines: SourceMap) -> tuple[Any, ...]:
    """Drop the parts of a pydantic location that name union members rather than data."""
    path: tuple[Any, ...] = ()
    for part in loc:
        if (*path, part) in lines.values:
            path = (*path, part)
    return path


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _allowed_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    annotation: Any = root
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        elif typing.get_origin(annotation) in (tuple, list):
            annotation = typing.get_args(annotation)[0]
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            models = [arg for arg in options if isinstance(arg, type) and issubclass(arg, BaseModel)]
            annotation = (models or options)[0]
        else:
            return annotation
