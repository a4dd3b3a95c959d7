"""Checking the tamper-evident history: walk each credential's hash chain (written by
:mod:`workflow.store.history`) and report the first broken link, then every gate decision, checklist entry and
data row the chain does not account for (:mod:`workflow.store.accounting`).

An edited, deleted, reordered or added event breaks the chain at that event, and a credential whose state its
history does not explain is reported too; :func:`verify` reports the first broken link of each credential. Rows
are checked against the events before that link: a decision or checklist row that no chained event accounts for
(inserted), one that differs from its event (edited), an event whose row is gone (deleted), and data that is not
what the last event that changed it recorded.

The hash is a checksum, not a signature: it shows that rows were changed outside the application, not who
changed them, and someone able to recompute every hash and the head could rewrite a history unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, select, tuple_

from workflow.store.accounting import DATA_DIGEST, FOLD, data_digest, decision_fault, entry_fault, evidence_fault, same
from workflow.store.database import Database
from workflow.store.documents import DocumentStore
from workflow.store.history import CONTENT, GENESIS, Head, event_hash
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, EVENT, EVIDENCE, GATE_DECISION

BATCH = 5000
ACCOUNTING = ("decision", "checklist", "evidence", FOLD)
"""The kinds of event that decision, checklist and evidence rows point at."""


@dataclass(frozen=True)
class Finding:
    """The first broken link of one credential's history, or a state its history does not explain.

    ``reason``: ``edited`` (an event's hash does not match its content), ``deleted`` (a seq is missing, or the
    history ends before the recorded head), ``reordered`` (an event stands at another seq than it was written
    at, or does not link to the event before it), ``forged`` (an event after the recorded head, or a head the
    history does not end in) or ``state`` (the credential's state is not where its history leads). A finding
    about a row names its ``table`` (``gate_decision``, ``checklist_entry`` or ``credential`` for the data) and
    ``row``, and its reason is ``inserted``, ``edited`` or ``deleted``.
    """

    credential_id: int
    seq: int
    reason: str
    message: str
    table: str = ""
    row: int | None = None

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
           progress: Callable[[int], None] | None = None, documents: DocumentStore | None = None) -> Report:
    """Walk the hash chain of every credential (or of ``credential_ids``) and report the first broken link of each.

    With ``documents``, each evidence file the chain vouches for is read from the store and its SHA-256 compared
    with the one its event recorded: a file altered or removed on disk is named with its credential.

    Credentials and events are read in pages of ``batch`` rows in key order, so memory stays flat however long
    the history is. Run it in one snapshot (see :func:`verify_database`) so that actions committed meanwhile
    cannot look like tampering. ``progress`` is told of each credential checked (1 at a time).
    """
    wanted = sorted(set(credential_ids)) if credential_ids is not None else None
    credentials = select(CREDENTIAL.c.id, CREDENTIAL.c.state, CREDENTIAL.c.previous_state, CREDENTIAL.c.chain_seq,
                         CREDENTIAL.c.chain_hash, CREDENTIAL.c.data).order_by(CREDENTIAL.c.id)
    events = select(*(EVENT.c[name] for name in (*CONTENT, "prev_hash", "hash"))).order_by(EVENT.c.credential_id,
                                                                                           EVENT.c.seq)
    decisions, entries, evidence = (select(table).order_by(table.c.credential_id, table.c.id)
                                    for table in (GATE_DECISION, CHECKLIST_ENTRY, EVIDENCE))
    if wanted is not None:
        credentials = credentials.where(CREDENTIAL.c.id.in_(wanted))
        events = events.where(EVENT.c.credential_id.in_(wanted))
        decisions = decisions.where(GATE_DECISION.c.credential_id.in_(wanted))
        entries = entries.where(CHECKLIST_ENTRY.c.credential_id.in_(wanted))
        evidence = evidence.where(EVIDENCE.c.credential_id.in_(wanted))
    report = Report()
    stream = _Peek(_pages(conn, events, lambda r: tuple_(EVENT.c.credential_id, EVENT.c.seq) > (r.credential_id,
                                                                                                 r.seq), batch))
    rows = {table.name: _Peek(_pages(conn, query, lambda r, t=table: tuple_(t.c.credential_id, t.c.id) > (
        r.credential_id, r.id), batch)) for table, query in ((GATE_DECISION, decisions), (CHECKLIST_ENTRY, entries),
                                                             (EVIDENCE, evidence))}
    digests: dict[str, str | None] = {}  # each stored file read once, however many versions name it
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
        held = {name: _take(peek, credential.id) for name, peek in rows.items()}
        report.findings.extend(accounts(walk, held[GATE_DECISION.name], held[CHECKLIST_ENTRY.name]))
        report.findings.extend(_documents(walk, held[EVIDENCE.name], documents, digests))
        if progress is not None:
            progress(1)
    _orphans(stream, None, report)
    if wanted is not None and report.credentials < len(wanted):
        seen = {f.credential_id for f in report.findings} | set(conn.execute(
            select(CREDENTIAL.c.id).where(CREDENTIAL.c.id.in_(wanted))).scalars())
        report.missing = [cid for cid in wanted if cid not in seen]
    return report


def verify_database(database: Database, credential_ids: Iterable[int] | None = None, *,
                    batch: int = BATCH, progress: Callable[[int], None] | None = None,
                    documents: DocumentStore | None = None) -> Report:
    """:func:`verify` in one read-only snapshot: a read transaction on SQLite (WAL), REPEATABLE READ on PostgreSQL."""
    if database.is_sqlite:
        with database.begin_read() as conn:
            return verify(conn, credential_ids, batch=batch, progress=progress, documents=documents)
    with database.engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            return verify(conn, credential_ids, batch=batch, progress=progress, documents=documents)


class _Walk:
    """One credential's chain, checked event by event; keeps only the last link and the last move."""

    def __init__(self, credential: Row[Any]) -> None:
        self.credential = credential
        self.head = Head(int(credential.chain_seq), str(credential.chain_hash))
        self.seq, self.hash = 0, GENESIS
        self.move: Row[Any] | None = None  # the newest event that moved the credential (it has a to_state)
        self.finding: Finding | None = None
        self.accounts: dict[int, Row[Any]] = {}  # the events rows point at (decision, checklist, fold), by seq
        self.data: Row[Any] | None = None  # the newest event that recorded the data's digest
        self.expected: dict[str, Any] | None = None  # the data as the events since the creation (or fold) say

    def add(self, event: Row[Any]) -> None:
        if self.finding is None:
            self._check(event)
        if self.finding is None:
            if event.kind in ACCOUNTING:
                self.accounts[int(event.seq)] = event
            details = event.details or {}
            if DATA_DIGEST in details:
                self.data = event
            self._replay(event.kind, details)

    def _replay(self, kind: str, details: dict[str, Any]) -> None:
        """Follow the data as the events record it (to name the fields changed outside them)."""
        if kind == "created":
            self.expected = dict(details.get("data") or {})
        elif kind == "data" and self.expected is not None:
            for name, (_, value) in (details.get("changes") or {}).items():
                if value is None:
                    self.expected.pop(name, None)
                else:
                    self.expected[name] = value
        elif kind == FOLD:
            self.expected = None  # only the digest is known

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


def accounts(walk: _Walk, decisions: list[Row[Any]], entries: list[Row[Any]]) -> list[Finding]:
    """What a credential's chain (as far as its first broken link) does not account for: decision and checklist
    rows no event accounts for or that differ from theirs, events whose rows are gone, and data that is not what
    the last event that changed it recorded."""
    cid = int(walk.credential.id)
    found: list[Finding] = []

    def event(seq: int | None) -> dict[str, Any] | None:
        at = walk.accounts.get(seq) if seq is not None else None
        return None if at is None else {"kind": at.kind, "actor": at.actor, "comment": at.comment,
                                        "details": at.details or {}}

    for table, rows, fault in ((GATE_DECISION.name, decisions, decision_fault),
                               (CHECKLIST_ENTRY.name, entries, entry_fault)):
        for row in rows:
            if walk.finding is not None and walk.finding.reason != "state" and (row.seq or 0) >= walk.finding.seq:
                continue  # its event is past the first broken link, already reported
            why = fault(dict(row._mapping), event(row.seq))
            if why is not None:
                found.append(Finding(cid, int(row.seq or 0), why.reason, f"{table} row {row.id} ({_about(row)}): "
                                     f"{why.message} ({why.reason})", table, int(row.id)))
    found.extend(_gone(walk, decisions, entries))
    found.extend(_data(walk))
    return found


def _documents(walk: _Walk, rows: list[Row[Any]], documents: DocumentStore | None,
               digests: dict[str, str | None]) -> Iterator[Finding]:
    """The evidence rows the chain does not account for, evidence events whose rows are gone, and (with
    ``documents``) each stored file that is no longer the bytes its event vouched for."""
    cid = int(walk.credential.id)
    seqs = {row.seq for row in rows}
    for seq, event in sorted(walk.accounts.items()):
        if event.kind == "evidence" and seq not in seqs:
            details = event.details or {}
            yield Finding(cid, seq, "deleted", f"evidence_document row of event {seq} ({details.get('target')} "
                                               f"version {details.get('version')}) is gone (deleted)", EVIDENCE.name)
    for row in rows:
        if walk.finding is not None and walk.finding.reason != "state" and (row.seq or 0) >= walk.finding.seq:
            continue
        at = walk.accounts.get(row.seq) if row.seq is not None else None
        why = evidence_fault(dict(row._mapping), None if at is None else {
            "kind": at.kind, "actor": at.actor, "comment": at.comment, "details": at.details or {}})
        what = f"{row.target} version {row.version} ({row.filename or row.link})"
        if why is not None:
            yield Finding(cid, int(row.seq or 0), why.reason, f"evidence_document row {row.id} ({what}): "
                          f"{why.message} ({why.reason})", EVIDENCE.name, int(row.id))
            continue
        if documents is None or not row.sha256:
            continue
        if row.sha256 not in digests:
            digests[row.sha256] = documents.digest(row.sha256)
        now = digests[row.sha256]
        if now is None:
            yield Finding(cid, int(row.seq or 0), "file deleted", f"the file of {what}, SHA-256 {row.sha256}, is "
                          "missing from the document store (deleted)", EVIDENCE.name, int(row.id))
        elif now != row.sha256:
            yield Finding(cid, int(row.seq or 0), "file altered", f"the file of {what} was altered in the document "
                          f"store: its SHA-256 is {now}, not {row.sha256} as event {row.seq} recorded",
                          EVIDENCE.name, int(row.id))


def _about(row: Row[Any]) -> str:
    if "gate" in row._mapping:
        return f"{row.verdict} on {row.gate} round {row.round} by {row.actor} as {row.role}"
    return f"{row.item_key} round {row.round} {'done' if row.done else 'not done'} by {row.actor}"


def _gone(walk: _Walk, decisions: list[Row[Any]], entries: list[Row[Any]]) -> Iterator[Finding]:
    """Events whose rows are gone: a decision event's row, the row of the newest checklist event of each item and
    round, the rows a fold event vouched for."""
    cid = int(walk.credential.id)
    decided = {row.seq for row in decisions}
    ids = {GATE_DECISION.name: {row.id for row in decisions}, CHECKLIST_ENTRY.name: {row.id for row in entries}}
    ticked = {(row.item_key, row.round): row for row in entries}
    newest: dict[tuple[str, int], int] = {}
    for seq, event in sorted(walk.accounts.items()):
        details = event.details or {}
        if event.kind == "decision" and "round" in details and seq not in decided:
            yield Finding(cid, seq, "deleted", f"gate_decision row of event {seq} ({details.get('verdict')} on "
                                               f"{details.get('gate')} by {event.actor}) is gone (deleted)",
                          GATE_DECISION.name)
        elif event.kind == "checklist" and "round" in details:
            newest[str(details.get("item")), int(details["round"])] = seq
        elif event.kind == FOLD:
            for table, vouched in ((t, details.get(t) or {}) for t in ids):
                for row_id in sorted(int(i) for i in vouched if int(i) not in ids[table]):
                    yield Finding(cid, seq, "deleted", f"{table} row {row_id} that event {seq} (the upgrade's) "
                                                       "accounted for is gone (deleted)", table, row_id)
    for (item, round_), seq in sorted(newest.items(), key=lambda pair: pair[1]):
        row = ticked.get((item, round_))
        if row is None:
            yield Finding(cid, seq, "deleted", f"checklist_entry row of event {seq} ({item} round {round_}) is gone "
                                               "(deleted)", CHECKLIST_ENTRY.name)
        elif row.seq is not None and row.seq < seq:
            yield Finding(cid, seq, "edited", f"checklist_entry row {row.id} ({item} round {round_}) stands as event "
                                              f"{row.seq} left it, not as event {seq} did (edited)",
                          CHECKLIST_ENTRY.name, int(row.id))


def _data(walk: _Walk) -> Iterator[Finding]:
    """The credential's data, against the digest the newest event that changed it recorded."""
    credential, cid = walk.credential, int(walk.credential.id)
    if walk.finding is not None and walk.finding.reason != "state":
        return  # the events past the first broken link are not to be trusted
    if walk.data is None:
        if credential.data:
            yield Finding(cid, 0, "inserted", "credential data: no event accounts for it (inserted)", "credential",
                          cid)
    elif (recorded := walk.data.details[DATA_DIGEST]) != data_digest(credential.data):
        seq, data, expected = int(walk.data.seq), dict(credential.data or {}), walk.expected
        if expected is None or data_digest(expected) != recorded:
            yield Finding(cid, seq, "edited", f"credential data: it is not what event {seq} recorded (edited)",
                          "credential", cid)
            return
        for name in sorted(data.keys() | expected.keys()):
            if name not in expected:
                reason = "inserted"
            elif name not in data:
                reason = "deleted"
            elif not same(data[name], expected[name]):
                reason = "edited"
            else:
                continue
            yield Finding(cid, seq, reason, f"credential data: field '{name}' is not what event {seq} recorded "
                                            f"({reason})", "credential", cid)


def _take(stream: _Peek, credential_id: int) -> list[Row[Any]]:
    """The rows of ``stream`` (ordered by credential) of one credential; those of credentials before it are
    skipped (they are gone with their credential)."""
    while (row := stream.peek()) is not None and row.credential_id < credential_id:
        next(stream)
    taken = []
    while (row := stream.peek()) is not None and row.credential_id == credential_id:
        taken.append(next(stream))
    return taken


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
