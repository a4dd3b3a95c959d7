"""rows in the chain: each gate decision and checklist entry records the seq of the event that accounts for it

From now on the event that writes a decision or checklist row carries what the row holds, and the event that
changes a credential's data carries the digest of the whole data. The rows and data that exist already are folded
into the chain once: each credential with any gets ONE event of kind ``fold``, chained after its recorded head,
that carries each row's digest (with the seq of the older event it was matched to, by kind, gate or item, actor
and order, where there is one) and the data's digest; the rows then point at it, and the credential's version,
chain head and decisions waiting (their ``seq``) move on to it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import workflow.store.frozen
from workflow.store.frozen import data_digest, event_hash, row_digest

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
BATCH = 500
SCHEMA = '0010'
ACTOR = 'system'

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_credential = sa.table('credential', sa.column('id', sa.Integer()), sa.column('data', JSON_DOCUMENT),
                       sa.column('version', sa.Integer()), sa.column('chain_seq', sa.Integer()),
                       sa.column('chain_hash', sa.String()))
_event = sa.table('event', sa.column('credential_id', sa.Integer()), sa.column('seq', sa.Integer()),
                  sa.column('at', workflow.store.frozen.UTCDateTime()), sa.column('actor', sa.String()),
                  sa.column('kind', sa.String()), sa.column('trigger', sa.String()),
                  sa.column('from_state', sa.String()), sa.column('to_state', sa.String()),
                  sa.column('comment', sa.String()), sa.column('details', JSON_DOCUMENT),
                  sa.column('prev_hash', sa.String()), sa.column('hash', sa.String()))
_decision = sa.table('gate_decision', *(sa.column(n, sa.Integer()) for n in ('id', 'credential_id', 'round', 'seq')),
                     *(sa.column(n, sa.String()) for n in ('gate', 'role', 'actor', 'principal', 'verdict',
                                                           'comment')),
                     sa.column('seen', JSON_DOCUMENT))
_entry = sa.table('checklist_entry', *(sa.column(n, sa.Integer()) for n in ('id', 'credential_id', 'round', 'seq')),
                  *(sa.column(n, sa.String()) for n in ('item_key', 'note', 'actor')), sa.column('done', sa.Boolean()))

_waiting = sa.table('gate_waiting', sa.column('credential_id', sa.Integer()), sa.column('seq', sa.Integer()))


def upgrade() -> None:
    # Nullable columns without a default: added in place on SQLite (no table rebuild).
    op.add_column('gate_decision', sa.Column('seq', sa.Integer(), nullable=True))
    op.add_column('checklist_entry', sa.Column('seq', sa.Integer(), nullable=True))
    _fold(op.get_bind())


def _fold(conn: sa.Connection) -> None:
    """Fold every credential's rows and data into its chain, a page of credentials at a time."""
    upgraded_at = datetime.now(UTC).isoformat(timespec='seconds')
    after = 0
    while True:
        credentials = conn.execute(sa.select(_credential).where(_credential.c.id > after)
                                   .order_by(_credential.c.id).limit(BATCH)).all()
        if not credentials:
            return
        ids = [c.id for c in credentials]
        events = _by_credential(conn.execute(
            sa.select(_event.c.credential_id, _event.c.seq, _event.c.at, _event.c.actor, _event.c.kind,
                      _event.c.details).where(_event.c.credential_id.in_(ids)).order_by(_event.c.seq)))
        decisions = _by_credential(conn.execute(sa.select(_decision).where(_decision.c.credential_id.in_(ids))
                                                .order_by(_decision.c.id)))
        entries = _by_credential(conn.execute(sa.select(_entry).where(_entry.c.credential_id.in_(ids))
                                              .order_by(_entry.c.id)))
        for credential in credentials:
            _fold_one(conn, credential, events.get(credential.id, []), decisions.get(credential.id, []),
                      entries.get(credential.id, []), upgraded_at)
        after = ids[-1]


def _by_credential(rows: Any) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.credential_id, []).append(row)
    return grouped


def _fold_one(conn: sa.Connection, credential: Any, events: list[Any], decisions: list[Any], entries: list[Any],
              upgraded_at: str) -> None:
    if not decisions and not entries and not credential.data:
        return
    used: set[int] = set()
    vouched_decisions = {}
    for row in decisions:  # in the order they were written, each to the first unused decision event like it
        match = next((e.seq for e in events if e.kind == 'decision' and e.seq not in used and e.actor == row.actor
                      and (e.details or {}).get('gate') == row.gate), None)
        if match is not None:
            used.add(match)
        vouched_decisions[str(row.id)] = {'digest': row_digest('gate_decision', row._mapping), 'event': match}
    vouched_entries = {}
    for row in entries:  # to the newest checklist event that ticked its item
        match = next((e.seq for e in reversed(events) if e.kind == 'checklist' and e.actor == row.actor
                      and (e.details or {}).get('item') == row.item_key), None)
        vouched_entries[str(row.id)] = {'digest': row_digest('checklist_entry', row._mapping), 'event': match}
    seq = max([int(credential.chain_seq), *(int(e.seq) for e in events)]) + 1
    at = events[-1].at if events else datetime.now(UTC)
    fold = {'credential_id': credential.id, 'seq': seq, 'at': at, 'actor': ACTOR, 'kind': 'fold', 'trigger': None,
            'from_state': None, 'to_state': None,
            'comment': f'Rows accounted for at upgrade to schema {SCHEMA}',
            'details': {'schema': SCHEMA, 'upgraded_at': upgraded_at, 'gate_decision': vouched_decisions,
                        'checklist_entry': vouched_entries, 'data_digest': data_digest(credential.data)}}
    fold['prev_hash'] = credential.chain_hash
    fold['hash'] = event_hash(credential.chain_hash, fold)
    conn.execute(sa.insert(_event), fold)
    for table, vouched in ((_decision, vouched_decisions), (_entry, vouched_entries)):
        if vouched:
            conn.execute(sa.update(table).where(table.c.id.in_([int(i) for i in vouched])).values(seq=seq))
    conn.execute(sa.update(_credential).where(_credential.c.id == credential.id)
                 .values(version=seq, chain_seq=seq, chain_hash=fold['hash']))
    conn.execute(sa.update(_waiting).where(_waiting.c.credential_id == credential.id).values(seq=seq))


def downgrade() -> None:
    # The fold events stay in the chains they were hashed into.
    op.drop_column('checklist_entry', 'seq')
    op.drop_column('gate_decision', 'seq')
