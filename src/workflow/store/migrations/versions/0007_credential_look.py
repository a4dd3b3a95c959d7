"""credential looks: what each person last saw of each credential's history

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import workflow.store.frozen

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'credential_look',
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('app_user.id', ondelete='CASCADE'), nullable=False),
        sa.Column('credential_id', sa.Integer(), sa.ForeignKey('credential.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('seen_at', workflow.store.frozen.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('user_id', 'credential_id'),
    )
    op.create_index('ix_credential_look_credential', 'credential_look', ['credential_id'])


def downgrade() -> None:
    op.drop_index('ix_credential_look_credential', table_name='credential_look')
    op.drop_table('credential_look')
