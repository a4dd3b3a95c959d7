"""timers: due times per credential, claimed with a lease and fired at most once

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import workflow.store.frozen

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('timer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=150), nullable=False),
    sa.Column('timer', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('due_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=100), nullable=True),
    sa.Column('trigger', sa.String(length=100), nullable=True),
    sa.Column('notify', JSON_DOCUMENT, nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_until', workflow.store.frozen.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=1000), nullable=False),
    sa.Column('created_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fired_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['credential_id'], ['credential.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.create_index('ix_timer_credential', ['credential_id', 'status'], unique=False)
        batch_op.create_index('ix_timer_due', ['status', 'due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.drop_index('ix_timer_due')
        batch_op.drop_index('ix_timer_credential')
    op.drop_table('timer')
