"""Decisions waiting: one row per credential, gate and approver role whose approval the gate still needs now
(the rule applies to the credential's data, its stage is open, and it is short of approvals), with the
principals whose approval already counts, the checklist count and the due date.

It is derived from the credential, its checklist entries and its decisions by the engine, and kept current by
the one write path (:mod:`workflow.store.history`): every action's :func:`~workflow.store.history.write` calls
:func:`refresh` for its credential, and the generator's :func:`~workflow.store.history.write_batch` adds the rows
of the credentials it writes. Migration 0009 created it; :func:`workflow.store.migrate.upgrade` fills it right
after (:func:`rebuild_from_stored`) for the credentials that existed before, and a backup carries it like any
other table (a backup of an earlier schema gets it filled when it is upgraded after its restore). Inboxes read it
with SQL alone (see :mod:`workflow.services.approvals`).

The cost on the write path (bench/service_bench.py, SQLite): nothing is read for a credential that cannot wait
before or after the action; otherwise one read of its rows, the engine's tally, one delete and one insert, about
50 µs per action; the entries and decisions the action read already are reused.

``ready_at`` is when the row first appeared: the action that opened the decision (a move into the state, or the
approval that opened the next stage); rows written in bulk or rebuilt use the time the credential entered its
state. An approver rule with policy ``all`` counts as short until its gate moves on: the derived row knows no
role holders, and each holder's own approval takes the row out of that holder's inbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Connection, ForeignKey, Index, Integer, delete, insert, select
from sqlmodel import Field, SQLModel

from workflow.definitions.loader import parse_definition
from workflow.engine import Decision, Engine, Facts
from workflow.store import lookups
from workflow.store.driver import execute, insert_into, select_by_credential, statement
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, GATE_DECISION, StoredDefinition
from workflow.store.types import UTCDateTime

DEFINITION = StoredDefinition.__table__  # type: ignore[attr-defined]

EVERYONE = 1_000_000
"""Role holders assumed for an approver rule with policy ``all`` (see the module's docstring)."""


class GateWaiting(SQLModel, table=True):
    """A gate of a credential waiting for the approval of one role."""

    __tablename__ = "gate_waiting"
    __table_args__ = (Index("ix_gate_waiting_role_unit", "role", "org_unit_id", "due_at"),)

    credential_id: int = Field(sa_column=Column(Integer, ForeignKey("credential.id", ondelete="CASCADE"),
                                                primary_key=True))
    gate: str = Field(max_length=100, primary_key=True)
    role: str = Field(max_length=100, primary_key=True)
    trigger: str = Field(max_length=100)
    stage: int = 1
    approved: str = Field(default="|", max_length=4000)  # "|alice|bob|": principals whose approval counts
    checklist_done: int = 0
    checklist_total: int = 0
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ready_at: datetime = Field(sa_type=UTCDateTime)
    # The credential's as the last write left them, so that lists need not read the credential rows they skip.
    title: str = Field(max_length=300)
    org_unit_id: int | None = None
    seq: int = 0  # the credential's chain head (its version)


GATE_WAITING = SQLModel.metadata.tables["gate_waiting"]


def approved_marker(principal: str) -> str:
    """What ``approved`` contains when ``principal``'s approval counts."""
    return f"|{principal}|"


def rows_for(engine: Engine, credential: Any, entries: Iterable[Any], decisions: Iterable[Any],
             ready_at: Mapping[tuple[str, str], datetime] | None = None, *,
             new_from: datetime | None = None) -> list[dict[str, Any]]:
    """The waiting rows of one credential (``credential`` has the credential table's columns; ``entries`` and
    ``decisions`` are its rows of every round, decisions oldest first; ``ready_at`` keeps the times of rows that
    were waiting already, new ones are ready from ``new_from``, else from when the credential entered its
    state)."""
    state = engine.definition.states.get(credential.state)
    if state is None or state.final:
        return []
    gated = [(trigger, req) for trigger, req in engine.requirements_from(credential.state) if req.gate is not None]
    if not gated:
        return []
    rounds = credential.rounds or {}
    done = frozenset(e.item_key for e in entries if e.done and e.round == rounds.get(e.item_key, 0))
    current = tuple(Decision(d.gate, d.role, d.actor, d.verdict, d.comment, d.principal, d.seen or None)
                    for d in decisions if d.round == rounds.get(d.gate, 0))
    holders = {a.role: EVERYONE for _, req in gated for a in req.gate.approvers if a.policy == "all"}  # type: ignore[union-attr]
    facts = Facts(state=credential.state, data=credential.data or {}, done=done, decisions=current,
                  previous_state=credential.previous_state, role_holders=holders)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for trigger, req in gated:
        gate = req.gate
        assert gate is not None and req.gate_id is not None
        valid, _ = req.standing(facts)
        tally = req.tally(facts, valid)
        stage = min((a.stage for a, have, need in tally if have < need), default=None)  # as req.open_stage
        approved = sorted({d.who for d in valid if d.verdict == "approve"})
        items = req.items_for(facts.data)
        due = credential.state_entered_at + timedelta(days=gate.due_days) if gate.due_days else None
        for approver, have, need in tally:
            key = (req.gate_id, approver.role)
            if have >= need or (stage is not None and approver.stage > stage) or key in found:
                continue
            found[key] = {
                "credential_id": credential.id, "gate": req.gate_id, "role": approver.role, "trigger": trigger,
                "stage": approver.stage, "approved": "|" + "".join(f"{p}|" for p in approved),
                "checklist_done": sum(1 for item in items if item.key in done), "checklist_total": len(items),
                "due_at": due, "ready_at": (ready_at or {}).get(key, new_from or credential.state_entered_at),
                "title": credential.title, "org_unit_id": credential.org_unit_id, "seq": credential.chain_seq,
            }
    return list(found.values())


_ENTRIES = select(CHECKLIST_ENTRY.c.item_key, CHECKLIST_ENTRY.c.round, CHECKLIST_ENTRY.c.done)
_DECISIONS = select(GATE_DECISION.c.gate, GATE_DECISION.c.round, GATE_DECISION.c.role, GATE_DECISION.c.actor,
                    GATE_DECISION.c.principal, GATE_DECISION.c.verdict, GATE_DECISION.c.comment,
                    GATE_DECISION.c.seen)


def could_wait(engine: Engine, state: str) -> bool:
    """Whether a credential in ``state`` can have a decision waiting (a transition out of it has a gate)."""
    return any(req.gate is not None for _, req in engine.requirements_from(state))


def refresh(conn: Connection, engine: Engine, credential: Mapping[str, Any], was: str, at: datetime, *,
            entries: Sequence[Any] | None = None, decisions: Sequence[Any] | None = None) -> None:
    """Bring one credential's waiting rows in step after an action: ``credential`` holds its columns as the
    action left them, ``was`` the state it started in; rows new since the last refresh are ready from ``at``.
    ``entries`` and ``decisions`` (of every round, decisions oldest first) are read unless the action has them.
    Nothing is read unless the credential could wait before or after (its reads and writes go straight to the
    driver, like the rest of an action's)."""
    waited, waits = could_wait(engine, was), could_wait(engine, credential["state"])
    if not waited and not waits:
        return
    cid = int(credential["id"])
    before = {(gate, role): ready for gate, role, ready in select_by_credential(
        conn, "waiting", GATE_WAITING, ("gate", "role", "ready_at"), "", (cid,))} if waited else {}
    rows: list[dict[str, Any]] = []
    if waits:
        rows = rows_for(engine, _Row(credential), lookups.read_entries(conn, cid) if entries is None else entries,
                        lookups.read_decisions(conn, cid) if decisions is None else decisions, before, new_from=at)
    if before:
        execute(conn, statement(conn, "waiting-delete", _DELETE), (cid,))
    if rows:
        execute(conn, statement(conn, "waiting-insert", insert_into(GATE_WAITING, _COLUMNS)),
                [tuple(row[c] for c in _COLUMNS) for row in rows], many=True)


_COLUMNS = tuple(c.name for c in GATE_WAITING.c)


def _DELETE(p: str) -> tuple[str, Sequence[Column[Any]]]:
    return f"DELETE FROM gate_waiting WHERE credential_id = {p}", [GATE_WAITING.c.credential_id]


def add_batch(conn: Connection, engine: Engine, credentials: Sequence[Mapping[str, Any]],
              entries: Iterable[Mapping[str, Any]], decisions: Iterable[Mapping[str, Any]]) -> int:
    """Insert the waiting rows of credentials written in bulk (rows given as the batch holds them); returns how
    many."""
    by_credential: dict[int, tuple[list[Any], list[Any]]] = {int(c["id"]): ([], []) for c in credentials}
    for entry in entries:
        by_credential[int(entry["credential_id"])][0].append(_Row(entry))
    for decision in decisions:
        by_credential[int(decision["credential_id"])][1].append(_Row(decision))
    rows: list[dict[str, Any]] = []
    for credential in credentials:
        found = by_credential[int(credential["id"])]
        rows.extend(rows_for(engine, _Row(credential), found[0], found[1]))
    if rows:
        conn.execute(insert(GATE_WAITING), rows)
    return len(rows)


def rebuild(conn: Connection, engine_for: Callable[[str, int], Engine | None], *, page: int = 1000) -> int:
    """Fill the table afresh from every credential stored (after a migration or a restore); returns how many
    rows. A credential whose definition version is not stored (``engine_for`` gives None) has none."""
    conn.execute(delete(GATE_WAITING))
    total, after = 0, 0
    while True:
        credentials = conn.execute(select(CREDENTIAL).where(CREDENTIAL.c.id > after)
                                   .order_by(CREDENTIAL.c.id).limit(page)).all()
        if not credentials:
            return total
        after = credentials[-1].id
        ids = [c.id for c in credentials]
        entries: dict[int, list[Any]] = {i: [] for i in ids}
        decisions: dict[int, list[Any]] = {i: [] for i in ids}
        for e in conn.execute(_ENTRIES.add_columns(CHECKLIST_ENTRY.c.credential_id)
                              .where(CHECKLIST_ENTRY.c.credential_id.in_(ids))):
            entries[e.credential_id].append(e)
        for d in conn.execute(_DECISIONS.add_columns(GATE_DECISION.c.credential_id)
                              .where(GATE_DECISION.c.credential_id.in_(ids)).order_by(GATE_DECISION.c.id)):
            decisions[d.credential_id].append(d)
        rows: list[dict[str, Any]] = []
        for c in credentials:
            engine = engine_for(c.definition_name, c.definition_version)
            if engine is not None:
                rows.extend(rows_for(engine, c, entries[c.id], decisions[c.id]))
        if rows:
            conn.execute(insert(GATE_WAITING), rows)
        total += len(rows)


def rebuild_from_stored(conn: Connection) -> int:
    """:func:`rebuild` with the engines of the definition versions stored in the database."""
    sources = {(row.name, row.version): row.source for row in conn.execute(
        select(DEFINITION.c.name, DEFINITION.c.version, DEFINITION.c.source))}
    engines: dict[tuple[str, int], Engine | None] = {}

    def engine_for(name: str, version: int) -> Engine | None:
        if (name, version) not in engines:
            source = sources.get((name, version))
            engines[(name, version)] = None if source is None else Engine(
                parse_definition(source, file=f"{name} version {version}").definition)
        return engines[(name, version)]

    return rebuild(conn, engine_for)


class _Row:
    """Attribute access to a row given as a mapping."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


def clear(conn: Connection, credential_id: int) -> None:
    """Remove a credential's waiting rows (its definition changed under it and no gate is open where it is)."""
    execute(conn, statement(conn, "waiting-delete", _DELETE), (credential_id,))
