"""audit chain: each event's hash and its predecessor's; the chain head on each credential

Existing histories are chained as they stand, each credential's events in seq order, so that a database
upgraded from 0004 verifies clean (``workflow audit verify``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import workflow.store.frozen
from workflow.store.frozen import GENESIS, event_hash

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
BATCH = 2000

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_event = sa.table('event', sa.column('id', sa.Integer()), sa.column('credential_id', sa.Integer()),
                  sa.column('seq', sa.Integer()), sa.column('at', workflow.store.frozen.UTCDateTime()),
                  sa.column('actor', sa.String()), sa.column('kind', sa.String()), sa.column('trigger', sa.String()),
                  sa.column('from_state', sa.String()), sa.column('to_state', sa.String()),
                  sa.column('comment', sa.String()), sa.column('details', JSON_DOCUMENT),
                  sa.column('prev_hash', sa.String()), sa.column('hash', sa.String()))
_credential = sa.table('credential', sa.column('id', sa.Integer()), sa.column('chain_seq', sa.Integer()),
                       sa.column('chain_hash', sa.String()))


def upgrade() -> None:
    # The head columns get a default, so SQLite adds them in place: rebuilding the credential table would
    # cascade-delete its children while foreign keys are on.
    with op.batch_alter_table('credential', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_seq', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('chain_hash', sa.String(length=64), server_default=GENESIS, nullable=False))
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)


def _backfill(conn: sa.Connection) -> None:
    """Chain every credential's events in seq order, a page of events at a time, and store each head."""
    columns = [c for c in _event.c if c.name not in ('prev_hash', 'hash')]
    query = sa.select(*columns).order_by(_event.c.credential_id, _event.c.seq).limit(BATCH)
    set_hashes = (sa.update(_event).where(_event.c.id == sa.bindparam('event_id'))
                  .values(prev_hash=sa.bindparam('new_prev'), hash=sa.bindparam('new_hash')))
    set_head = (sa.update(_credential).where(_credential.c.id == sa.bindparam('cid'))
                .values(chain_seq=sa.bindparam('head_seq'), chain_hash=sa.bindparam('head_hash')))
    credential, prev = None, GENESIS
    after: tuple[int, int] | None = None
    while True:
        page = query if after is None else query.where(
            sa.tuple_(_event.c.credential_id, _event.c.seq) > sa.tuple_(*after))
        rows = [dict(r._mapping) for r in conn.execute(page)]
        if not rows:
            break
        heads: dict[int, dict[str, Any]] = {}
        for row in rows:  # seqs as stored: a gap stays a gap, for the verifier to report
            if row['credential_id'] != credential:
                credential, prev = row['credential_id'], GENESIS
            row['prev_hash'], row['hash'] = prev, event_hash(prev, row)
            prev = row['hash']
            heads[row['credential_id']] = {'cid': row['credential_id'], 'head_seq': row['seq'], 'head_hash': prev}
        conn.execute(set_hashes, [{'event_id': r['id'], 'new_prev': r['prev_hash'], 'new_hash': r['hash']}
                                  for r in rows])
        conn.execute(set_head, list(heads.values()))
        after = (rows[-1]['credential_id'], rows[-1]['seq'])


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): no table rebuild, so no cascade from the credential table.
    for table, column in (('event', 'hash'), ('event', 'prev_hash'), ('credential', 'chain_hash'),
                          ('credential', 'chain_seq')):
        op.drop_column(table, column)
