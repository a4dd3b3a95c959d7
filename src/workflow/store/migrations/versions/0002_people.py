"""organisation, people, delegations, tokens, sessions; decisions record principal and what was seen

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import workflow.store.frozen

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=True),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('org_unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['org_unit.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('delegation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('from_user_id', sa.Integer(), nullable=False),
    sa.Column('to_user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=100), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('created_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['from_user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('login_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', workflow.store.frozen.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('role_assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=100), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=True),
    sa.Column('credential_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['credential_id'], ['credential.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'role', 'org_unit_id', 'credential_id', name='uq_role_assignment')
    )
    with op.batch_alter_table('role_assignment', schema=None) as batch_op:
        batch_op.create_index('ix_role_assignment_credential', ['credential_id'], unique=False)
        batch_op.create_index('ix_role_assignment_scope', ['role', 'org_unit_id'], unique=False)

    with op.batch_alter_table('credential', schema=None) as batch_op:
        batch_op.add_column(sa.Column('org_unit_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_credential_org_unit_id'), ['org_unit_id'], unique=False)
        batch_op.create_foreign_key('fk_credential_org_unit', 'org_unit', ['org_unit_id'], ['id'])

    with op.batch_alter_table('gate_decision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('principal', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('seen', JSON_DOCUMENT, nullable=True))
    # Decisions made before delegation existed were made by their principals, on what nobody recorded.
    op.execute("UPDATE gate_decision SET principal = actor")
    op.execute(sa.text("UPDATE gate_decision SET seen = :empty").bindparams(
        sa.bindparam("empty", {}, type_=JSON_DOCUMENT)))
    with op.batch_alter_table('gate_decision', schema=None) as batch_op:
        batch_op.alter_column('principal', existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column('seen', existing_type=JSON_DOCUMENT, nullable=False)



def downgrade() -> None:
    with op.batch_alter_table('gate_decision', schema=None) as batch_op:
        batch_op.drop_column('seen')
        batch_op.drop_column('principal')

    with op.batch_alter_table('credential', schema=None) as batch_op:
        batch_op.drop_constraint('fk_credential_org_unit', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_credential_org_unit_id'))
        batch_op.drop_column('org_unit_id')

    with op.batch_alter_table('role_assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_role_assignment_scope')
        batch_op.drop_index('ix_role_assignment_credential')

    op.drop_table('role_assignment')
    op.drop_table('login_session')
    op.drop_table('delegation')
    op.drop_table('api_token')
    op.drop_table('org_unit')
    op.drop_table('app_user')
