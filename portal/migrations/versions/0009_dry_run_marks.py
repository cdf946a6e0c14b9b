"""dry run marks: what a dry run would have written, as rows (flat memory)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 05:30:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dryrunmark',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('run_id', 'kind', 'key')
    )


def downgrade() -> None:
    op.drop_table('dryrunmark')
