"""Shared fixtures: a database per test (SQLite always, PostgreSQL when a URL is given), services, a clock, the test
organisation loaded into the services, and the `workflow` command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.databases import postgres_schema
from tests.organisation import load_org
from workflow.clock import ManualClock
from workflow.config import Settings
from workflow.context import Services

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_HEAD = max(p.name[:4] for p in (ROOT / "src" / "workflow" / "store" / "migrations" / "versions").glob("0*.py"))
DEFINITIONS = ROOT / "definitions"
POSTGRES_URL = os.environ.get("WORKFLOW_TEST_POSTGRES_URL", "")
# CI sets WORKFLOW_TEST_STRICT=1: PostgreSQL is then required and a skipped test fails the run.
STRICT = os.environ.get("WORKFLOW_TEST_STRICT") == "1"
_skipped: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    if STRICT and not POSTGRES_URL:
        raise pytest.UsageError("WORKFLOW_TEST_STRICT=1 but WORKFLOW_TEST_POSTGRES_URL is not set")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if STRICT and _skipped:
        print(f"\nWORKFLOW_TEST_STRICT=1: {len(_skipped)} test(s) were skipped, which fails the run:")
        for nodeid in _skipped:
            print(f"  {nodeid}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def settings_for(database_url: str, data_dir: Path, **changes: Any) -> Settings:
    """Test settings over ``database_url``: the repository's definitions and templates, the app's own scheduler off
    (tests fire timers themselves, with the controlled clock), no second factor required of administrators (the
    sign-in tests ask for it); ``changes`` replaces any of them."""
    values: dict[str, Any] = {"environment": "test", "database_url": database_url, "data_dir": data_dir,
                              "definitions_dir": DEFINITIONS, "notifications_dir": ROOT / "notifications",
                              "scheduler_in_app": False, "second_factor_required": "nobody"}
    return Settings(**(values | changes))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 9, 1, 9, 0, tzinfo=UTC))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a schema of its own in the PostgreSQL test database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'workflow.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("set WORKFLOW_TEST_POSTGRES_URL to run against PostgreSQL")
    with postgres_schema(POSTGRES_URL) as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A schema of its own in the PostgreSQL test database (for tests that only make sense there)."""
    if not POSTGRES_URL:
        pytest.skip("set WORKFLOW_TEST_POSTGRES_URL to run against PostgreSQL")
    with postgres_schema(POSTGRES_URL) as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path / "data")


@pytest.fixture
def services(settings: Settings, clock: ManualClock) -> Iterator[Services]:
    started = Services.start(settings, clock)
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def org(services: Services) -> Services:
    """The services with the test organisation (tests/organisation.py) loaded."""
    return load_org(services)


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The `workflow` command in a subprocess, on a SQLite database of its own (in the folder ``data`` names, below
    the test's tmp_path); no traceback, the exit code asked."""
    def invoke(*args: str, ok: bool = True, data: str = "data") -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "WORKFLOW_DATA_DIR": str(tmp_path / data), "WORKFLOW_DEFINITIONS_DIR": str(DEFINITIONS),
               "WORKFLOW_NOTIFICATIONS_DIR": str(ROOT / "notifications")}
        env.pop("WORKFLOW_DATABASE_URL", None)
        result = subprocess.run([sys.executable, "-m", "workflow.cli", *args], capture_output=True, text=True,
                                env=env, cwd=tmp_path, timeout=120)
        assert "Traceback" not in result.stdout + result.stderr
        assert (result.returncode == 0) is ok, result.stdout + result.stderr
        return result

    return invoke
