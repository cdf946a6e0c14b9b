"""audit events, failed sign-in attempts, employee counts by status and source

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 04:40:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auditevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_auditevent_org_id', 'auditevent', ['organization_id', 'id'], unique=False)
    op.create_table('signinattempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('client', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_signinattempt_email_at', 'signinattempt', ['email', 'attempted_at'], unique=False)
    op.create_index('ix_signinattempt_client_at', 'signinattempt', ['client', 'attempted_at'], unique=False)
    op.create_index('ix_employee_org_status_source', 'employee', ['organization_id', 'status', 'source'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_employee_org_status_source', table_name='employee')
    op.drop_index('ix_signinattempt_client_at', table_name='signinattempt')
    op.drop_index('ix_signinattempt_email_at', table_name='signinattempt')
    op.drop_table('signinattempt')
    op.drop_index('ix_auditevent_org_id', table_name='auditevent')
    op.drop_table('auditevent')
