"""decisions waiting: one row per credential, gate and approver role whose approval is still needed

Derived from the credentials, checklist entries and decisions by the engine (see workflow.store.waiting), so that
inboxes can sort, filter, count and page with SQL at any size. A migration uses no live code, so the rows of the
credentials that exist already are filled right after it by workflow.store.migrate.upgrade (with the live
engine and the definition versions stored in the database).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

import workflow.store.frozen

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'gate_waiting',
        sa.Column('credential_id', sa.Integer(), sa.ForeignKey('credential.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('gate', sa.String(length=100), nullable=False),
        sa.Column('role', sa.String(length=100), nullable=False),
        sa.Column('trigger', sa.String(length=100), nullable=False),
        sa.Column('stage', sa.Integer(), nullable=False),
        sa.Column('approved', sa.String(length=4000), nullable=False),
        sa.Column('checklist_done', sa.Integer(), nullable=False),
        sa.Column('checklist_total', sa.Integer(), nullable=False),
        sa.Column('due_at', workflow.store.frozen.UTCDateTime(), nullable=True),
        sa.Column('ready_at', workflow.store.frozen.UTCDateTime(), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('org_unit_id', sa.Integer(), nullable=True),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('credential_id', 'gate', 'role'),
    )
    op.create_index('ix_gate_waiting_role_unit', 'gate_waiting', ['role', 'org_unit_id', 'due_at'])


def downgrade() -> None:
    op.drop_index('ix_gate_waiting_role_unit', table_name='gate_waiting')
    op.drop_table('gate_waiting')
