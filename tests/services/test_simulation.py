"""Simulation against the organisation in the database (SQLite and PostgreSQL): the roles people hold decide which
gates can be passed and which checklist items have owners; giving people the missing roles clears the findings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import DEFINITIONS
from tests.organisation import load_org
from workflow.cli import app
from workflow.context import Services
from workflow.services.simulation import role_holders, simulate_in_organisation

OFFICES = """
units: []
users:
  - {username: fin, name: Finance office, roles: [{role: finance, unit: northern}]}
  - {username: mkt, name: Marketing office, roles: [{role: marketing, unit: northern}]}
  - {username: it, name: IT office, roles: [{role: it, unit: northern}]}
  - {username: hr, name: HR office, roles: [{role: hr, unit: northern}]}
  - {username: success, name: Student success, roles: [{role: student_success, unit: northern}]}
  - {username: ce, name: Continuing education, roles: [{role: continuing_education, unit: northern}]}
"""


def test_role_holders_counts_active_people_by_role(org: Services) -> None:
    holders = role_holders(org.database)
    assert holders["dean"] == 2 and holders["academic_governance"] == 3 and holders["registrar"] == 1
    assert "finance" not in holders


def test_the_test_organisation_leaves_feasibility_a_dead_end_until_the_offices_are_staffed(org: Services) -> None:
    definition = org.definitions.engine("microcredential").definition
    report = simulate_in_organisation(org.database, definition)
    dead = {f.subject: f.message for f in report.of_kind("dead-end")}
    assert list(dead) == ["feasibility"]
    assert dead["feasibility"].startswith(
        "Credentials in Feasibility can go no further (only “Put on hold” and “Withdraw” leave it): "
        "“Approve feasibility” needs “Initial budget drafted”, owned by the Finance, and nobody holds that role")
    unowned = {f.subject for f in report.of_kind("unowned-item")}
    assert {"initial_budget", "price_sensitivity", "lms_shell_ready", "learning_goals"} <= unowned
    assert report.of_kind("gate-blocked") == []
    assert {f.subject for f in report.of_kind("timer-never-fires")} >= {"content_review_due", "hard_expiry"}
    assert all(p.blocked for p in report.paths)

    load_org(org, OFFICES)
    after = simulate_in_organisation(org.database, definition)
    assert after.of_kind("dead-end") == [] and after.of_kind("timer-never-fires") == []
    assert {f.subject for f in after.of_kind("unowned-item")} == {  # personal roles, given on a credential's team
        "objectives_per_competency", "rubric_written", "employer_content_review", "learning_goals",
        "industry_co_design", "employer_review_of_content"}
    assert not any(p.blocked for p in after.paths)


def test_simulate_command_reads_the_organisation_from_the_database(org: Services, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [key for key in os.environ if key.startswith("WORKFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WORKFLOW_DATABASE_URL", org.settings.database_url)
    monkeypatch.setenv("WORKFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WORKFLOW_DEFINITIONS_DIR", str(DEFINITIONS))
    result = CliRunner().invoke(app, ["definitions", "simulate", "microcredential"])
    assert result.exit_code == 1, result.output
    assert "with the organisation in the database: 8 of its 16 roles held by someone" in result.output
    assert "  [dead-end] Credentials in Feasibility can go no further" in result.output
    assert "Traceback" not in result.output
    load_org(org, OFFICES)
    again = CliRunner().invoke(app, ["definitions", "simulate", "microcredential"])
    assert "[dead-end]" not in again.output and "14 of its 16 roles held by someone" in again.output
