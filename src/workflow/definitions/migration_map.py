"""The mapping file of a migration: which state of the old version each credential in a renamed or removed state
goes to in the new one.

```yaml
states:
  build: build_and_test      # renamed
  launch: build_and_test     # removed: its credentials go back a step
```

Read with the definitions' YAML rules (line numbers, duplicate keys refused); checked against both versions by
:func:`check_mapping`, each problem naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from workflow.definitions.loader import invalid
from workflow.definitions.model import Definition
from workflow.definitions.validate import did_you_mean
from workflow.definitions.yamlsource import Problem, read_yaml

MAX_MAPPING_BYTES = 256 * 1024


@dataclass(frozen=True)
class StateMapping:
    """Old state → new state, with the line of each entry (for messages)."""

    states: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    file: str = ""


def parse_mapping(text: str, *, file: str) -> StateMapping:
    """Read a mapping file's text.

    Raises:
        workflow.errors.InvalidDefinition: listing every problem, with its line.
    """
    if len(text.encode("utf-8")) > MAX_MAPPING_BYTES:
        raise invalid(file, [Problem(1, "too-large", f"a mapping file is at most {MAX_MAPPING_BYTES} bytes")])
    document = read_yaml(text)
    if document.problems:
        raise invalid(file, document.problems[:20])
    data = document.data
    if data is None:
        return StateMapping(file=file)
    problems: list[Problem] = []
    if not isinstance(data, dict) or set(data) - {"states"}:
        unknown = sorted(set(data) - {"states"}) if isinstance(data, dict) else []
        line = document.lines.line_of((unknown[0],), key=True) if unknown else 1
        raise invalid(file, [Problem(line, "unknown-key", "a mapping file has one key, 'states' (old state: new "
                                                          f"state){'; not ' + repr(unknown[0]) if unknown else ''}")])
    states = data.get("states") or {}
    if not isinstance(states, dict):
        raise invalid(file, [Problem(document.lines.line_of(("states",)), "bad-value",
                                     "'states' maps each old state to a new state")])
    mapping: dict[str, str] = {}
    lines: dict[str, int] = {}
    for old, new in states.items():
        line = document.lines.line_of(("states", old), key=True)
        if not isinstance(old, str) or not isinstance(new, str):
            problems.append(Problem(line, "bad-value", f"'{old}: {new}' must map a state name to a state name"))
            continue
        mapping[old], lines[old] = new, line
    if problems:
        raise invalid(file, problems)
    return StateMapping(mapping, lines, file)


def read_mapping(path: Path) -> StateMapping:
    """Read a mapping file (see :func:`parse_mapping`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise invalid(str(path), [Problem(1, "unreadable", f"cannot read the mapping file: {error}")]) from None
    return parse_mapping(text, file=str(path))


def check_mapping(mapping: StateMapping, old: Definition, new: Definition, *, old_version: str,
                  new_version: str) -> None:
    """Every entry maps a state of the old version to a state of the new one.

    Raises:
        workflow.errors.InvalidDefinition: naming each wrong entry and its line.
    """
    problems: list[Problem] = []
    for source, dest in mapping.states.items():
        line = mapping.lines.get(source, 1)
        if source not in old.states:
            problems.append(Problem(line, "unknown-state", f"'{source}' is not a state of {old_version}"
                                                           f"{did_you_mean(source, list(old.states))}"))
        if dest not in new.states:
            problems.append(Problem(line, "unknown-state", f"'{dest}' is not a state of {new_version}"
                                                           f"{did_you_mean(dest, list(new.states))}"))
    if problems:
        raise invalid(mapping.file or "mapping", problems)
