"""decisions waiting: one row per credential, gate and approver role whose approval is still needed

Derived from the credentials, checklist entries and decisions (see workflow.store.waiting), so that inboxes can
sort, filter, count and page with SQL at any size; filled here for the credentials that exist already.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from functools import cache

import sqlalchemy as sa
from alembic import op

import workflow.store.frozen
from workflow.definitions.loader import parse_definition
from workflow.engine import Engine
from workflow.store import waiting

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
    conn = op.get_bind()
    sources = {(row.name, row.version): row.source
               for row in conn.execute(sa.text("SELECT name, version, source FROM definition"))}

    @cache
    def engine_for(name: str, version: int) -> Engine | None:
        source = sources.get((name, version))
        return None if source is None else Engine(parse_definition(source, file=f"{name} {version}").definition)

    waiting.rebuild(conn, engine_for)


def downgrade() -> None:
    op.drop_index('ix_gate_waiting_role_unit', table_name='gate_waiting')
    op.drop_table('gate_waiting')
