"""Hostile organisation and definition files: each is refused by ``workflow org load`` and ``workflow definitions
validate`` with one plain message naming the file (and the line where there is one) and exit 1, never a
traceback, and without reading a huge file to find out its size."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.conftest import DEFINITIONS, ROOT
from workflow.cli import app
from workflow.errors import InvalidFile
from workflow.services.orgfile import read_org_file

BOMB = """units:
  - {key: northern, name: Northern College, kind: institution}
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
users: *h
"""


@dataclass(frozen=True)
class Case:
    """A hostile file, written by ``write`` into a folder, and the one problem it must be reported as."""

    name: str
    write: Callable[[Path], Path]
    line: int
    rule: str
    message: str  # {kind} is "organisation file" or "definition"


def _text(name: str, text: str) -> Callable[[Path], Path]:
    return _bytes(name, text.encode("utf-8"))


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name
    return write


def _sparse(folder: Path) -> Path:
    """A 64 GiB file that takes no room on disk: reading it to check its size would take minutes."""
    path = folder / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(64 * 2**30)
    return path


def _directory(folder: Path) -> Path:
    (folder / "a-folder.yaml").mkdir()
    return folder / "a-folder.yaml"


def _pipe(folder: Path) -> Path:
    """A named pipe nobody writes to: opening it would wait forever."""
    os.mkfifo(folder / "pipe.yaml")
    return folder / "pipe.yaml"


CASES = [
    Case("alias bomb", _text("bomb.yaml", BOMB), 3, "yaml",
         "document too large (more than 200000 values, aliases included)"),
    Case("deep flow nesting", _text("deep.yaml", "units: " + "[" * 50_000 + "]" * 50_000 + "\n"), 1, "yaml",
         "nested too deeply (more than 64 levels of mappings and lists)"),
    Case("deep block nesting", _text("deep-block.yaml", "".join(" " * i + f"k{i}:\n" for i in range(200))), 64,
         "yaml", "nested too deeply (more than 64 levels of mappings and lists)"),
    Case("over the size limit", _text("big.yaml", "units: []\n" + "#" * 1_000_000 + "\n"), 1, "too-large",
         "{kind} is larger than 1000000 bytes (1000011 bytes)"),
    Case("sparse 64 GiB file", _sparse, 1, "too-large", "{kind} is larger than 1000000 bytes (68719476736 bytes)"),
    Case("Latin-1 text", _bytes("latin1.yaml", b"units:\n  - key: cafe\n    name: Caf\xe9 des arts\n"), 1, "encoding",
         "the file is not UTF-8 text: byte 0xe9 on line 3 (save it as UTF-8)"),
    Case("binary junk", _bytes("image.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"), 1, "encoding",
         "the file is not UTF-8 text: byte 0x89 on line 1 (save it as UTF-8)"),
    Case("control characters", _bytes("ctrl.yaml", b"units:\n  - key: \x1b[31mred\x00\n"), 2, "yaml",
         "character U+001B is not allowed in YAML text"),
    Case("a directory", _directory, 1, "unreadable", "is a directory, not a file"),
    Case("a named pipe", _pipe, 1, "unreadable", "is not a regular file"),
    Case("a missing file", lambda folder: folder / "missing.yaml", 1, "unreadable", "No such file or directory"),
]


def expected(path: Path, case: Case, kind: str) -> str:
    return f"{path}:{case.line}: [{case.rule}] {case.message.format(kind=kind)}"


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run the ``workflow`` command in this process (for commands that open no database)."""
    for name in [key for key in os.environ if key.startswith("WORKFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WORKFLOW_DEFINITIONS_DIR", str(DEFINITIONS))
    runner = CliRunner()

    def run(*args: str) -> Result:
        result = runner.invoke(app, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert "Traceback" not in result.output
        return result

    return run


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_definitions_validate_refuses_a_hostile_file_in_one_line(invoke: Callable[..., Result], tmp_path: Path,
                                                                 case: Case) -> None:
    path = case.write(tmp_path)
    if case.name == "a directory":  # a folder is where definitions are looked for: this one holds none
        result = invoke("definitions", "validate", str(path))
        assert (result.exit_code, result.output) == (1, f"no definition files in {path}\n")
        return
    started = time.monotonic()
    result = invoke("definitions", "validate", str(path))
    assert time.monotonic() - started < 20  # a bomb or a huge file is stopped early, not worked through
    assert result.exit_code == 1
    assert result.output.splitlines() == [expected(path, case, "definition"), "1 problem(s) found"], result.output


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_an_organisation_file_is_refused_with_its_one_problem(tmp_path: Path, case: Case) -> None:
    path = case.write(tmp_path)
    started = time.monotonic()
    with pytest.raises(InvalidFile) as caught:
        read_org_file(path, known_roles={"dean"})
    assert time.monotonic() - started < 20
    assert [str(problem) for problem in caught.value.problems] == [expected(path, case, "organisation file")]


def test_org_load_prints_the_problem_and_exits_1_without_a_traceback(tmp_path: Path, database_url: str) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WORKFLOW_")},
           "WORKFLOW_DATA_DIR": str(tmp_path / "data"), "WORKFLOW_DATABASE_URL": database_url,
           "WORKFLOW_DEFINITIONS_DIR": str(DEFINITIONS), "WORKFLOW_NOTIFICATIONS_DIR": str(ROOT / "notifications")}
    subprocess.run([sys.executable, "-m", "workflow.cli", "db", "upgrade"], env=env, capture_output=True, timeout=60,
                   check=True)
    for case in (CASES[1], CASES[7]):  # deep nesting and control characters: once uncaught parser errors
        path = case.write(tmp_path)
        result = subprocess.run([sys.executable, "-m", "workflow.cli", "org", "load", str(path)], env=env,
                                capture_output=True, text=True, timeout=60, check=False)
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr == f"{expected(path, case, 'organisation file')}\n1 problem(s) found\n"
