"""outbox; delivery preferences; calendar feed tokens

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import workflow.store.frozen

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=250), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('recipient_name', sa.String(length=300), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('org_unit_id', sa.Integer(), nullable=True),
    sa.Column('credential_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=False),
    sa.Column('ics', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('digest_id', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_until', workflow.store.frozen.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=2000), nullable=False),
    sa.Column('created_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['credential_id'], ['credential.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_outbox_recipient', ['recipient', 'status'], unique=False)

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest_hour', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('timezone', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('calendar_token_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_app_user_calendar_token_hash', ['calendar_token_hash'])

    with op.batch_alter_table('org_unit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handles', JSON_DOCUMENT, nullable=True))
        batch_op.add_column(sa.Column('digest_hour', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('timezone', sa.String(length=60), nullable=True))
    op.execute(sa.text("UPDATE org_unit SET handles = :none").bindparams(sa.bindparam("none", [], type_=JSON_DOCUMENT)))
    with op.batch_alter_table('org_unit', schema=None) as batch_op:
        batch_op.alter_column('handles', existing_type=JSON_DOCUMENT, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('org_unit', schema=None) as batch_op:
        batch_op.drop_column('timezone')
        batch_op.drop_column('digest_hour')
        batch_op.drop_column('handles')

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_constraint('uq_app_user_calendar_token_hash', type_='unique')
        batch_op.drop_column('calendar_token_hash')
        batch_op.drop_column('timezone')
        batch_op.drop_column('digest_hour')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_recipient')
        batch_op.drop_index('ix_outbox_due')

    op.drop_table('outbox')
