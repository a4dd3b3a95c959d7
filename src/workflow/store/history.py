"""The one write path of a credential's history: every event, its place in the hash chain, the credential's new
version and chain head, its checklist entries and gate decisions, its timers and the outbox messages an action
causes are written here and nowhere else.

Live actions (the services), the demo generator and anything else that records what happened to a credential
build their rows with the same functions, so that a history written by any of them verifies the same way
(``workflow audit verify``). An action writes its rows inside its own transaction; the generator writes many
credentials' rows with :func:`write_batch`.

Every event row carries ``hash`` = SHA-256 over a canonical serialisation of its content together with
``prev_hash``, the hash of the credential's previous event (:data:`GENESIS` for the first); the hash is the
frozen version 1 of :mod:`workflow.store.frozen`. The credential row keeps the chain head (``chain_seq``,
``chain_hash``), so deleting the newest events is noticed too. Each checklist entry and gate decision records the
seq of the event that wrote it, and that event carries what the row holds (:mod:`workflow.store.accounting`), so
the chain accounts for every row a guard reads.

The hot statements of a live action (version bump, events, checklist entry, decision) go straight to the driver
(:mod:`workflow.store.driver`); what an action reads is :mod:`workflow.store.lookups`; the rest is SQLAlchemy
Core, built once. On this path ORM objects — and even Core's per-statement machinery — cost more than the
database.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BindParameter, Column, Connection, bindparam, insert, select, update

from workflow.engine import Engine
from workflow.engine.timers import PlannedTimer
from workflow.errors import StaleVersion
from workflow.store import waiting
from workflow.store.driver import execute, insert_into, statement
from workflow.store.frozen import CONTENT, GENESIS, event_hash
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, EVENT, EVIDENCE, GATE_DECISION, OUTBOX, TIMER

__all__ = ["CONTENT", "GENESIS", "Head", "History", "chain_rows", "event_hash"]

KIND_OF_TIMER = {"remind": "reminder", "escalate": "escalation", "warn": "warning"}
"""The history event a timer that does not fire a transition records."""


class Head(NamedTuple):
    """The end of a credential's chain: the seq and hash of its newest event."""

    seq: int
    hash: str


def event_row(credential_id: int, seq: int, at: datetime, actor: str, kind: str, *, trigger: str | None = None,
              from_state: str | None = None, to_state: str | None = None, comment: str = "",
              details: dict[str, Any] | None = None) -> dict[str, Any]:
    """One history event, not yet chained."""
    return {"credential_id": credential_id, "seq": seq, "at": at, "actor": actor, "kind": kind, "trigger": trigger,
            "from_state": from_state, "to_state": to_state, "comment": comment, "details": details or {}}


def chain_rows(prev_hash: str, rows: Sequence[MutableMapping[str, Any]]) -> Head:
    """Fill ``prev_hash`` and ``hash`` on one credential's new event rows, in seq order; return the new head.

    Args:
        prev_hash: the credential's current head hash (:data:`GENESIS` for a new credential).
        rows: event rows (dicts with the :data:`CONTENT` keys) of one credential, consecutive seqs, oldest first.

    Returns:
        The head to store on the credential row as ``chain_seq`` and ``chain_hash``.

    Raises:
        ValueError: no rows, rows of more than one credential, or seqs that do not follow each other.
    """
    if not rows:
        raise ValueError("no event rows to chain")
    first = rows[0]
    for position, row in enumerate(rows):
        if row["credential_id"] != first["credential_id"] or row["seq"] != first["seq"] + position:
            raise ValueError(f"event rows must be one credential's consecutive seqs, oldest first; row {position} "
                             f"is credential {row['credential_id']} seq {row['seq']}")
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = event_hash(prev_hash, row)
    return Head(int(rows[-1]["seq"]), prev_hash)


@dataclass
class History:
    """One credential's history as it grows: the head it has reached and the events recorded but not yet written.

    ``seq`` is also the credential's version: every event bumps it by one.
    """

    credential_id: int
    seq: int = 0
    hash: str = GENESIS
    new: list[dict[str, Any]] = field(default_factory=list)

    def append(self, at: datetime, actor: str, kind: str, **fields: Any) -> dict[str, Any]:
        """Record the next event, chained to the one before; returns its row."""
        row = event_row(self.credential_id, self.seq + 1, at, actor, kind, **fields)
        row["prev_hash"] = self.hash
        row["hash"] = self.hash = event_hash(self.hash, row)
        self.seq += 1
        self.new.append(row)
        return row

    @property
    def head(self) -> Head:
        return Head(self.seq, self.hash)

    def take(self) -> list[dict[str, Any]]:
        """The events recorded since the last take, oldest first."""
        taken, self.new = self.new, []
        return taken


# -- one action's writes -------------------------------------------------------------------------------------

_CID: BindParameter[int] = bindparam("cid")
_HEAD = ("version", "chain_seq", "chain_hash")
_EVENT_COLUMNS = ("credential_id", "seq", "at", "actor", "kind", "trigger", "from_state", "to_state", "comment",
                  "details", "prev_hash", "hash")


def start(conn: Connection, values: Mapping[str, Any]) -> History:
    """Insert a new credential (``values``: its columns but id, version and chain head) at version 0; returns its
    empty history, to which the action appends the creation before it is written with :func:`write`."""
    key = conn.execute(insert(CREDENTIAL), {**values, "version": 0, "chain_seq": 0,
                                            "chain_hash": GENESIS}).inserted_primary_key
    assert key is not None
    return History(int(key[0]))


def write(conn: Connection, history: History, changes: Mapping[str, Any], engine: Engine,
          read: Mapping[str, Any], *, entries: Sequence[Any] | None = None,
          decisions: Sequence[Any] | None = None) -> bool:
    """Store what an action has recorded: the credential's new columns with its version and chain head, in one
    update that checks the version the action started from, and the new events; then bring the credential's
    decisions waiting (:mod:`workflow.store.waiting`) in step with the checklist entries and decisions the action
    wrote before (``read``: the credential's columns as the action read them; ``entries`` and ``decisions``: all
    of them, as the action keeps them, if it read them). Returns whether anything was recorded (:func:`reread`
    gives the row as the update left it).

    Raises:
        StaleVersion: the credential moved on since the action read it.
    """
    events = history.take()
    if not events:
        return False
    seen = int(events[0]["seq"]) - 1
    names = tuple(name for name in changes if name not in _HEAD)

    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        sets = (*_HEAD, *names)
        return (f"UPDATE credential SET {', '.join(f'{n} = {p}' for n in sets)} WHERE id = {p} AND version = {p}",
                [CREDENTIAL.c[n] for n in (*sets, "id", "version")])

    bumped = execute(conn, statement(conn, ("bump", names), build),
                      (history.seq, history.seq, history.hash, *(changes[n] for n in names),
                       history.credential_id, seen))
    if bumped.rowcount != 1:
        raise StaleVersion(history.credential_id, seen)
    execute(conn, statement(conn, "event", insert_into(EVENT, _EVENT_COLUMNS)),
             [tuple(event[c] for c in _EVENT_COLUMNS) for event in events], many=True)
    now = {**read, **changes, "id": history.credential_id, "chain_seq": history.seq}
    waiting.refresh(conn, engine, now, str(read["state"]), events[-1]["at"], entries=entries, decisions=decisions)
    return True


def entry_row(credential_id: int, item: str, round_: int, *, done: bool, note: str, actor: str,
              at: datetime, seq: int) -> dict[str, Any]:
    """A checklist entry: one item's state in one round, written by the event ``seq`` (see
    :func:`workflow.store.accounting.entry_details` for what that event carries)."""
    return {"credential_id": credential_id, "item_key": item, "round": round_, "done": done, "note": note,
            "actor": actor, "updated_at": at, "seq": seq}


_ENTRY_COLUMNS = ("credential_id", "item_key", "round", "done", "note", "actor", "updated_at", "seq")
_DECISION_COLUMNS = ("credential_id", "gate", "round", "role", "actor", "principal", "verdict", "comment", "seen",
                     "decided_at", "seq")


def write_entry(conn: Connection, row: Mapping[str, Any]) -> None:
    """Store a checklist entry, over the one of the same item and round if there is one (one upsert)."""

    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        sql, columns = insert_into(CHECKLIST_ENTRY, _ENTRY_COLUMNS)(p)
        return (f"{sql} ON CONFLICT (credential_id, item_key, round) DO UPDATE SET done = excluded.done, "
                "note = excluded.note, actor = excluded.actor, updated_at = excluded.updated_at, seq = excluded.seq",
                columns)

    execute(conn, statement(conn, "entry", build), tuple(row[c] for c in _ENTRY_COLUMNS))


def decision_row(credential_id: int, gate: str, round_: int, *, role: str, actor: str, principal: str,
                 verdict: str, comment: str, seen: Any, at: datetime, seq: int) -> dict[str, Any]:
    """A decision on a gate, with what its approver saw, written by the event ``seq`` (see
    :func:`workflow.store.accounting.decision_details` for what that event carries)."""
    return {"credential_id": credential_id, "gate": gate, "round": round_, "role": role, "actor": actor,
            "principal": principal, "verdict": verdict, "comment": comment, "seen": seen, "decided_at": at,
            "seq": seq}


def write_decision(conn: Connection, row: Mapping[str, Any]) -> None:
    """Store a decision on a gate."""
    execute(conn, statement(conn, "decision", insert_into(GATE_DECISION, _DECISION_COLUMNS)),
             tuple(row[c] for c in _DECISION_COLUMNS))


def evidence_row(credential_id: int, target: str, version: int, *, filename: str, content_type: str, size: int,
                 sha256: str, link: str, actor: str, at: datetime, seq: int) -> dict[str, Any]:
    """A version of the evidence attached to a checklist item or the proposal, written by the event ``seq``
    (see :func:`workflow.store.accounting.evidence_details` for what that event carries)."""
    return {"credential_id": credential_id, "target": target, "version": version, "filename": filename,
            "content_type": content_type, "size": size, "sha256": sha256, "link": link, "actor": actor,
            "created_at": at, "seq": seq}


def write_evidence(conn: Connection, row: Mapping[str, Any]) -> None:
    """Store a version of a piece of evidence (its file is in the document store already)."""
    conn.execute(insert(EVIDENCE), dict(row))


# -- timers -----------------------------------------------------------------------------------------------------

class Pending(NamedTuple):
    """A pending timer as stored: what keeping timers in step compares with the plan."""

    id: Any  # the row's id, or any handle the caller keeps
    key: str
    state: str | None
    due_at: datetime


@dataclass(frozen=True)
class TimerChanges:
    """How to bring pending timers to a plan: cancel some, re-time some, add the new ones."""

    cancel: list[Pending]
    retime: list[tuple[Pending, datetime]]
    add: list[PlannedTimer]


def timer_changes(pending: Sequence[Pending], planned: Sequence[PlannedTimer]) -> TimerChanges:
    """Compare a credential's pending timers with the plan: those no longer planned (or planned for another
    state) are cancelled, moved ones re-timed, and planned ones not pending added."""
    by_key = {p.key: p for p in pending}
    wanted = {p.key: p for p in planned}
    cancel, retime = [], []
    for key, row in by_key.items():
        want = wanted.get(key)
        if want is None or want.state != row.state:
            cancel.append(row)
        elif want.due_at != row.due_at:
            retime.append((row, want.due_at))
    add = [p for key, p in wanted.items() if key not in by_key or by_key[key].state != p.state]
    return TimerChanges(cancel, retime, add)


def timer_row(credential_id: int, planned: PlannedTimer, now: datetime) -> dict[str, Any]:
    """A new pending timer."""
    return {"credential_id": credential_id, "key": planned.key, "timer": planned.timer, "action": planned.action,
            "due_at": planned.due_at, "state": planned.state, "trigger": planned.trigger,
            "notify": list(planned.notify), "status": "pending", "lease_owner": None, "lease_until": None,
            "attempts": 0, "outcome": "", "created_at": now, "fired_at": None}


_PENDING = (select(TIMER.c.id, TIMER.c.key, TIMER.c.state, TIMER.c.due_at)
            .where(TIMER.c.credential_id == _CID, TIMER.c.status == "pending"))
_CANCEL = update(TIMER).where(TIMER.c.id.in_(bindparam("timer_ids", expanding=True))).values(
    status="cancelled", outcome=bindparam("outcome"), fired_at=bindparam("now"))
_RETIME = update(TIMER).where(TIMER.c.id == bindparam("timer_id")).values(due_at=bindparam("due"))
_TIMER_DONE = update(TIMER).where(TIMER.c.id == bindparam("timer_id"))


def sync_timers(conn: Connection, credential_id: int, planned: Sequence[PlannedTimer], now: datetime,
                reason: str) -> None:
    """Make a credential's pending timers exactly ``planned`` (see :func:`timer_changes`); cancelled ones keep
    ``reason``."""
    pending = [Pending(*row) for row in conn.execute(_PENDING, {"cid": credential_id})]
    changes = timer_changes(pending, planned)
    for row, due in changes.retime:
        conn.execute(_RETIME, {"timer_id": row.id, "due": due})
    if changes.cancel:
        conn.execute(_CANCEL, {"timer_ids": [row.id for row in changes.cancel], "outcome": f"cancelled: {reason}",
                               "now": now})
    if changes.add:
        conn.execute(insert(TIMER), [timer_row(credential_id, p, now) for p in changes.add])


def timer_done(conn: Connection, timer_id: int, outcome: str, at: datetime) -> None:
    """Close a timer that was carried out (or found to be moot): done, or cancelled when ``outcome`` says so."""
    conn.execute(_TIMER_DONE, {"timer_id": timer_id, "status": "cancelled" if outcome.startswith("cancelled")
                               else "done", "outcome": outcome, "fired_at": at})


# -- the outbox -------------------------------------------------------------------------------------------------

def write_messages(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Put an action's messages into the outbox (addressed and rendered by :mod:`workflow.notify.outbox`);
    returns how many."""
    if rows:
        conn.execute(insert(OUTBOX), [dict(row) for row in rows])
    return len(rows)


# -- many credentials at once -----------------------------------------------------------------------------------

@dataclass
class Batch:
    """The rows many credentials add at once, per table (the demo generator writes its batches this way)."""

    credentials: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)

    def count(self) -> int:
        return (len(self.credentials) + len(self.events) + len(self.entries) + len(self.decisions)
                + len(self.timers))


def write_batch(conn: Connection, batch: Batch, engine: Engine) -> None:
    """Insert a batch of whole credentials (ids given) of ``engine``'s definition, their chained histories and
    what goes with them, and their decisions waiting."""
    for table, values in ((CREDENTIAL, batch.credentials), (EVENT, batch.events), (CHECKLIST_ENTRY, batch.entries),
                          (GATE_DECISION, batch.decisions), (TIMER, batch.timers)):
        if values:
            conn.execute(insert(table), values)
    waiting.add_batch(conn, engine, batch.credentials, batch.entries, batch.decisions)
