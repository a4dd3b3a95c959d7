"""analytics: counts folded from the histories (entries by month, days taken by state, gate and role);
an index of the timers for the renewals and expiries coming

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import workflow.store.frozen

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'analytics_count',
        sa.Column('definition_name', sa.String(length=100), nullable=False),
        sa.Column('faculty_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('days', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('definition_name', 'faculty_id', 'kind', 'key', 'period', 'days'),
    )
    op.create_index('ix_analytics_count_kind', 'analytics_count',
                    ['kind', 'period', 'definition_name', 'faculty_id', 'key', 'days', 'count'], unique=False)
    op.create_index('ix_timer_upcoming', 'timer', ['status', 'action', 'due_at', 'timer', 'credential_id'],
                    unique=False)
    op.create_table(
        'analytics_mark',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('last_event_id', sa.Integer(), nullable=False),
        sa.Column('folded_at', workflow.store.frozen.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('analytics_mark')
    op.drop_index('ix_timer_upcoming', table_name='timer')
    op.drop_index('ix_analytics_count_kind', table_name='analytics_count')
    op.drop_table('analytics_count')
