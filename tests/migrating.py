"""A second version of the micro-credential lifecycle for migration tests, and checks of a migrated database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from workflow.context import Services
from workflow.store.tables import CREDENTIAL, EVENT, TIMER

ROOT = Path(__file__).resolve().parent.parent
V1 = (ROOT / "definitions" / "microcredential.yaml").read_text()

MAPPING = "states:\n  build: build_and_test\n"


def version_2() -> str:
    """Version 2: 'build' renamed 'build_and_test' (a mapping is needed), the feasibility reminder after 10 days
    instead of 14, the feasibility gate asks for the provider too and no longer lists 'Funding applied for'
    (approvals given on what it showed before no longer count), and a new reminder in design."""
    text = V1.replace("  build:\n    title: Build\n", "  build_and_test:\n    title: Build and test\n")
    for key in ("dest", "source", "state"):
        text = text.replace(f"    {key}: build\n", f"    {key}: build_and_test\n")
    text = text.replace("    state: feasibility\n    after: P14D\n", "    state: feasibility\n    after: P10D\n")
    text = text.replace("requires_fields: [title, purpose, description]\n",
                        "requires_fields: [title, purpose, description, provider]\n")
    text = "".join(line for line in text.splitlines(keepends=True) if "key: funding_applied" not in line)
    text += ("  - key: design_reminder\n    title: Design running long\n    action: remind\n    state: design\n"
             "    after: P90D\n    notify: [project_manager]\n")
    assert text.count("build_and_test") >= 4 and "P10D" in text and "design_reminder" in text
    return text


def publish_version_2(services: Services, folder: Path) -> int:
    (folder / "microcredential.yaml").write_text(version_2())
    return services.reload_definitions()["microcredential"]


def state_of_database(services: Services) -> dict[str, Any]:
    """Everything a migration could change, to show that a refused one changed nothing."""
    with services.database.begin_read() as conn:
        credentials = conn.execute(select(CREDENTIAL.c.id, CREDENTIAL.c.definition_version, CREDENTIAL.c.state,
                                          CREDENTIAL.c.version, CREDENTIAL.c.chain_hash)
                                   .order_by(CREDENTIAL.c.id)).all()
        events = conn.execute(select(func.count()).select_from(EVENT)).scalar()
        timers = conn.execute(select(TIMER.c.id, TIMER.c.status, TIMER.c.due_at).order_by(TIMER.c.id)).all()
    return {"credentials": [tuple(r) for r in credentials], "events": events, "timers": [tuple(t) for t in timers]}
