"""The ``workflow`` command walks a credential from the terminal, with plain messages and no tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import SCHEMA_HEAD
from workflow.store.database import Database
from workflow.store.migrate import current_revision, upgrade

ORG = """
units:
  - {key: northern, name: Northern College, kind: institution}
  - {key: arts, name: Faculty of Arts, kind: faculty, parent: northern}
users:
  - {username: pm.jones, name: Pat Jones, roles: [{role: project_manager, unit: arts},
                                                  {role: initiative_lead, unit: arts}]}
  - {username: eng.li, name: Li Eng, roles: [{role: employer_engagement_lead, unit: northern}]}
  - {username: sme.ode, name: Ode Sme, roles: [{role: sme, unit: northern}]}
  - {username: dean.arts, name: Dean of Arts, roles: [{role: dean, unit: arts}]}
"""


def test_walk_a_credential_from_the_terminal(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    upgraded = run("db", "upgrade").stdout
    assert "database is up to date: sqlite:///" in upgraded and "analytics folded: 0 new event(s)" in upgraded
    (tmp_path / "org.yaml").write_text(ORG)
    assert "org units: 2 added, 0 updated; users: 4 added" in run("org", "load", str(tmp_path / "org.yaml")).stdout
    created = run("credentials", "create", "--title", "Drone mapping", "--set", "purpose=Surveyors need pilots",
                  "--set", "notional_hours=30", "--unit", "arts", "--as", "pm.jones")
    assert "created credential #1" in created.stdout
    assert 'notional_hours: 30' in created.stdout

    refused = run("credentials", "fire", "1", "submit_for_feasibility", "--as", "pm.jones", ok=False)
    assert "refused: 'submit_for_feasibility' from 'ideation'" in refused.stderr
    assert "  - “Skills and competencies industry wants identified” is not done (Subject matter expert)" in (
        refused.stderr)

    forbidden = run("credentials", "check", "1", "industry_skills_identified", "--as", "pm.jones", ok=False)
    assert ("ticking “Skills and competencies industry wants identified” needs one of the roles Subject matter "
            "expert on this credential") in forbidden.stderr
    for item, who in (("labour_market_research", "pm.jones"), ("employers_contacted", "eng.li"),
                      ("working_group_formed", "pm.jones"), ("industry_skills_identified", "sme.ode")):
        run("credentials", "check", "1", item, "--note", "see shared drive", "--as", who)
    assert "credential #1: ideation → feasibility" in run("credentials", "fire", "1", "submit_for_feasibility",
                                                          "--as", "pm.jones").stdout

    shown = run("credentials", "show", "1", "--as", "dean.arts").stdout
    assert "state: feasibility (Feasibility)" in shown
    assert "approve_feasibility → design: missing" in shown
    assert "      - Approval by the Dean (leadership champion) is needed" in shown

    bad = run("credentials", "decide", "1", "feasibility_approval", "--decision", "reject", "--as", "dean.arts",
              ok=False)
    assert "error: comment: a comment is required to reject" in bad.stderr
    bad = run("credentials", "set", "1", "notional_hours=lots", "--as", "pm.jones", ok=False)
    assert "error: Notional learning hours: must be a whole number" in bad.stderr
    stale = run("credentials", "set", "1", "purpose=Changed", "--version", "1", "--as", "pm.jones", ok=False)
    assert "changed since version 1" in stale.stderr
    nobody = run("credentials", "show", "1", "--as", "ghost", ok=False)
    assert "there is no user 'ghost'" in nobody.stderr

    history = run("credentials", "history", "1", "--as", "pm.jones").stdout.splitlines()
    assert history[0].split()[3:5] == ["pm.jones", "created"]
    assert "transition submit_for_feasibility ideation → feasibility" in history[-1]


def test_demo_fills_an_empty_database_once(run) -> None:  # type: ignore[no-untyped-def]
    run("db", "upgrade")
    first = run("demo").stdout
    assert "demo data: created credentials #1, #2, #3, #4, #5" in first
    assert "delivery     Cybersecurity essentials for small business" in first
    assert "dean.okafor      dean@business" in first and "demo-password" in first
    assert "none added" in run("demo").stdout
    assert run("analytics", "refold").stdout.startswith("refolded ")  # (the demo's events are too recent to fold)
    assert run("analytics", "fold").stdout.startswith("folded 0 new event(s)")  # nothing twice
    assert "analytics folded: 0 new event(s)" in run("db", "upgrade").stdout


def test_commands_leave_the_schema_to_db_upgrade(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    needs = f"this version needs {SCHEMA_HEAD}); run `workflow db upgrade`\n"
    fresh = run("users", "list", ok=False)
    assert fresh.stderr == f"error: the database is not up to date (no schema yet, {needs}" and not fresh.stdout
    assert run("credentials", "list", "--as", "nobody", ok=False).stderr == fresh.stderr
    assert run("audit", "verify", ok=False).stderr == fresh.stderr
    database = Database(f"sqlite:///{tmp_path / 'data' / 'workflow.db'}")
    try:
        assert current_revision(database) is None  # the refused commands changed nothing
        upgrade(database, "0007")
    finally:
        database.dispose()
    behind = run("demo", ok=False)
    assert behind.stderr == f"error: the database is not up to date (schema 0007, {needs}"

    assert "database is up to date" in run("db", "upgrade").stdout
    assert "demo data: created credentials" in run("demo").stdout
    assert "dean.okafor" in run("users", "list").stdout


def test_python_m_workflow_is_the_same_command() -> None:
    package, module = ([sys.executable, "-m", name, "db", "--help"] for name in ("workflow", "workflow.cli"))
    shown = [subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
             for args in (package, module)]
    assert "Usage: workflow db [OPTIONS] COMMAND" in shown[0] and shown[0] == shown[1]


def test_the_long_running_commands_show_the_services_own_log_lines() -> None:
    shown = subprocess.run([sys.executable, "-c", (
        "import logging, logging.config\n"
        "from workflow.cli.serve import log_config\n"
        "logging.config.dictConfig(log_config())\n"
        "logging.getLogger('workflow.services.timers').info('timer 5 (tick_due) on credential 3: fired')\n"
        "logging.getLogger('workflow.services.timers').debug('poll skipped')\n")],
        capture_output=True, text=True, timeout=60)
    assert "INFO:     workflow.services.timers: timer 5 (tick_due) on credential 3: fired" in shown.stderr
    assert "poll skipped" not in shown.stderr  # debug stays quiet
