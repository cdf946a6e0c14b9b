"""decisions by Microsoft 365 user: delta runs look up earlier removals of users that come back

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 10:35:00
"""

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_syncdecision_m365_id', 'syncdecision', ['m365_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_syncdecision_m365_id', table_name='syncdecision')
