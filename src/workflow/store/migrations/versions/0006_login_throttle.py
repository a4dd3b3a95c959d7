"""login throttle: failed sign-ins by username and by client address

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

import workflow.store.frozen

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_login_failure_key', 'login_failure', ['scope', 'key', 'at'], unique=False)
    op.create_index('ix_login_failure_at', 'login_failure', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_login_failure_at', table_name='login_failure')
    op.drop_index('ix_login_failure_key', table_name='login_failure')
    op.drop_table('login_failure')
