"""The rule that keeps the organisation manageable: some active administrator always remains.

Every change that can deactivate someone or take the administrator flag away runs inside
:func:`keep_an_administrator`, in the same transaction as the change. It locks the active administrators' rows
first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write transaction already holds the database's write
lock), so two administrators deactivating each other at once are serialised: the second sees the first's change
and is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, select

from workflow.errors import LastAdministrator
from workflow.store.people import USER

_ACTIVE_ADMINS = select(USER.c.id, USER.c.display_name).where(USER.c.active.is_(True), USER.c.is_admin.is_(True))


@contextmanager
def keep_an_administrator(conn: Connection) -> Iterator[None]:
    """Run the changes in the block; refuse them (raise, so the transaction rolls back) if there were active
    administrators before and none remain after.

    Raises:
        LastAdministrator: naming the administrator(s) the change would have removed.
    """
    before = conn.execute(_ACTIVE_ADMINS.order_by(USER.c.id).with_for_update()).all()
    yield
    if before and conn.execute(_ACTIVE_ADMINS.limit(1)).first() is None:
        raise LastAdministrator([row.display_name for row in before])
