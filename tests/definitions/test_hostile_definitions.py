"""Definition files written to hurt: each is refused by ``workflow definitions validate`` with ``file:line: [rule]
message`` lines of bounded length, exit 1 and no traceback, in a process whose memory is capped at 1 GiB (so a
file that expands to hundreds of megabytes fails the test instead of the machine)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.definitions.generated import generated_definition
from workflow.definitions.loader import MAX_MESSAGE, MAX_PROBLEMS

MEMORY = 2**30
BASE = """name: tiny
title: Tiny lifecycle
roles:
  author: {title: Author}
states:
  draft: {title: Draft, initial: true, planned_days: 10}
  design: {title: Design}
  retired: {title: Retired, final: true}
transitions:
  - {trigger: start, source: draft, dest: design}
  - {trigger: retire, source: design, dest: retired}
timers:
  - {key: nudge, action: remind, after: P14D, state: design, notify: [author]}
"""
LONG = "x" * 500_000


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    """``workflow definitions validate PATHS`` in a fresh process with at most 1 GiB of memory."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WORKFLOW_")}
    result = subprocess.run([sys.executable, "-m", "workflow.cli", "definitions", "validate", *map(str, paths)],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False,
                            preexec_fn=_limit_memory)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-2000:]
    return result


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    line: int
    rule: str
    message: str


def _swap(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


CASES = [
    Case("days beyond what a timedelta holds", _swap("P14D", "P99999999999D"), 13, "too-long",
         "timer 'nudge': 'P99999999999D' is longer than 100 years; no date that far ahead can be kept"),
    Case("hours beyond what a timedelta holds", _swap("P14D", "PT99999999999999999H"), 13, "too-long",
         "timer 'nudge': 'PT99999999999999999H' is longer than 100 years; no date that far ahead can be kept"),
    Case("years past the last date", _swap("P14D", "P9999Y"), 13, "too-long",
         "timer 'nudge': 'P9999Y' is longer than 100 years; no date that far ahead can be kept"),
    Case("a duration of 5,000 digits", _swap("P14D", "P" + "9" * 5000 + "D"), 13, "too-long",
         "timer 'nudge': 'P999"),
    Case("planned days past the last date", _swap("planned_days: 10", "planned_days: 100000000000000000000"), 6,
         "too-long", "state 'draft': planned_days 100000000000000000000 is more than 36600 days (100 years); "
                     "no date that far ahead can be kept"),
    Case("an integer of 5,000 digits", _swap("planned_days: 10", "planned_days: " + "9" * 5000), 6, "bad-value",
         "a number of 5000 digits is too large"),
    Case("a committee meeting every second of a day that never comes",
         _swap("  author: {title: Author}", "  author: {title: Author}\n  council: {title: Council, kind: committee, "
               "meets: 'FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30'}"), 5, "bad-meets",
         "role 'council': 'meets' is not a recurrence rule (a committee meets on days: FREQ must be DAILY, WEEKLY, "
         "MONTHLY or YEARLY); write one such as FREQ=MONTHLY;BYDAY=1TU"),
    Case("a meeting rule the recurrence library fails on",
         _swap("  author: {title: Author}", "  author: {title: Author}\n  council: {title: Council, kind: committee, "
               "meets: 'FREQ=DAILY;INTERVAL=7;BYSECOND=61'}"), 5, "bad-meets",
         "role 'council': 'meets' is not a recurrence rule (second must be in 0..59)"),
    Case("a meeting rule that names no day",
         _swap("  author: {title: Author}", "  author: {title: Author}\n  council: {title: Council, kind: committee, "
               "meets: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30'}"), 5, "bad-meets",
         "role 'council': 'meets' is not a recurrence rule (it names no meeting within 2 years)"),
    Case("a long text repeated by aliases", _swap("author: {title: Author}",
                                                  f"author: {{title: Author, description: &b {LONG}}}")
         .replace("notify: [author]", "notify: [" + ", ".join(["*b"] * 1000) + "]"), 4, "yaml",
         "document too large (more than 2000000 characters of text, aliases included)"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_hostile_definition_is_one_located_problem(tmp_path: Path, case: Case) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(case.text, encoding="utf-8")
    result = validate(path)
    assert result.returncode == 1 and result.stdout == ""
    first, count = result.stderr.splitlines()
    assert first.startswith(f"{path}:{case.line}: [{case.rule}] {case.message}"), first
    assert len(first) <= len(str(path)) + 20 + MAX_MESSAGE
    assert count == "1 problem(s) found"


def test_a_name_repeated_by_aliases_gives_a_bounded_list(tmp_path: Path) -> None:
    """A thousand aliases of a 1,900-character role name: each is an unknown role, but the report stays short."""
    name = "y" * 1900
    path = tmp_path / "many.yaml"
    path.write_text(_swap("author: {title: Author}", f"author: {{title: Author, description: &b {name}}}")
                    .replace("notify: [author]", "notify: [" + ", ".join(["*b"] * 1000) + "]"), encoding="utf-8")
    result = validate(path)
    lines = result.stderr.splitlines()
    assert result.returncode == 1
    assert lines[0].startswith(f"{path}:4: [unknown-role] unknown role 'yyyy")  # the line of the anchor
    assert len(lines) == MAX_PROBLEMS + 2  # the problems listed, the count of the rest, the total
    assert lines[-2] == (f"{path}:4: [too-many-problems] {1000 - MAX_PROBLEMS} more problems from this line on are "
                         "not listed; fix the ones above and validate again")
    assert all(len(line) <= len(str(path)) + 40 + MAX_MESSAGE for line in lines)


def _loop(folder: Path) -> list[str]:
    (folder / "a.yaml").symlink_to("b.yaml")
    (folder / "b.yaml").symlink_to("a.yaml")
    return [f"{folder / 'a.yaml'}:1: [unreadable] Too many levels of symbolic links",
            f"{folder / 'b.yaml'}:1: [unreadable] Too many levels of symbolic links"]


def _dangling(folder: Path) -> list[str]:
    (folder / "gone.yaml").symlink_to("nowhere.yaml")
    return [f"{folder / 'gone.yaml'}:1: [unreadable] No such file or directory"]


@pytest.mark.parametrize("make", [_loop, _dangling], ids=["symlink loop", "dangling symlink"])
def test_a_broken_link_in_the_definitions_folder_is_reported_not_skipped(
        tmp_path: Path, make: Callable[[Path], list[str]]) -> None:
    (tmp_path / "tiny.yaml").write_text(BASE, encoding="utf-8")
    expected = make(tmp_path)
    result = validate(tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [*expected, f"{len(expected)} problem(s) found"]


def test_a_thousand_states_with_hundreds_of_wildcard_moves_validate(tmp_path: Path) -> None:
    path = tmp_path / "large.yaml"
    path.write_text(generated_definition(1000, wildcards=500), encoding="utf-8")
    result = validate(path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == f"ok  {path}: generated — 1000 states, 1000 transitions, 50 gates, 50 checklist items\n"


def test_wildcard_moves_sharing_a_trigger_are_one_problem_each(tmp_path: Path) -> None:
    """Five hundred ``*`` moves all named ``close`` clash on every state: one line per move, not per state."""
    text = generated_definition(1000, wildcards=500).replace("trigger: close_", "trigger: close, title: Close ")
    path = tmp_path / "clash.yaml"
    path.write_text(text, encoding="utf-8")
    result = validate(path)
    lines = result.stderr.splitlines()
    assert result.returncode == 1
    assert len(lines) == MAX_PROBLEMS + 2
    assert all("[duplicate-transition] 'close' from 's0' is already defined on line" in line for line in lines[:-2])
    assert "[too-many-problems] 398 more problems" in lines[-2]


def test_many_unknown_states_in_a_large_definition_are_listed_briefly(tmp_path: Path) -> None:
    text = generated_definition(1000).replace("dest: s", "dest: st")
    path = tmp_path / "unknown.yaml"
    path.write_text(text, encoding="utf-8")
    result = validate(path)
    lines = result.stderr.splitlines()
    assert result.returncode == 1
    assert len(lines) == MAX_PROBLEMS + 2
    assert "[unknown-state] unknown state 'st1' — did you mean 's1'?" in lines[0]
    assert "[too-many-problems] 799 more problems" in lines[-2]
