"""scale indexes: credentials by org unit and state, and by state and time in it; a credential's timers by time

Found by measuring a database of 100,000 credentials (bench/scale_bench.py): lists and counts of one state in
someone's org units read every credential of those units; inboxes and task lists sorted whole credential rows of
the states they look at to find the oldest; and a credential's next timers were read through the index of all due
timers (SQLite chose it to avoid sorting) instead of the credential's own.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('credential', schema=None) as batch_op:
        batch_op.create_index('ix_credential_unit_state', ['org_unit_id', 'state'], unique=False)
        batch_op.drop_index('ix_credential_state')
        batch_op.create_index('ix_credential_state', ['definition_name', 'state', 'state_entered_at', 'org_unit_id'],
                              unique=False)
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.drop_index('ix_timer_credential')
        batch_op.create_index('ix_timer_credential', ['credential_id', 'status', 'due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.drop_index('ix_timer_credential')
        batch_op.create_index('ix_timer_credential', ['credential_id', 'status'], unique=False)
    with op.batch_alter_table('credential', schema=None) as batch_op:
        batch_op.drop_index('ix_credential_state')
        batch_op.create_index('ix_credential_state', ['definition_name', 'state'], unique=False)
        batch_op.drop_index('ix_credential_unit_state')
