"""employee photos: an admin's upload, kept apart from Microsoft 365's

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-29 08:20:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0013'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('employeephoto',
    sa.Column('employee_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('image', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['employee_id'], ['employee.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('employee_id')
    )
    with op.batch_alter_table('employeephoto', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employeephoto_organization_id'), ['organization_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('employeephoto', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_employeephoto_organization_id'))

    op.drop_table('employeephoto')
