"""calendar sequence: the day and SEQUENCE each calendar event was last published with

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import workflow.store.frozen

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'calendar_event',
        sa.Column('uid', sa.String(length=300), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('changed_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('uid'),
    )


def downgrade() -> None:
    op.drop_table('calendar_event')
