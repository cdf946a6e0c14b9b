"""daily schedule: connection.next_sync_at and schedule_key, the scheduler lease

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 05:20:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('connection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_sync_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('schedule_key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False,
                                      server_default=''))
        batch_op.create_index(batch_op.f('ix_connection_next_sync_at'), ['next_sync_at'], unique=False)
    op.create_table(
        'schedulerlease',
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('schedulerlease')
    with op.batch_alter_table('connection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_connection_next_sync_at'))
        batch_op.drop_column('schedule_key')
        batch_op.drop_column('next_sync_at')
