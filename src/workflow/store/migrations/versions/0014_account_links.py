"""account links: one-time links that let a person set their password (an invitation, a reset), and an expiry for
API tokens

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import workflow.store.frozen

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'account_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=20), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', workflow.store.frozen.UTCDateTime(), nullable=False),
        sa.Column('expires_at', workflow.store.frozen.UTCDateTime(), nullable=False),
        sa.Column('used_at', workflow.store.frozen.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_account_link_user', 'account_link', ['user_id'])
    with op.batch_alter_table('api_token') as batch:
        batch.add_column(sa.Column('expires_at', workflow.store.frozen.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_token') as batch:
        batch.drop_column('expires_at')
    op.drop_index('ix_account_link_user', table_name='account_link')
    op.drop_table('account_link')
