"""Every file in ``broken/`` is a small definition with one kind of mistake, and says what must be reported.

A file starts with comment lines ``# expect: <line>: [<rule>] <message substring>``; the loader (and the
``workflow definitions validate`` command) must report each of them, at that line of that file, with that rule.
``# tolerate: <rule>, ...`` names rules that may also be reported as a consequence of the mistake (for example
``no-path-to-final`` when no state is final). Any other rule reported is a failure: each file is broken in
the way it says, and only that way.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from workflow.definitions.loader import load_definition
from workflow.errors import DefinitionProblem, InvalidDefinition

RunCli = Callable[..., subprocess.CompletedProcess[str]]

BROKEN = Path(__file__).resolve().parent / "broken"
FILES = sorted(BROKEN.glob("*.yaml"))

_EXPECT = re.compile(r"^# expect: (?P<line>\d+): \[(?P<rule>[a-z0-9-]+)\] (?P<text>\S.*)$")
_TOLERATE = re.compile(r"^# tolerate: (?P<rules>[a-z0-9-]+(?:, [a-z0-9-]+)*)$")


@dataclass(frozen=True)
class Expected:
    line: int
    rule: str
    text: str

    def found_in(self, reported: str, file: str) -> bool:
        """Whether one reported problem (``str()`` of it, or one line of the command's output) matches."""
        return f"{file}:{self.line}: [{self.rule}]" in reported and self.text in reported


def header(path: Path) -> tuple[list[Expected], set[str]]:
    """The ``# expect:`` lines and ``# tolerate:`` rules of the comment block that opens ``path``."""
    expected: list[Expected] = []
    tolerated: set[str] = set()
    for raw in path.read_bytes().splitlines():
        line = raw.decode("utf-8").rstrip()
        if not line.startswith("#"):
            break
        if match := _EXPECT.match(line):
            expected.append(Expected(int(match["line"]), match["rule"], match["text"]))
        elif match := _TOLERATE.match(line):
            tolerated.update(match["rules"].split(", "))
        elif line.startswith(("# expect", "# tolerate")):
            raise AssertionError(f"{path.name}: malformed header line {line!r}")
    return expected, tolerated


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_corpus_is_large_and_every_file_says_what_to_expect() -> None:
    assert len(FILES) >= 15
    for path in FILES:
        expected, _ = header(path)
        assert expected, f"{path.name} has no '# expect:' line"
        lines = path.read_bytes().count(b"\n") + (0 if path.read_bytes().endswith(b"\n") else 1)
        for item in expected:
            assert 1 <= item.line <= lines, f"{path.name}: expected line {item.line} is outside the file"


def test_the_corpus_covers_the_rules() -> None:
    covered = {item.rule for path in FILES for item in header(path)[0]}
    required = {
        "yaml", "duplicate-key", "unknown-key", "missing-key", "bad-value", "no-initial", "several-initials",
        "no-final", "unknown-state", "unknown-role", "unknown-field", "unknown-gate", "unreachable", "dead-end",
        "no-path-to-final", "gate-without-approver", "duplicate-item", "duplicate-transition", "bad-policy",
        "final-has-exit", "unused-gate", "bad-duration", "bad-condition", "trigger-not-from-state",
    }
    assert required <= covered, f"no broken file for: {sorted(required - covered)}"


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_the_loader_reports_every_expected_problem(path: Path) -> None:
    expected, tolerated = header(path)
    started = time.monotonic()
    with pytest.raises(InvalidDefinition) as caught:
        load_definition(path)
    assert time.monotonic() - started < 10, "loading a broken file must fail fast"

    problems: list[DefinitionProblem] = caught.value.problems
    reported = [str(problem) for problem in problems]
    listing = "\n".join(reported)
    for item in expected:
        assert any(item.found_in(text, str(path)) for text in reported), f"missing {item}; reported:\n{listing}"
    allowed = {item.rule for item in expected} | tolerated
    unexpected = [text for problem, text in zip(problems, reported, strict=True) if problem.rule not in allowed]
    assert not unexpected, f"{path.name} is broken in more ways than it says:\n" + "\n".join(unexpected)
    # The exception's own text is what a caller that just prints the error shows: every problem, one a line.
    assert str(caught.value) == listing


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_the_validate_command_prints_every_expected_problem(
        path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    expected, _ = header(path)
    file = relative(path)
    result = run_cli("definitions", "validate", file)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    for item in expected:
        assert any(item.found_in(line, file) for line in lines), f"missing {item}; stderr:\n{result.stderr}"
    with pytest.raises(InvalidDefinition) as caught:
        load_definition(file)
    count = len(caught.value.problems)
    assert lines[-1] == f"{count} problem(s) found"
    assert lines[:-1] == [str(problem) for problem in caught.value.problems]
