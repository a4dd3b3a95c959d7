"""evidence documents: versions of the files and links attached to checklist items and proposals

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import workflow.store.frozen

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'evidence_document',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('credential_id', sa.Integer(), nullable=False),
        sa.Column('target', sa.String(length=100), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('content_type', sa.String(length=150), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('link', sa.String(length=2000), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('created_at', workflow.store.frozen.UTCDateTime(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['credential_id'], ['credential.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('credential_id', 'target', 'version', name='uq_evidence_version'),
    )
    op.create_index('ix_evidence_sha256', 'evidence_document', ['sha256'])


def downgrade() -> None:
    op.drop_index('ix_evidence_sha256', table_name='evidence_document')
    op.drop_table('evidence_document')
