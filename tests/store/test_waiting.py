"""The decisions waiting (``gate_waiting``) that the write path keeps are what the engine says of every stored
credential: rebuilding the table from scratch (as migration 0009 does for an existing database) gives the same
rows, for the demo college walked by its people and for credentials written in bulk by the generator, and so does
the upgrade that creates the table in an existing database."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import select

from tests.organisation import as_person
from tests.steps import at_build
from workflow.context import Services
from workflow.demo.college import seed
from workflow.demo.generate import generate
from workflow.store import waiting
from workflow.store.migrate import alembic_config, upgrade
from workflow.store.waiting import GATE_WAITING


def stored(org: Services) -> list[tuple[Any, ...]]:
    """The table's rows but when each became ready (the write path knows the moment; a rebuild takes the time the
    credential entered its state)."""
    columns = [c for c in GATE_WAITING.c if c.name != "ready_at"]
    with org.database.begin_read() as conn:
        return sorted(tuple(row) for row in conn.execute(select(*columns)))


def rebuilt(org: Services) -> list[tuple[Any, ...]]:
    with org.database.begin() as conn:
        waiting.rebuild(conn, org.definitions.engine)
    return stored(org)


def test_what_the_actions_kept_is_what_a_rebuild_finds(org: Services) -> None:
    seed(org)
    cid = at_build(org)
    org.credentials.decide(credential_id=cid, gate="governance_signoff", verdict="approve", role="qa_office",
                           by=as_person(org, "qa"))
    org.credentials.decide(credential_id=cid, gate="governance_signoff", verdict="approve",
                           role="academic_governance", by=as_person(org, "council.a"))
    kept = stored(org)
    roles = {(row[0], row[2]) for row in kept}
    assert {(cid, "registrar"), (cid, "academic_governance")} <= roles and (cid, "qa_office") not in roles
    council = next(row for row in kept if row[0] == cid and row[2] == "academic_governance")
    assert "|council.a|" in council[5]  # one of the two approvals it needs is in
    assert len(kept) >= 4 and kept == rebuilt(org)


def test_the_generator_writes_what_the_upgrade_to_0009_fills_in(org: Services) -> None:
    generate(org, credentials=300, years=3, seed=7)
    kept = stored(org)
    assert len(kept) > 20
    with org.database.engine.begin() as conn:  # back to the schema before the table existed
        config = alembic_config(org.database)
        config.attributes["connection"] = conn
        command.downgrade(config, "0008")
    upgrade(org.database)  # creates it again, and fills it from the stored definitions
    # on the way up, 0010 folds each credential's rows into its chain once more: one event further
    assert GATE_WAITING.c.keys()[-1] == "seq"
    assert stored(org) == [(*row[:-1], row[-1] + 1) for row in kept]
