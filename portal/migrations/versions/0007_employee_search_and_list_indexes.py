"""employee search text and the indexes the portal's lists read

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 05:05:00

employee.search_text holds name and address folded (lower case, no accents), computed in Python
(portal.employees.search.search_text_for): SQLite can neither lower-case "Ü" nor drop accents.
Each list order gets one index that starts (organization_id, sort key, id) and carries status,
source and search_text, so a page, a filter or a search is one ordered index read that stops
after a page. PostgreSQL also gets a trigram index for substring search of three letters or more.
"""

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# A frozen copy of portal.employees.search.fold as it was when this migration was written.
_SPECIAL = str.maketrans({"ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o",
                          "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th",
                          "ı": "i", "ħ": "h", "Ħ": "h", "ŧ": "t", "Ŧ": "t"})


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return re.sub(r"\s+", " ", text).strip()


def _search_text(display: str, first: str, last: str, email: str) -> str:
    shown = _fold(display or f"{first} {last}".strip() or email)
    extra = [word for word in _fold(f"{first} {last}").split(" ") if word and word not in shown.split(" ")]
    return " ".join([shown, *extra, _fold(email)])


LIST_INDEXES = {
    "ix_employee_org_search": ["organization_id", "search_text", "id", "status", "source"],
    "ix_employee_org_email_list": ["organization_id", "email", "id", "status", "source", "search_text"],
    "ix_employee_org_updated_list": ["organization_id", "updated_at", "id", "status", "source", "search_text"],
}


def upgrade() -> None:
    op.add_column('employee', sa.Column('search_text', sa.Text(), nullable=False, server_default=''))
    bind = op.get_bind()
    employee = sa.table('employee', sa.column('id', sa.Integer), sa.column('display_name', sa.String),
                        sa.column('first_name', sa.String), sa.column('last_name', sa.String),
                        sa.column('email', sa.String), sa.column('search_text', sa.Text))
    last_id = 0
    while True:  # existing employees, a thousand at a time
        rows = bind.execute(sa.select(employee.c.id, employee.c.display_name, employee.c.first_name,
                                      employee.c.last_name, employee.c.email)
                            .where(employee.c.id > last_id).order_by(employee.c.id).limit(1000)).all()
        if not rows:
            break
        bind.execute(employee.update().where(employee.c.id == sa.bindparam('_id'))
                     .values(search_text=sa.bindparam('_text')),
                     [{'_id': r.id, '_text': _search_text(r.display_name or '', r.first_name or '',
                                                          r.last_name or '', r.email or '')} for r in rows])
        last_id = rows[-1].id
    for name, columns in LIST_INDEXES.items():
        op.create_index(name, 'employee', columns, unique=False)
    # Department members: a department filter reads its member ids from the index alone.
    op.create_index('ix_employeedepartment_department_employee', 'employeedepartment',
                    ['department_id', 'employee_id'], unique=False)
    # A run's decisions of one kind, in order, a page at a time; an organisation's runs newest first.
    op.create_index('ix_syncdecision_run_kind_id', 'syncdecision', ['run_id', 'kind', 'id'], unique=False)
    op.create_index('ix_syncrun_org_id', 'syncrun', ['organization_id', 'id'], unique=False)
    if bind.dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute('CREATE INDEX ix_employee_search_trgm ON employee USING gin (search_text gin_trgm_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_employee_search_trgm')
    op.drop_index('ix_syncrun_org_id', table_name='syncrun')
    op.drop_index('ix_syncdecision_run_kind_id', table_name='syncdecision')
    op.drop_index('ix_employeedepartment_department_employee', table_name='employeedepartment')
    for name in LIST_INDEXES:
        op.drop_index(name, table_name='employee')
    with op.batch_alter_table('employee', schema=None) as batch_op:
        batch_op.drop_column('search_text')
