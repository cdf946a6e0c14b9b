"""signature templates and assignments

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 05:39:37.773750
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signaturetemplate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('text_is_custom', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organization_id', 'name')
    )
    with op.batch_alter_table('signaturetemplate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signaturetemplate_organization_id'), ['organization_id'], unique=False)

    op.create_table('signatureassignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('compose', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('employee_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['employee_id'], ['employee.id'], ),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.ForeignKeyConstraint(['template_id'], ['signaturetemplate.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organization_id', 'target', 'compose')
    )
    with op.batch_alter_table('signatureassignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signatureassignment_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signatureassignment_employee_id'), ['employee_id'], unique=False)
        batch_op.create_index('ix_signatureassignment_org_template', ['organization_id', 'template_id'], unique=False)

    op.create_table('signaturedepartmentorder',
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.PrimaryKeyConstraint('department_id')
    )
    with op.batch_alter_table('signaturedepartmentorder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signaturedepartmentorder_organization_id'), ['organization_id'],
                              unique=False)



def downgrade() -> None:
    with op.batch_alter_table('signaturedepartmentorder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signaturedepartmentorder_organization_id'))

    op.drop_table('signaturedepartmentorder')
    with op.batch_alter_table('signatureassignment', schema=None) as batch_op:
        batch_op.drop_index('ix_signatureassignment_org_template')
        batch_op.drop_index(batch_op.f('ix_signatureassignment_employee_id'))
        batch_op.drop_index(batch_op.f('ix_signatureassignment_department_id'))

    op.drop_table('signatureassignment')
    with op.batch_alter_table('signaturetemplate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signaturetemplate_organization_id'))

    op.drop_table('signaturetemplate')
