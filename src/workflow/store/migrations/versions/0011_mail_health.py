"""mail health: whether the mail server answers, since when it does not, and when to try it again

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

import workflow.store.frozen

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'mail_health',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('failing_since', workflow.store.frozen.UTCDateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=2000), nullable=False),
        sa.Column('probes', sa.Integer(), nullable=False),
        sa.Column('next_probe_at', workflow.store.frozen.UTCDateTime(), nullable=True),
        sa.Column('last_success_at', workflow.store.frozen.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('mail_health')
