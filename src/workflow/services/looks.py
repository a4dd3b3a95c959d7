"""Looks: remember the history a person has seen of a credential, and tell them what changed since."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.dialects import postgresql, sqlite

from workflow.clock import Clock
from workflow.store.database import Database
from workflow.store.looks import LOOK
from workflow.store.tables import EVENT

KIND_WORDS = {"checklist": "checklist", "data": "information", "decision": "decision", "comment": "comment",
              "transition": "move", "override": "override", "team": "team", "timer": "timer",
              "fold": "upgrade record", "migrated": "new version", "evidence": "evidence"}


class LookService:
    """One row per person and credential; written when the person opens the credential's page."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def mark(self, user_id: int, credential_id: int, seq: int) -> None:
        """The person has now seen the history up to ``seq``."""
        values = {"user_id": user_id, "credential_id": credential_id, "seq": seq, "seen_at": self._clock.now()}
        dialect = postgresql if self._db.url.startswith("postgresql") else sqlite
        statement = dialect.insert(LOOK).values(**values)
        statement = statement.on_conflict_do_update(index_elements=[LOOK.c.user_id, LOOK.c.credential_id],
                                                    set_={"seq": statement.excluded.seq,
                                                          "seen_at": statement.excluded.seen_at})
        with self._db.begin() as conn:
            conn.execute(statement)

    def seen(self, user_id: int, credential_id: int) -> tuple[int, datetime] | None:
        """The last event of the credential's history the person has seen, and when they looked; ``None`` if never."""
        with self._db.begin_read() as conn:
            look = conn.execute(select(LOOK.c.seq, LOOK.c.seen_at).where(
                LOOK.c.user_id == user_id, LOOK.c.credential_id == credential_id)).first()
        return (look.seq, look.seen_at) if look is not None else None

    def changes(self, user_id: int, credential_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """For each credential the person has looked at: when, and what happened since (by kind)."""
        if not credential_ids:
            return {}
        found: dict[int, dict[str, Any]] = {}
        with self._db.begin_read() as conn:
            for look in conn.execute(select(LOOK).where(LOOK.c.user_id == user_id,
                                                        LOOK.c.credential_id.in_(list(credential_ids)))):
                found[look.credential_id] = {"seen_at": look.seen_at, "count": 0, "kinds": {}}
            if not found:
                return found
            counted = conn.execute(
                select(EVENT.c.credential_id, EVENT.c.kind, func.count().label("n"))
                .join(LOOK, and_(LOOK.c.credential_id == EVENT.c.credential_id, LOOK.c.user_id == user_id))
                .where(EVENT.c.credential_id.in_(list(found)), EVENT.c.seq > LOOK.c.seq)
                .group_by(EVENT.c.credential_id, EVENT.c.kind))
            for row in counted:
                entry = found[row.credential_id]
                entry["count"] += row.n
                entry["kinds"][KIND_WORDS.get(row.kind, row.kind)] = row.n
        for entry in found.values():
            entry["summary"] = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}"
                                         for kind, n in sorted(entry["kinds"].items()))
        return found
