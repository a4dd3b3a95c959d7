"""Moving running credentials to a new version of their definition: a plan first (what each credential's state,
checklist, gate decisions and timers become: :mod:`workflow.engine.migration`), refused as a whole while any
credential would land in a state the new version does not have, then one transaction per credential.

Each credential's transaction locks it, plans it again if it moved since the plan was made, and writes one
history event (kind ``migrated``) naming both versions and carrying the plan, the credential's new version,
state and timers (:mod:`workflow.store.history`, the one write path). A migration stopped half way leaves every
credential either wholly on the old version or wholly on the new one; running it again carries on with those
still on the old one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from workflow.clock import Clock, LocalDays
from workflow.definitions.migration_map import StateMapping, check_mapping
from workflow.engine import Decision, Engine
from workflow.engine.migration import CredentialPlan, Snapshot, plan_credential, unmapped
from workflow.errors import Conflict, InvalidInput
from workflow.services.definitions import DefinitionRegistry
from workflow.services.facts import current
from workflow.store import history, lookups, waiting
from workflow.store.database import Database
from workflow.store.history import History
from workflow.store.tables import CREDENTIAL, TIMER

KIND = "migrated"
PAGE = 500


@dataclass(frozen=True)
class MigrationPlan:
    """The plan for every credential of ``name`` not yet on ``to_version`` (those in a final state stay)."""

    name: str
    title: str
    to_version: int
    credentials: tuple[CredentialPlan, ...]
    staying: int  # credentials in a final state: their history is closed, they keep their version

    @property
    def refused(self) -> list[CredentialPlan]:
        return unmapped(self.credentials)


class MigrationRefused(Conflict):
    """Some credentials would land in a state the new version does not have; nothing was changed."""

    def __init__(self, plans: list[CredentialPlan]) -> None:
        self.plans = plans
        listed = "; ".join(f"#{p.id} {p.title} {p.problem}" for p in plans[:10])
        more = f" (and {len(plans) - 10} more)" if len(plans) > 10 else ""
        super().__init__(f"{len(plans)} credential(s) cannot be migrated: {listed}{more}")


@dataclass(frozen=True)
class Migrated:
    """What a migration did."""

    migrated: list[CredentialPlan]
    replanned: list[int]  # credentials that moved between the plan and their migration, planned again


class Migrations:
    """Plans and carries out the migration of running credentials to another version of their definition."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, clock: Clock, days: LocalDays) -> None:
        self._db = database
        self._definitions = definitions
        self._clock = clock
        self._days = days

    def plan(self, name: str, to_version: int, mapping: StateMapping | None = None) -> MigrationPlan:
        """The plan for every credential of ``name`` on another version than ``to_version``.

        Raises:
            workflow.errors.NotFound: no such definition or version.
            workflow.errors.InvalidDefinition: the mapping names a state either version does not have.
        """
        mapping = mapping or StateMapping()
        new = self._engine(name, to_version)
        plans: list[CredentialPlan] = []
        staying = 0
        now = self._clock.now()
        checked: set[int] = set()
        with self._db.begin_read() as conn:
            for row in self._rows(conn, name, to_version):
                old = self._definitions.engine(name, row.definition_version)
                if row.definition_version not in checked:
                    check_mapping(mapping, old.definition, new.definition, old_version=f"version "
                                  f"{row.definition_version}", new_version=f"version {to_version}")
                    checked.add(row.definition_version)
                if old.definition.states[row.state].final:
                    staying += 1
                    continue
                plans.append(plan_credential(old, new, mapping.states, _snapshot(conn, row), now=now,
                                             days=self._days))
        return MigrationPlan(name, new.definition.title, to_version, tuple(plans), staying)

    def apply(self, plan: MigrationPlan, mapping: StateMapping | None = None, *, actor: str = "migration",
              progress: Callable[[int], None] | None = None) -> Migrated:
        """Carry out ``plan``, one transaction per credential.

        Raises:
            MigrationRefused: some credential cannot be migrated (nothing is changed).
        """
        if plan.refused:
            raise MigrationRefused(plan.refused)
        mapping = mapping or StateMapping()
        new = self._engine(plan.name, plan.to_version)
        done: list[CredentialPlan] = []
        replanned: list[int] = []
        for planned in plan.credentials:
            with self._db.begin() as conn:
                row = lookups.lock(conn, planned.id)
                if row is None or row.definition_version == plan.to_version:
                    continue
                old = self._definitions.engine(plan.name, row.definition_version)
                if old.definition.states[row.state].final:
                    continue
                step = planned
                if row.version != planned.version:  # it moved since the plan was made
                    step = plan_credential(old, new, mapping.states, _snapshot(conn, row), now=self._clock.now(),
                                           days=self._days)
                    replanned.append(planned.id)
                    if step.problem is not None:
                        raise MigrationRefused([step])
                self._write(conn, row, new, plan.to_version, step, actor)
            done.append(step)
            if progress is not None:
                progress(1)
        return Migrated(done, replanned)

    def _write(self, conn: Connection, row: lookups.CredentialRow, new: Engine, to_version: int,
               step: CredentialPlan, actor: str) -> None:
        now = self._clock.now()
        chain = History(row.id, int(row.version), str(row.chain_hash))
        # The event's from_state is the state a later "resume" goes back to (the credential's previous state, as
        # every move records it); the state it left is in the details.
        chain.append(now, actor, KIND, from_state=step.previous_state, to_state=step.to_state,
                     comment=f"Moved from version {row.definition_version} to version {to_version} "
                             f"of {new.definition.title}",
                     details={"definition": row.definition_name, "from_version": row.definition_version,
                              "to_version": to_version, **step.summary()})
        changes = {"definition_version": to_version, "state": step.to_state,
                   "previous_state": step.previous_state, "updated_at": now}
        history.write(conn, chain, changes, new, row._asdict() | {"state": step.to_state})
        if not waiting.could_wait(new, step.to_state):
            waiting.clear(conn, row.id)
        history.sync_timers(conn, row.id, step.planned, now,
                            f"migrated to version {to_version}")

    def _engine(self, name: str, version: int) -> Engine:
        if version < 1:
            raise InvalidInput("--to", "a version is a number from 1")
        return self._definitions.engine(name, version)

    def _rows(self, conn: Connection, name: str, to_version: int) -> Iterator[lookups.CredentialRow]:
        last = 0
        while True:
            page = conn.execute(select(CREDENTIAL).where(
                CREDENTIAL.c.definition_name == name, CREDENTIAL.c.definition_version != to_version,
                CREDENTIAL.c.id > last).order_by(CREDENTIAL.c.id).limit(PAGE)).all()
            if not page:
                return
            for found in page:
                yield lookups.CredentialRow(*found)
            last = page[-1].id


def _snapshot(conn: Connection, row: Any) -> Snapshot:
    entries = current(lookups.read_entries(conn, row.id), row.rounds)
    recorded: list[Any] = lookups.read_decisions(conn, row.id)
    decisions = tuple(Decision(d.gate, d.role, d.actor, d.verdict, d.comment, d.principal, d.seen or None)
                      for d in recorded if d.round == row.rounds.get(d.gate, 0))
    pending = {t.key: t.due_at for t in conn.execute(
        select(TIMER.c.key, TIMER.c.due_at).where(TIMER.c.credential_id == row.id,
                                                  TIMER.c.status == "pending"))}
    return Snapshot(row.id, row.title, int(row.version), row.state, row.previous_state, row.state_entered_at,
                    dict(row.data), frozenset(k for k, e in entries.items() if e.done), decisions, pending)


