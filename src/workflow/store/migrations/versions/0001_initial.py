"""credentials, checklists, decisions, history, definitions

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import workflow.store.frozen

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('credential',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('definition_name', sa.String(length=100), nullable=False),
    sa.Column('definition_version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=100), nullable=False),
    sa.Column('previous_state', sa.String(length=100), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('rounds', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state_entered_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('credential', schema=None) as batch_op:
        batch_op.create_index('ix_credential_state', ['definition_name', 'state'], unique=False)

    op.create_table('definition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('created_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'content_hash', name='uq_definition_name_hash'),
    sa.UniqueConstraint('name', 'version', name='uq_definition_name_version')
    )
    op.create_table('checklist_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=100), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=4000), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('updated_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['credential_id'], ['credential.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('credential_id', 'item_key', 'round', name='uq_checklist_entry')
    )
    op.create_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('trigger', sa.String(length=100), nullable=True),
    sa.Column('from_state', sa.String(length=100), nullable=True),
    sa.Column('to_state', sa.String(length=100), nullable=True),
    sa.Column('comment', sa.String(length=4000), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['credential_id'], ['credential.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('credential_id', 'seq', name='uq_event_seq')
    )
    op.create_table('gate_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('gate', sa.String(length=100), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=100), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('verdict', sa.String(length=20), nullable=False),
    sa.Column('comment', sa.String(length=4000), nullable=False),
    sa.Column('decided_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['credential_id'], ['credential.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('gate_decision', schema=None) as batch_op:
        batch_op.create_index('ix_gate_decision_credential', ['credential_id', 'gate', 'round'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('gate_decision', schema=None) as batch_op:
        batch_op.drop_index('ix_gate_decision_credential')

    op.drop_table('gate_decision')
    op.drop_table('event')
    op.drop_table('checklist_entry')
    op.drop_table('definition')
    with op.batch_alter_table('credential', schema=None) as batch_op:
        batch_op.drop_index('ix_credential_state')

    op.drop_table('credential')
