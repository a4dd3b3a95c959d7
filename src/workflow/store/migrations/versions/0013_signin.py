"""sign-in: accounts from an identity provider, a second factor, idle sessions, pending provider sign-ins and
the sign-in log

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import workflow.store.frozen

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('app_user') as batch:
        batch.add_column(sa.Column('oidc_issuer', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('oidc_subject', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    # A unique index, not a constraint: adding a constraint would make SQLite copy the table, and dropping the old
    # copy would take every row referring to a person (their roles, on delete cascade) with it.
    op.create_index('uq_app_user_oidc', 'app_user', ['oidc_issuer', 'oidc_subject'], unique=True)
    with op.batch_alter_table('login_session') as batch:
        batch.add_column(sa.Column('last_seen_at', workflow.store.frozen.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('authenticated_at', workflow.store.frozen.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('stage', sa.String(length=20), nullable=False, server_default='signed_in'))
        batch.add_column(sa.Column('method', sa.String(length=120), nullable=False, server_default='password'))
    op.create_table(
        'recovery_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('app_user.id', ondelete='CASCADE'), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('used_at', workflow.store.frozen.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code_hash'),
    )
    op.create_index('ix_recovery_code_user', 'recovery_code', ['user_id'])
    op.create_table(
        'oidc_pending',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('state_hash', sa.String(length=64), nullable=False),
        sa.Column('provider', sa.String(length=100), nullable=False),
        sa.Column('nonce', sa.String(length=100), nullable=False),
        sa.Column('code_verifier', sa.String(length=200), nullable=False),
        sa.Column('next_path', sa.String(length=500), nullable=False),
        sa.Column('created_at', workflow.store.frozen.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('state_hash'),
    )
    op.create_table(
        'sign_in_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('app_user.id', ondelete='CASCADE'), nullable=True),
        sa.Column('username', sa.String(length=200), nullable=False),
        sa.Column('at', workflow.store.frozen.UTCDateTime(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('method', sa.String(length=120), nullable=False),
        sa.Column('address', sa.String(length=200), nullable=False),
        sa.Column('user_agent', sa.String(length=300), nullable=False),
        sa.Column('detail', sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_sign_in_event_user', 'sign_in_event', ['user_id', 'at'])
    op.create_index('ix_sign_in_event_at', 'sign_in_event', ['at'])


def downgrade() -> None:
    op.drop_table('sign_in_event')
    op.drop_table('oidc_pending')
    op.drop_table('recovery_code')
    with op.batch_alter_table('login_session') as batch:
        for column in ('method', 'stage', 'authenticated_at', 'last_seen_at'):
            batch.drop_column(column)
    op.drop_index('uq_app_user_oidc', table_name='app_user')
    with op.batch_alter_table('app_user') as batch:
        for column in ('totp_last_step', 'totp_secret', 'oidc_subject', 'oidc_issuer'):
            batch.drop_column(column)
