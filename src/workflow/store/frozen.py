"""Formats that stored data depends on, frozen at version 1: the event hash of the audit chain, the digests of
the rows and data the chain vouches for, and the UTC timestamp column type. Migrations import from here and
nothing else of ``workflow``.

Nothing here may change meaning: every stored chain was hashed with :func:`event_hash` and every migration
replays against these definitions. A new format is a new name (``event_hash_v2`` ...) beside the old one,
never an edit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

GENESIS = "0" * 64
"""The ``prev_hash`` of a credential's first event."""

CONTENT = ("credential_id", "seq", "at", "actor", "kind", "trigger", "from_state", "to_state", "comment", "details")
"""The columns of an event that its hash covers (with ``prev_hash``)."""

JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass a timezone-aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def canonical(row: Mapping[Any, Any], prev_hash: str) -> bytes:
    """The bytes an event's hash is taken over: stable JSON of its content fields and ``prev_hash``.

    Keys are sorted, the time is UTC ISO 8601 with microseconds, a whole float counts as the integer it equals
    (a JSON column may give back ``40`` for ``40.0``) and non-finite numbers are refused.

    Raises:
        ValueError: a naive time, or a non-finite number in ``details``.
    """
    at = row["at"]
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise ValueError(f"event time must be a timezone-aware datetime, not {at!r}")
    content = {
        "credential_id": int(row["credential_id"]), "seq": int(row["seq"]),
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"), "actor": row["actor"], "kind": row["kind"],
        "trigger": row["trigger"], "from_state": row["from_state"], "to_state": row["to_state"],
        "comment": row["comment"], "details": _plain(row["details"] or {}), "prev_hash": prev_hash,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("ascii")


def event_hash(prev_hash: str, row: Mapping[Any, Any]) -> str:
    """The hash of one event (a mapping with the :data:`CONTENT` keys) following ``prev_hash``."""
    return hashlib.sha256(canonical(row, prev_hash)).hexdigest()


RECORDED = {
    "gate_decision": ("credential_id", "gate", "round", "role", "actor", "principal", "verdict", "comment", "seen"),
    "checklist_entry": ("credential_id", "item_key", "round", "done", "note", "actor"),
}
"""The columns of a decision or checklist row that guards read: what a row's digest covers (version 1)."""


def row_digest(table: str, row: Mapping[str, Any]) -> str:
    """The digest of what guards read of one ``gate_decision`` or ``checklist_entry`` row (see :data:`RECORDED`)."""
    content = {name: _cell(name, row[name]) for name in RECORDED[table]}
    return _digest(content)


def data_digest(data: Mapping[str, Any] | None) -> str:
    """The digest of a credential's whole data (version 1), kept by the event that last changed it."""
    return _digest(data or {})


def _cell(name: str, value: Any) -> Any:
    if name in ("credential_id", "round"):
        return int(value)
    if name == "done":
        return bool(value)
    if name == "seen":
        return value or {}
    return value


def _digest(content: Any) -> str:
    text = json.dumps(_plain(content), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
