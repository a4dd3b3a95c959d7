"""Checking the tamper-evident history: walk each credential's hash chain (written by
:mod:`workflow.store.history`) and report the first broken link.

An edited, deleted, reordered or added event breaks the chain at that event, and a credential whose state its
history does not explain is reported too; :func:`verify` reports the first broken link of each credential.

The hash is a checksum, not a signature: it shows that rows were changed outside the application, not who
changed them, and someone able to recompute every hash and the head could rewrite a history unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, select, tuple_

from workflow.store.database import Database
from workflow.store.history import CONTENT, GENESIS, Head, event_hash
from workflow.store.tables import CREDENTIAL, EVENT

BATCH = 5000


@dataclass(frozen=True)
class Finding:
    """The first broken link of one credential's history, or a state its history does not explain.

    ``reason``: ``edited`` (an event's hash does not match its content), ``deleted`` (a seq is missing, or the
    history ends before the recorded head), ``reordered`` (an event stands at another seq than it was written
    at, or does not link to the event before it), ``forged`` (an event after the recorded head, or a head the
    history does not end in) or ``state`` (the credential's state is not where its history leads).
    """

    credential_id: int
    seq: int
    reason: str
    message: str

    def __str__(self) -> str:
        return f"credential #{self.credential_id}: {self.message}"


@dataclass
class Report:
    """What :func:`verify` looked at, and what it found broken."""

    credentials: int = 0
    events: int = 0
    findings: list[Finding] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)  # credentials asked for that have neither a row nor events

    @property
    def ok(self) -> bool:
        return not self.findings and not self.missing


def verify(conn: Connection, credential_ids: Iterable[int] | None = None, *, batch: int = BATCH,
           progress: Callable[[int], None] | None = None) -> Report:
    """Walk the hash chain of every credential (or of ``credential_ids``) and report the first broken link of each.

    Credentials and events are read in pages of ``batch`` rows in key order, so memory stays flat however long
    the history is. Run it in one snapshot (see :func:`verify_database`) so that actions committed meanwhile
    cannot look like tampering. ``progress`` is told of each credential checked (1 at a time).
    """
    wanted = sorted(set(credential_ids)) if credential_ids is not None else None
    credentials = select(CREDENTIAL.c.id, CREDENTIAL.c.state, CREDENTIAL.c.previous_state, CREDENTIAL.c.chain_seq,
                         CREDENTIAL.c.chain_hash).order_by(CREDENTIAL.c.id)
    events = select(*(EVENT.c[name] for name in (*CONTENT, "prev_hash", "hash"))).order_by(EVENT.c.credential_id,
                                                                                           EVENT.c.seq)
    if wanted is not None:
        credentials = credentials.where(CREDENTIAL.c.id.in_(wanted))
        events = events.where(EVENT.c.credential_id.in_(wanted))
    report = Report()
    stream = _Peek(_pages(conn, events, lambda r: tuple_(EVENT.c.credential_id, EVENT.c.seq) > (r.credential_id,
                                                                                                 r.seq), batch))
    for credential in _pages(conn, credentials, lambda r: CREDENTIAL.c.id > r.id, batch):
        report.credentials += 1
        _orphans(stream, credential.id, report)
        walk = _Walk(credential)
        while (row := stream.peek()) is not None and row.credential_id == credential.id:
            walk.add(next(stream))
            report.events += 1
        finding = walk.finish()
        if finding is not None:
            report.findings.append(finding)
        if progress is not None:
            progress(1)
    _orphans(stream, None, report)
    if wanted is not None and report.credentials < len(wanted):
        seen = {f.credential_id for f in report.findings} | set(conn.execute(
            select(CREDENTIAL.c.id).where(CREDENTIAL.c.id.in_(wanted))).scalars())
        report.missing = [cid for cid in wanted if cid not in seen]
    return report


def verify_database(database: Database, credential_ids: Iterable[int] | None = None, *,
                    batch: int = BATCH, progress: Callable[[int], None] | None = None) -> Report:
    """:func:`verify` in one read-only snapshot: a read transaction on SQLite (WAL), REPEATABLE READ on PostgreSQL."""
    if database.is_sqlite:
        with database.begin_read() as conn:
            return verify(conn, credential_ids, batch=batch, progress=progress)
    with database.engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            return verify(conn, credential_ids, batch=batch, progress=progress)


class _Walk:
    """One credential's chain, checked event by event; keeps only the last link and the last move."""

    def __init__(self, credential: Row[Any]) -> None:
        self.credential = credential
        self.head = Head(int(credential.chain_seq), str(credential.chain_hash))
        self.seq, self.hash = 0, GENESIS
        self.move: Row[Any] | None = None  # the newest event that moved the credential (it has a to_state)
        self.finding: Finding | None = None

    def add(self, event: Row[Any]) -> None:
        if self.finding is None:
            self._check(event)

    def _check(self, event: Row[Any]) -> None:
        expected, seq = self.seq + 1, int(event.seq)
        if seq > expected:
            self._broken(expected, "deleted", f"event {expected} is missing (deleted)")
        elif seq < expected:
            self._broken(seq, "reordered", f"event {seq} is out of order")
        elif seq > self.head.seq:
            self._broken(seq, "forged", f"event {seq} was added after the last event the credential recorded "
                                        f"({self.head.seq})")
        elif event_hash(event.prev_hash, event._mapping) != event.hash:
            written = next((s for s in range(1, self.head.seq + 1)
                            if s != seq and event_hash(event.prev_hash, {**event._mapping, "seq": s}) == event.hash),
                           None)
            if written is not None:
                self._broken(seq, "reordered", f"event {seq} is out of order (it was written as event {written})")
            else:
                self._broken(seq, "edited", f"event {seq} was edited (its hash does not match its content)")
        elif event.prev_hash != self.hash:
            self._broken(seq, "reordered", f"event {seq} does not follow event {seq - 1} (it was written after "
                                           "another event)")
        else:
            self.seq, self.hash = seq, event.hash
            if event.to_state is not None:
                self.move = event

    def finish(self) -> Finding | None:
        if self.finding is not None:
            return self.finding
        if self.seq < self.head.seq:
            return self._broken(self.seq + 1, "deleted", f"event {self.seq + 1} is missing (deleted): the history "
                                                         f"ends at event {self.seq} but the credential recorded "
                                                         f"{self.head.seq}")
        if self.hash != self.head.hash:
            return self._broken(self.seq, "forged", f"event {self.seq} is not the last event the credential "
                                                    "recorded (the history was rewritten)")
        state, previous, move = self.credential.state, self.credential.previous_state, self.move
        if move is None:
            return self._broken(0, "state", f"its state '{state}' is not explained by its history (no event "
                                            "moved it)")
        if move.to_state != state:
            return self._broken(move.seq, "state", f"its state '{state}' is not the one its history leads to "
                                                   f"('{move.to_state}', event {move.seq})")
        if move.from_state != previous:
            return self._broken(move.seq, "state", f"its previous state '{previous}' is not the one its history "
                                                   f"says ('{move.from_state}', event {move.seq})")
        return None

    def _broken(self, seq: int, reason: str, message: str) -> Finding:
        self.finding = Finding(int(self.credential.id), seq, reason, message)
        return self.finding


def _orphans(stream: _Peek, before: int | None, report: Report) -> None:
    """Report events of credentials that are gone (below ``before``, or all that remain when it is None)."""
    while (row := stream.peek()) is not None and (before is None or row.credential_id < before):
        cid, first, count = int(row.credential_id), int(row.seq), 0
        while (row := stream.peek()) is not None and row.credential_id == cid:
            next(stream)
            count += 1
        report.events += count
        report.credentials += 1
        report.findings.append(Finding(cid, first, "deleted", f"the credential was deleted but {count} events "
                                                              "of its history remain"))


def _pages(conn: Connection, query: Any, after: Any, batch: int) -> Iterator[Row[Any]]:
    """The rows of ``query`` (ordered by its key), fetched ``batch`` at a time; ``after(row)`` is the next page."""
    page = query.limit(batch)
    while True:
        rows = conn.execute(page).all()
        yield from rows
        if len(rows) < batch:
            return
        page = query.where(after(rows[-1])).limit(batch)


class _Peek:
    """An iterator that can look at its next item."""

    def __init__(self, items: Iterator[Row[Any]]) -> None:
        self._items = items
        self._next: Row[Any] | None = next(items, None)

    def peek(self) -> Row[Any] | None:
        return self._next

    def __iter__(self) -> _Peek:
        return self

    def __next__(self) -> Row[Any]:
        if self._next is None:
            raise StopIteration
        item, self._next = self._next, next(self._items, None)
        return item
