"""Finding employees as an admin types: search, filters, sort and keyset pages over 100,000 of them.

Search runs over one column, ``employee.search_text``: the employee's name (display, first, last) and
e-mail address folded to lower case without accents ("Jürgen ÖZDEMIR" → "jurgen ozdemir"), computed
in Python by ``search_text_for`` whenever those fields are written (a column default for inserts, an
ORM hook for edits, ``refresh_search_text`` for the sync's updates). SQLite has no Unicode-aware
lower() and no accent folding, so the database cannot compute it; Python does, the same way for the
stored text and for what the admin types, on both databases.

The column starts with the name an admin reads, so sorting by name is sorting by it. Each sort order
has an index that starts (organization_id, sort key, id) and carries status, source and search_text,
so the list, every filter and every search read one index in order and stop after one page; the
department filter starts from the department's members instead. Pages are keyset-paged (never OFFSET):
the cursor holds the last row's sort key and id.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, literal, or_, select, tuple_, update
from sqlalchemy.engine import Connection as DBConnection
from sqlmodel import Session

from portal.errors import InvalidValue
from portal.models import Department, Employee, EmployeeDepartment, Organization

# The fields search looks at; writing any of them must refresh search_text.
SEARCHED_FIELDS = frozenset({"display_name", "first_name", "last_name", "email"})
MAX_PAGE = 200
MAX_QUERY = 200
MAX_TERMS = 5
COUNT_CAP = 1000
DENSE_WINDOW = 3000  # employees read in order before PostgreSQL asks the trigram index instead
LARGE_DEPARTMENT = 2000  # members; above it the department filter tests membership row by row
# Letters that Unicode does not decompose into a base letter and an accent.
_SPECIAL = str.maketrans({"ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o",
                          "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th",
                          "ı": "i", "ħ": "h", "Ħ": "h", "ŧ": "t", "Ŧ": "t"})
_SPACES = re.compile(r"\s+")


class Sort(StrEnum):
    """The orders the employee list offers."""

    NAME = "name"
    EMAIL = "email"
    UPDATED = "updated"  # most recently changed first


@dataclass(frozen=True)
class EmployeeRow:
    """One line of the employee list."""

    id: int
    email: str
    display_name: str
    first_name: str
    last_name: str
    job_title: str
    source: str
    status: str
    updated_at: datetime
    departments: list[str]

    @property
    def name(self) -> str:
        """The name to show: the display name, else first and last name, else the address."""
        return self.display_name or f"{self.first_name} {self.last_name}".strip() or self.email


@dataclass(frozen=True)
class EmployeePage:
    """One page of the list; pass ``next_cursor`` as ``after`` for the next (None: this is the last)."""

    rows: list[EmployeeRow]
    next_cursor: str | None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


@dataclass(frozen=True)
class EmployeeCount:
    """How many employees match, exactly up to ``COUNT_CAP``; beyond it, "more than ``count``"."""

    count: int
    exact: bool

    def __str__(self) -> str:
        return f"{self.count:,}" if self.exact else f"more than {self.count:,}"


# -- the folded text ------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case without accents, spaces collapsed: how search compares text ("Ørsted Ä" → "orsted a")."""
    text = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return _SPACES.sub(" ", text).strip()


def search_text_for(values: Mapping[str, Any]) -> str:
    """The stored search text of an employee: its shown name first (the name sort key), then the rest."""
    display = str(values.get("display_name") or "")
    first = str(values.get("first_name") or "")
    last = str(values.get("last_name") or "")
    email = str(values.get("email") or "")
    shown = fold(display or f"{first} {last}".strip() or email)
    # First and last name again only where the shown name lacks them: a shorter text is a faster scan.
    extra = [word for word in fold(f"{first} {last}").split(" ") if word and word not in shown.split(" ")]
    return " ".join([shown, *extra, fold(email)])


def refresh_search_text(conn: DBConnection, employee_ids: Iterable[int]) -> None:
    """Recompute search_text for these employees (after a Core UPDATE that changed a name or address)."""
    ids = sorted(set(employee_ids))
    table = Employee.__table__
    stmt = update(table).where(table.c.id == bindparam("_id")).values(search_text=bindparam("_text"))
    for start in range(0, len(ids), 1000):
        rows = conn.execute(
            select(table.c.id, table.c.display_name, table.c.first_name, table.c.last_name, table.c.email)
            .where(table.c.id.in_(ids[start:start + 1000]))
        ).all()
        if rows:
            conn.execute(stmt, [{"_id": r.id, "_text": search_text_for(r._mapping)} for r in rows])


# -- the list -------------------------------------------------------------------------------------


def search_employees(session: Session, org: Organization, q: str = "", department_id: int | None = None,
                     source: str | None = None, status: str | None = None, sort: str = Sort.NAME,
                     after: str | None = None, limit: int = 50) -> EmployeePage:
    """One page of the organisation's employees matching the search and filters, in the chosen order.

    ``q`` matches name and e-mail, case- and accent-insensitively; every word must match ("ann mül"
    finds Anna Müller): a word of three letters or more anywhere, a word of one or two letters at
    the start of a word of the name or of the address (typing "m" lists the Ms, not everyone with
    an m). ``after`` is the ``next_cursor`` of the page before.
    """
    sort = _sort(sort)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidValue(f"A page holds 1 to {MAX_PAGE} employees, not {limit}.")
    table = Employee.__table__
    key = _sort_key(sort).label("sort_key")
    columns = (table.c.id, table.c.email, table.c.display_name, table.c.first_name, table.c.last_name,
               table.c.job_title, table.c.source, table.c.status, table.c.updated_at, key)
    cursor = _decode_cursor(after, sort) if after else None
    terms = search_terms(q)
    rows = None
    if _postgres(session) and any(len(t) >= 3 for t in terms):
        rows = _dense_first(session, org, terms, columns, sort, cursor, limit,
                            _filters(session, org, "", department_id, source, status))
    if rows is None:
        query = select(*columns).where(*_filters(session, org, q, department_id, source, status))
        rows = session.connection().execute(_ordered(query, sort, cursor).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    departments = department_names(session, [r.id for r in rows])
    page = [EmployeeRow(r.id, r.email, r.display_name, r.first_name, r.last_name, r.job_title, r.source, r.status,
                        _aware(r.updated_at), departments.get(r.id, [])) for r in rows]
    return EmployeePage(page, _encode_cursor(sort, rows[-1].sort_key, rows[-1].id) if more else None)


def _ordered(query, sort: Sort, cursor: tuple[Any, int] | None, key=None, id_column=None):
    """The query in the sort's order, after the cursor's row."""
    key = _sort_key(sort) if key is None else key
    id_column = Employee.__table__.c.id if id_column is None else id_column
    if cursor is not None:
        value, last_id = cursor
        bound = tuple_(bindparam("cursor_key", value, type_=key.type), bindparam("cursor_id", last_id))
        query = query.where(tuple_(key, id_column) < bound if sort is Sort.UPDATED else tuple_(key, id_column) > bound)
    if sort is Sort.UPDATED:
        return query.order_by(key.desc(), id_column.desc())
    return query.order_by(key, id_column)


def _dense_first(session: Session, org: Organization, terms: list[str], columns, sort: Sort,
                 cursor: tuple[Any, int] | None, limit: int, filters: list) -> list | None:
    """PostgreSQL, a word of three letters or more: first read the next DENSE_WINDOW employees in order.

    A common word ("sch": every fifth employee) fills a page from them at once; a rare one does not,
    and then the trigram index finds its few matches (the caller's second query). The planner cannot
    tell the two apart from its statistics, and chose the wrong way for each (150-500 ms).
    """
    table = Employee.__table__
    window = _ordered(select(*columns, table.c.search_text.label("words")).where(*filters), sort, cursor)
    window = window.limit(DENSE_WINDOW).subquery()
    outer = select(*[window.c[c.name] for c in columns]).where(*_term_predicates(window.c.words, terms, True))
    rows = session.connection().execute(
        _ordered(outer, sort, None, window.c.sort_key, window.c.id).limit(limit + 1)).all()
    return rows if len(rows) > limit else None


def count_employees(session: Session, org: Organization, q: str = "", department_id: int | None = None,
                    source: str | None = None, status: str | None = None, cap: int = COUNT_CAP) -> EmployeeCount:
    """How many employees match: exact up to ``cap``, else "more than ``cap``" (an exact count of a
    100,000-row search would read every row each time a letter is typed)."""
    table = Employee.__table__
    matches = (select(literal(1)).select_from(table)
               .where(*_filters(session, org, q, department_id, source, status)).limit(cap + 1).subquery())
    found = session.connection().execute(select(func.count()).select_from(matches)).scalar_one()
    return EmployeeCount(min(found, cap), found <= cap)


def department_names(session: Session, employee_ids: list[int]) -> dict[int, list[str]]:
    """Department names per employee, sorted, for one page: one query however many rows."""
    if not employee_ids:
        return {}
    rows = session.connection().execute(
        select(EmployeeDepartment.employee_id, Department.name)
        .join(Department, Department.id == EmployeeDepartment.department_id)
        .where(EmployeeDepartment.employee_id.in_(employee_ids))
    )
    names: dict[int, list[str]] = defaultdict(list)
    for employee_id, name in rows:
        names[employee_id].append(name)
    return {emp_id: sorted(found, key=lambda n: (fold(n), n)) for emp_id, found in names.items()}


# -- building the query ---------------------------------------------------------------------------


def search_terms(q: str) -> list[str]:
    """The folded words of a search, at most MAX_TERMS of them."""
    q = (q or "")[:MAX_QUERY]
    return fold(q).split(" ")[:MAX_TERMS] if fold(q) else []


def _filters(session: Session, org: Organization, q: str, department_id: int | None, source: str | None,
             status: str | None) -> list[ColumnElement[bool]]:
    from portal.employees.status import STATUSES

    table = Employee.__table__
    where: list[ColumnElement[bool]] = [table.c.organization_id == org.id]
    terms = search_terms(q)
    if _postgres(session) and any(len(t) >= 3 for t in terms):
        # The trigram index finds the long words' matches first (materialised: see _dense_first).
        hits = (select(table.c.id)
                .where(table.c.organization_id == org.id,
                       *[table.c.search_text.like(f"%{_escape_like(t)}%", escape="\\") for t in terms if len(t) >= 3])
                .cte("search_hits").prefix_with("MATERIALIZED"))
        where.append(table.c.id.in_(select(hits.c.id)))
        terms = [t for t in terms if len(t) < 3]
    where += _term_predicates(table.c.search_text, terms, _postgres(session))
    if source:
        if source not in ("m365", "manual"):
            raise InvalidValue(f"Unknown source {source!r}: use m365 or manual.")
        where.append(table.c.source == source)
    if status:
        if status not in STATUSES:
            raise InvalidValue(f"Unknown status {status!r}: use one of {', '.join(STATUSES)}.")
        where.append(table.c.status == status)
    if department_id is not None:
        where.append(_in_department(session, department_id))
    return where


def _term_predicates(column, terms: list[str], postgres: bool) -> list[ColumnElement[bool]]:
    """Each word's test on the folded text, the longest (rarest) first so most rows fail early."""
    tests: list[ColumnElement[bool]] = []
    for term in sorted(terms, key=len, reverse=True):
        if len(term) >= 3:  # anywhere
            tests.append((func.strpos if postgres else func.instr)(column, term) > 0)
        elif postgres:  # at a word's start: a regular expression the trigram index answers
            tests.append(column.regexp_match(f"(^| ){re.escape(term)}"))
        else:
            # The text's first word by comparison (cheap), the others by one substring test.
            tests.append(or_(and_(column >= term, column < term + "\U0010ffff"), func.instr(column, f" {term}") > 0))
    return tests


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _in_department(session: Session, department_id: int) -> ColumnElement[bool]:
    members = EmployeeDepartment.__table__
    size = session.connection().execute(
        select(func.count()).select_from(members).where(members.c.department_id == department_id)).scalar_one()
    if size <= LARGE_DEPARTMENT:
        # A small department: start from its members and sort them (SQLite would otherwise walk every employee).
        return Employee.__table__.c.id.in_(
            select(members.c.employee_id).where(members.c.department_id == department_id))
    # A large one: walk the list in order and test membership, stopping after a page (sorting 20,000
    # members for every page cost SQLite 130 ms).
    return select(members.c.employee_id).where(
        members.c.employee_id == Employee.__table__.c.id, members.c.department_id == department_id).exists()


def _sort(sort: str) -> Sort:
    try:
        return Sort(sort)
    except ValueError:
        raise InvalidValue(f"Unknown sort {sort!r}: use name, email or updated.") from None


def _sort_key(sort: Sort):
    table = Employee.__table__
    return {Sort.NAME: table.c.search_text, Sort.EMAIL: table.c.email, Sort.UPDATED: table.c.updated_at}[sort]


def _encode_cursor(sort: Sort, value: Any, last_id: int) -> str:
    if isinstance(value, datetime):
        value = _aware(value).isoformat()
    raw = json.dumps([str(sort), value, last_id], ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: Sort) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, value, last_id = json.loads(raw)
        if (made_for != sort or not isinstance(last_id, int) or isinstance(last_id, bool) or not isinstance(value, str)
                or not 1 <= last_id <= 2**31 - 1):  # beyond the INTEGER id column (PostgreSQL): a forged link
            raise ValueError
        if sort is Sort.UPDATED:
            value = datetime.fromisoformat(value)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidValue("That page link is out of date; start again from the first page.") from None
    return value, last_id


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
