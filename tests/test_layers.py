"""The house keeps its floors: no module imports from a floor above its own (the contract in pyproject.toml,
checked by import-linter), and migrations use no live code but the frozen helper, so that they replay the same
after the live code changes."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

MIGRATIONS = ROOT / "src" / "workflow" / "store" / "migrations" / "versions"
FROZEN = "workflow.store.frozen"
LINT = Path(sys.executable).with_name("lint-imports")


def lint(source_root: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    return subprocess.run([str(LINT), "--config", str(config), "--no-cache"], capture_output=True, text=True,
                          env=env, cwd=config.parent, timeout=120)


def test_no_module_imports_from_a_floor_above_it() -> None:
    result = lint(ROOT / "src", ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lower floors never import higher ones KEPT" in result.stdout


@pytest.mark.parametrize(("module", "upward"), [
    ("notify/outbox.py", "from workflow.services.access import Caller"),
    ("store/history.py", "from workflow.web.app import create_app"),
    ("engine/machine.py", "import workflow.store.tables"),
    ("definitions/model.py", "from workflow.engine import Engine"),
])
def test_an_import_from_a_floor_above_is_caught(tmp_path: Path, module: str, upward: str) -> None:
    shutil.copytree(ROOT / "src" / "workflow", tmp_path / "src" / "workflow",
                    ignore=shutil.ignore_patterns("static", "templates", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "workflow" / module
    target.write_text(target.read_text() + f"\n{upward}  # noqa\n")
    result = lint(tmp_path / "src", tmp_path / "pyproject.toml")
    assert result.returncode != 0
    assert "Lower floors never import higher ones BROKEN" in result.stdout


def workflow_imports(source: str) -> list[str]:
    """The ``workflow`` modules a Python source imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "workflow"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "workflow":
            found.append(node.module)
    return found


@pytest.mark.parametrize("migration", sorted(MIGRATIONS.glob("*.py")), ids=lambda p: p.stem)
def test_migrations_use_only_the_frozen_helper(migration: Path) -> None:
    assert set(workflow_imports(migration.read_text())) <= {FROZEN}


def test_a_migration_importing_live_code_is_caught() -> None:
    assert workflow_imports("import workflow.store.frozen\nfrom workflow.store.frozen import event_hash\n") == [
        FROZEN, FROZEN]
    assert workflow_imports("from workflow.services.audit import verify\nimport workflow.store.types\n") == [
        "workflow.services.audit", "workflow.store.types"]
