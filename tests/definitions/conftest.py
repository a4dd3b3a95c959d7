"""Helpers for the definition tests: the repository root and a way to run the real ``workflow`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT

RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """Run ``python -m workflow.cli ARGS`` from the repository root, as a user would, with a 60 s limit.

    ``WORKFLOW_*`` settings of the calling shell are dropped so that the defaults (``definitions/``) apply;
    any output that contains a traceback fails the test at once.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("WORKFLOW_")}
    env["WORKFLOW_DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONIOENCODING"] = "utf-8"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "workflow.cli", *args], capture_output=True, text=True,
                                encoding="utf-8", env=env, cwd=ROOT, timeout=60, check=False)
        assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
        return result

    return run
