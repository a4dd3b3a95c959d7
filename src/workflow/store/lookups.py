"""What an action reads, straight from the driver (:mod:`workflow.store.driver`): the credential row it locks, its
checklist entries and gate decisions (only those the hash chain accounts for, each read with its event in one
statement), and the people and department inboxes its messages go to."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Column, Connection, Row, Table, select

from workflow.store.accounting import Fault, decision_fault, entry_fault, evidence_fault
from workflow.store.driver import RESULTS, execute, marks, statement
from workflow.store.people import ASSIGNMENT, ORG_UNIT, USER
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, EVENT, EVIDENCE, GATE_DECISION

log = logging.getLogger(__name__)


class CredentialRow(NamedTuple):
    """A credential row as an action reads it (the columns of ``credential``, converted as SQLAlchemy would)."""

    id: int
    title: str
    definition_name: str
    definition_version: int
    state: str
    previous_state: str | None
    data: dict[str, Any]
    rounds: dict[str, int]
    version: int
    org_unit_id: int | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    state_entered_at: datetime
    chain_seq: int
    chain_hash: str


assert CredentialRow._fields == tuple(CREDENTIAL.c.keys()), "CredentialRow must follow the credential table"

def lock(conn: Connection, credential_id: int) -> CredentialRow | None:
    """Read a credential for an action, locked for it (``FOR UPDATE`` on PostgreSQL; on SQLite the transaction
    holds the write lock already); None if there is no such credential."""
    dialect = conn.dialect
    columns = list(CREDENTIAL.c)

    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        tail = " FOR UPDATE" if dialect.name == "postgresql" else ""
        return (f"SELECT {', '.join(c.name for c in columns)} FROM credential WHERE id = {p}{tail}",
                [CREDENTIAL.c.id])

    cursor = execute(conn, statement(conn, "lock", build), (credential_id,))
    found = cursor.fetchone()
    cursor.close()
    if found is None:
        return None
    results = RESULTS.get(dialect.name)
    if results is None:
        results = RESULTS[dialect.name] = tuple(c.type._cached_result_processor(dialect, None) for c in columns)
    return CredentialRow(*(v if convert is None or v is None else convert(v)
                           for convert, v in zip(results, found, strict=True)))


class EntryRow(NamedTuple):
    """A checklist entry as an action reads it."""

    id: int
    credential_id: int
    item_key: str
    round: int
    done: bool
    note: str
    actor: str
    updated_at: datetime
    seq: int | None


class DecisionRow(NamedTuple):
    """A gate decision as an action reads it (what the engine's facts need)."""

    gate: str
    round: int
    role: str
    actor: str
    principal: str
    verdict: str
    comment: str
    seen: Any


assert EntryRow._fields == tuple(CHECKLIST_ENTRY.c.keys()), "EntryRow must follow the checklist_entry table"

_EVENT_SIDE = ("kind", "actor", "comment", "details")


def _accounted(conn: Connection, key: str, table: Table, columns: Sequence[str], order: str, credential_id: int,
               fault: Callable[[Mapping[str, Any], Mapping[str, Any] | None], Fault | None]
               ) -> list[tuple[Any, ...]]:
    """The rows of ``table`` for a credential that the chain accounts for: each row read with the event at its
    ``seq`` in the same statement (``fault`` says why a row is not accounted for; such rows are left out and
    logged). Returns ``columns`` of each row kept."""
    dialect = conn.dialect
    wanted = (*columns, *(c for c in ("id", "seq") if c not in columns))

    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        return (f"SELECT {', '.join(f'r.{c}' for c in wanted)}, {', '.join(f'e.{c}' for c in _EVENT_SIDE)} "
                f"FROM {table.name} r LEFT JOIN event e ON e.credential_id = r.credential_id AND e.seq = r.seq "
                f"WHERE r.credential_id = {p}{order}", [table.c.credential_id])

    cursor = execute(conn, statement(conn, key, build), (credential_id,))
    found = cursor.fetchall()
    cursor.close()
    results = RESULTS.get(f"{dialect.name}:{key}")
    if results is None:
        results = RESULTS[f"{dialect.name}:{key}"] = tuple(
            c.type._cached_result_processor(dialect, None)
            for c in (*(table.c[n] for n in wanted), *(EVENT.c[n] for n in _EVENT_SIDE)))
    kept = []
    for raw in found:
        values = [v if convert is None or v is None else convert(v) for convert, v in zip(results, raw, strict=True)]
        row = dict(zip(wanted, values[:len(wanted)], strict=True))
        row["credential_id"] = credential_id
        event = dict(zip(_EVENT_SIDE, values[len(wanted):], strict=True))
        why = fault(row, event if event["kind"] is not None else None)
        if why is None:
            kept.append(tuple(values[:len(columns)]))
        else:
            log.warning("credential #%d: %s row %s is not counted (%s): %s", credential_id, table.name, row["id"],
                        why.reason, why.message)
    return kept


def vouched_data(conn: Connection, credential_id: int) -> str | None:
    """The digest of the credential's data as the newest event that vouches for it (created, data, fold) records
    it; None when no event does (a history older than digests)."""
    dialect = conn.dialect

    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        return (f"SELECT details FROM event WHERE credential_id = {p} AND kind IN ('created', 'data', 'fold') "
                f"ORDER BY seq DESC LIMIT 1", [EVENT.c.credential_id])

    cursor = execute(conn, statement(conn, "vouched data", build), (credential_id,))
    found = cursor.fetchone()
    cursor.close()
    if found is None:
        return None
    convert = EVENT.c.details.type._cached_result_processor(dialect, None)
    details = convert(found[0]) if convert is not None and found[0] is not None else found[0]
    digest = (details or {}).get("data_digest")
    return str(digest) if digest is not None else None


def read_entries(conn: Connection, credential_id: int) -> list[EntryRow]:
    """A credential's checklist entries of every round that the chain accounts for
    (:func:`workflow.store.accounting.entry_fault`)."""
    return [EntryRow(*row) for row in _accounted(conn, "accounted entries", CHECKLIST_ENTRY, EntryRow._fields, "",
                                                 credential_id, entry_fault)]


def read_decisions(conn: Connection, credential_id: int) -> list[DecisionRow]:
    """A credential's gate decisions of every round that the chain accounts for, oldest first
    (:func:`workflow.store.accounting.decision_fault`)."""
    return [DecisionRow(*row) for row in _accounted(conn, "accounted decisions", GATE_DECISION, DecisionRow._fields,
                                                    " ORDER BY r.id", credential_id, decision_fault)]


class EvidenceRow(NamedTuple):
    """A version of a piece of evidence as the store holds it."""

    id: int
    credential_id: int
    target: str
    version: int
    filename: str
    content_type: str
    size: int
    sha256: str
    link: str
    actor: str
    created_at: datetime
    seq: int | None


assert EvidenceRow._fields == tuple(EVIDENCE.c.keys()), "EvidenceRow must follow the evidence_document table"


def read_evidence(conn: Connection, credential_id: int) -> list[EvidenceRow]:
    """A credential's evidence, every version of every item, that the chain accounts for
    (:func:`workflow.store.accounting.evidence_fault`), by item then version."""
    return [EvidenceRow(*row) for row in _accounted(conn, "accounted evidence", EVIDENCE, EvidenceRow._fields,
                                                    " ORDER BY r.target, r.version", credential_id, evidence_fault)]


def latest_evidence(rows: Sequence[EvidenceRow]) -> dict[str, str]:
    """What the newest version of each item's evidence is, as a decision records having seen it
    (``"v<version> <sha256 or link>"``), by item."""
    latest: dict[str, EvidenceRow] = {}
    for row in rows:
        if row.target not in latest or row.version > latest[row.target].version:
            latest[row.target] = row
    return {target: f"v{row.version} {row.sha256 or row.link}" for target, row in latest.items()}


def reread(conn: Connection, credential_id: int) -> Row[Any]:
    """The credential row as it stands now (in the action's transaction)."""
    return conn.execute(select(CREDENTIAL).where(CREDENTIAL.c.id == credential_id)).one()


class HolderRow(NamedTuple):
    """Someone holding a role on a credential, as addressing reads them."""

    role: str
    id: int
    username: str
    display_name: str
    email: str
    digest_hour: int | None
    unit_id: int | None  # the org unit the role is held for (None: held on the credential itself)


class InboxRow(NamedTuple):
    """A department inbox above a credential, as addressing reads it."""

    id: int
    name: str
    email: str | None
    handles: list[str] | None
    digest_hour: int | None
    parent_id: int | None


def role_holders(conn: Connection, roles: Sequence[str], credential_id: int,
                 units: Sequence[int]) -> list[HolderRow]:
    """The active people holding ``roles`` on a credential itself or on one of ``units`` (the org units at and
    above it), by role then username: what addressing an action's messages reads, once per action."""
    if not roles:
        return []

    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        on_units = f" OR role_assignment.org_unit_id IN ({marks(p, len(units))})" if units else ""
        return ("SELECT role_assignment.role, app_user.id, app_user.username, app_user.display_name, "
                "app_user.email, app_user.digest_hour, role_assignment.org_unit_id FROM role_assignment "
                "JOIN app_user ON app_user.id = role_assignment.user_id "
                f"WHERE role_assignment.role IN ({marks(p, len(roles))}) AND app_user.active = {p} "
                f"AND (role_assignment.credential_id = {p}{on_units}) "
                "ORDER BY role_assignment.role, app_user.username",
                [ASSIGNMENT.c.role] * len(roles) + [USER.c.active, ASSIGNMENT.c.credential_id]
                + [ASSIGNMENT.c.org_unit_id] * len(units))

    cursor = execute(conn, statement(conn, ("holders", len(roles), len(units)), build),
                      (*roles, True, credential_id, *units))
    found = [HolderRow(*row) for row in cursor.fetchall()]
    cursor.close()
    return found


def inboxes(conn: Connection, units: Sequence[int]) -> list[InboxRow]:
    """The department inboxes of ``units`` and of the units right below them, by id."""
    if not units:
        return []

    def build(p: str) -> tuple[str, Sequence[Column[Any]]]:
        return ("SELECT id, name, email, handles, digest_hour, parent_id FROM org_unit "
                "WHERE email IS NOT NULL AND email != '' "
                f"AND (id IN ({marks(p, len(units))}) OR (parent_id IS NOT NULL "
                f"AND parent_id IN ({marks(p, len(units))}))) ORDER BY id",
                [ORG_UNIT.c.id] * len(units) + [ORG_UNIT.c.parent_id] * len(units))

    cursor = execute(conn, statement(conn, ("inboxes", len(units)), build), (*units, *units))
    found = cursor.fetchall()
    cursor.close()
    handles = ORG_UNIT.c.handles.type._cached_result_processor(conn.dialect, None)
    return [InboxRow(i, name, email, handles(h) if handles is not None and h is not None else h, hour, parent)
            for i, name, email, h, hour, parent in found]


