"""milestone plans: each credential's target dates per phase, its baseline, intake and the alerts sent

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import workflow.store.frozen

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'credential_plan',
        sa.Column('credential_id', sa.Integer(), sa.ForeignKey('credential.id', ondelete='CASCADE'), nullable=False),
        sa.Column('target_on', sa.Date(), nullable=False),
        sa.Column('intake', sa.String(length=100), nullable=False),
        sa.Column('dates', workflow.store.frozen.JSONDocument, nullable=False),
        sa.Column('baseline', workflow.store.frozen.JSONDocument, nullable=False),
        sa.Column('baselined_at', workflow.store.frozen.UTCDateTime(), nullable=False),
        sa.Column('alerted', workflow.store.frozen.JSONDocument, nullable=False),
        sa.Column('updated_at', workflow.store.frozen.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('credential_id'),
    )
    op.create_index('ix_credential_plan_intake', 'credential_plan', ['intake', 'credential_id'])


def downgrade() -> None:
    op.drop_index('ix_credential_plan_intake', table_name='credential_plan')
    op.drop_table('credential_plan')
