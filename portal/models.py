"""Sigsync's tables.

The vocabulary: an *organisation* has *admins*, at most one live Microsoft 365
*connection*, *employees* grouped into *departments*; every sync is a *run*
that records a *decision* for each user whose outcome was not "unchanged".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, Text, UniqueConstraint, event, inspect
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the models use."""
    return datetime.now(UTC)


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kw)


def _json(default: Any = None) -> Any:
    factory = (lambda: dict(default)) if isinstance(default, dict) else (lambda: list(default or []))
    # The column default too: the sync inserts through SQLAlchemy Core, which skips default_factory.
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False, default=factory))


class Organization(SQLModel, table=True):
    """A customer company; billing is per employee, capped by ``seats``."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    seats: int | None = None  # None: unlimited
    timezone: str = Field(default="UTC", max_length=64)
    created_at: datetime = _ts()


class Admin(SQLModel, table=True):
    """A person who signs in to the portal for one organisation."""

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=300)
    created_at: datetime = _ts()


class Connection(SQLModel, table=True):
    """An organisation's link to its Microsoft 365 tenant, with the sync's configuration."""

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    tenant_id: str = Field(max_length=64)
    mode: str = Field(default="app", max_length=16)  # "delegated" | "app"
    state: str = Field(default="active", max_length=16)  # active | needs_consent | paused | disconnected
    connected_by: str = Field(default="", max_length=320)
    connected_at: datetime = _ts()
    disconnected_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # MSAL's token cache, Fernet-encrypted with TOKEN_ENCRYPTION_KEY; never logged.
    token_cache: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    settings: dict = _json({})
    mapping: dict = _json({})
    import_rules: list = _json([])
    # Fingerprint of settings+mapping+rules: a change forces the next run to be full.
    config_hash: str = Field(default="", max_length=64)
    delta_link: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    delta_config_hash: str = Field(default="", max_length=64)
    last_full_run_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # The run lock lives in the row so it holds across workers on many machines.
    lock_run_id: int | None = None
    lock_expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # The daily schedule (portal.scheduler): when the next scheduled run is due (None: auto-sync off), and
    # the settings it was computed from, so a changed time, time zone or auto-sync recomputes it.
    next_sync_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), index=True)
    schedule_key: str = Field(default="", max_length=100)


class Department(SQLModel, table=True):
    """A group of employees that signatures are assigned to."""

    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=200)
    source: str = Field(default="manual", max_length=16)  # "manual" | "sync"
    created_at: datetime = _ts()


def _search_text_default(context: Any) -> str:
    from portal.employees.search import search_text_for  # imports the models: load it when first needed

    return search_text_for(context.get_current_parameters())


class Employee(SQLModel, table=True):
    """A person whose e-mail gets a Sigsync signature."""

    __table_args__ = (
        UniqueConstraint("organization_id", "email"),
        Index("ix_employee_org_m365", "organization_id", "m365_id", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: the two composite indexes above start with it. A lone one misled
    # PostgreSQL (with stale statistics mid-sync) into scanning the whole organisation per page.
    organization_id: int = Field(foreign_key="organization.id")
    email: str = Field(max_length=320)  # trimmed, lower-case: the matching key
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    display_name: str = Field(default="", max_length=300)
    job_title: str = Field(default="", max_length=200)
    department: str = Field(default="", max_length=200)
    company: str = Field(default="", max_length=200)
    office: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=100)
    mobile: str = Field(default="", max_length=100)
    fax: str = Field(default="", max_length=100)
    street: str = Field(default="", max_length=1024)
    postal_code: str = Field(default="", max_length=40)
    city: str = Field(default="", max_length=200)
    state: str = Field(default="", max_length=200)
    country: str = Field(default="", max_length=200)
    employee_number: str = Field(default="", max_length=64)
    manager_name: str = Field(default="", max_length=300)
    manager_email: str = Field(default="", max_length=320)
    photo: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    custom: dict = _json({})
    source: str = Field(default="manual", max_length=16)  # "m365" | "manual"
    status: str = Field(default="active", max_length=16)  # active | paused | excluded | inactive
    m365_id: str | None = Field(default=None, max_length=64)
    # What the sync last wrote, field by field: a field whose value differs was typed by hand.
    synced_values: dict = _json({})
    # The Graph attributes last seen for this user, so a partial delta record can be completed.
    m365_snapshot: dict = _json({})
    # The manager's Microsoft 365 id, so a renamed manager updates every report's signature.
    manager_m365_id: str | None = Field(default=None, max_length=64, index=True)
    created_by_sync: bool = False
    # The last full run that found this user in scope; older means "gone" at the end of a full run.
    seen_in_run: int | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()  # created or changed by an admin (or created by the sync)
    # When the sync last changed it: an admin's change after this is one the sync has not judged yet.
    synced_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # Name and address folded for search and the name sort (portal.employees.search): filled on insert by
    # the column default, on ORM edits by the hook below, after the sync's updates by refresh_search_text.
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=_search_text_default,
                                                          server_default=""))


class EmployeeDepartment(SQLModel, table=True):
    """Membership of an employee in a department, and who made it."""

    employee_id: int = Field(foreign_key="employee.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True, index=True)
    source: str = Field(default="manual", max_length=16)  # "manual" | "sync"


class SyncRun(SQLModel, table=True):
    """One sync of a connection; its row is the live progress a page shows."""

    id: int | None = Field(default=None, primary_key=True)
    connection_id: int = Field(foreign_key="connection.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    trigger: str = Field(default="manual", max_length=16)  # manual | schedule | cli
    mode: str = Field(default="full", max_length=16)  # full | delta | dry_run
    status: str = Field(default="queued", max_length=16)  # queued | running | succeeded | failed
    phase: str = Field(default="", max_length=32)
    done: int = 0
    total: int | None = None
    counts: dict = _json({})
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = _ts()
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    heartbeat_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class SyncDecision(SQLModel, table=True):
    """What a run decided for one Microsoft 365 user (only when not "unchanged")."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="syncrun.id", index=True)
    kind: str = Field(max_length=32)  # created, updated, linked, overwrote_manual, kept_manual, ...
    m365_id: str = Field(default="", max_length=64, index=True)  # earlier removals of a returning user
    email: str = Field(default="", max_length=320)
    employee_id: int | None = Field(default=None, index=True)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    details: dict = _json({})
    # For "removal_held": pending | approved | discarded.
    resolution: str = Field(default="", max_length=16)


class GroupMember(SQLModel, table=True):
    """A user in a group an import rule names, as one run found it (nested groups resolved).

    The rows of the last finished run are the snapshot: users who join or leave such a group do
    not show up in /users/delta, so a delta run compares the members it finds with them. Kept as
    rows, not in memory, because one "all staff" group can be the whole tenant.
    """

    # Key order = the lookup: a chunk's users by id within one run (SQLite otherwise scanned the run).
    connection_id: int = Field(foreign_key="connection.id", primary_key=True)
    run_id: int = Field(primary_key=True)
    user_id: str = Field(max_length=64, primary_key=True)
    group_id: str = Field(max_length=64, primary_key=True)


class DryRunMark(SQLModel, table=True):
    """What a dry run would have written, as rows for the run's length, so its memory stays flat.

    A real run leaves its traces in the employee rows (seen_in_run, addresses); a dry run writes none,
    and kept them in memory instead: every address of the tenant. kind: "seen" (key: employee id),
    "claim" (key: address, value: the user whose employee would have it), "release" (key: address).
    """

    run_id: int = Field(primary_key=True)
    kind: str = Field(max_length=8, primary_key=True)
    key: str = Field(max_length=320, primary_key=True)
    value: str = Field(default="", max_length=64)


class AuditEvent(SQLModel, table=True):
    """Something an admin (or the command line) did to an organisation, kept for its audit log."""

    # The audit page reads one organisation newest first, a page at a time: (organization_id, id) is that seek.
    __table_args__ = (Index("ix_auditevent_org_id", "organization_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id")
    created_at: datetime = _ts()
    actor: str = Field(max_length=320)  # the admin's e-mail address, or "command line"
    action: str = Field(max_length=32)  # portal.audit.Action
    summary: str = Field(sa_column=Column(Text, nullable=False))
    details: dict = _json({})


class SigninAttempt(SQLModel, table=True):
    """A failed sign-in, kept briefly so throttling holds across every portal worker."""

    __table_args__ = (
        Index("ix_signinattempt_email_at", "email", "attempted_at"),
        Index("ix_signinattempt_client_at", "client", "attempted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320)  # as typed, normalised: the account may not exist
    client: str = Field(max_length=64)  # the client's IP address
    attempted_at: datetime = _ts()


class SchedulerLease(SQLModel, table=True):
    """Which process may act as the scheduler, until when: a compare-and-set row shared by every worker."""

    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=200)
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))


# The dashboard's employees-by-source-and-state and the seat count read only these columns:
# with this index they are an index-only count instead of a scan of every employee row.
Index("ix_employee_org_status_source", Employee.organization_id, Employee.status, Employee.source)
# The employee list (portal.employees.search, migration 0007): one index per sort order that also
# carries what the filters and the search test, so a page is one ordered index read. PostgreSQL also
# has ix_employee_search_trgm, a pg_trgm GIN index on search_text (created by the migration only).
Index("ix_employee_org_search", Employee.organization_id, Employee.search_text, Employee.id, Employee.status,
      Employee.source)
Index("ix_employee_org_email_list", Employee.organization_id, Employee.email, Employee.id, Employee.status,
      Employee.source, Employee.search_text)
Index("ix_employee_org_updated_list", Employee.organization_id, Employee.updated_at, Employee.id, Employee.status,
      Employee.source, Employee.search_text)
Index("ix_employeedepartment_department_employee", EmployeeDepartment.department_id, EmployeeDepartment.employee_id)
Index("ix_syncdecision_run_kind_id", SyncDecision.run_id, SyncDecision.kind, SyncDecision.id)
Index("ix_syncrun_org_id", SyncRun.organization_id, SyncRun.id)


@event.listens_for(Employee, "before_insert")
@event.listens_for(Employee, "before_update")
def _refresh_search_text(_mapper: Any, _connection: Any, employee: Employee) -> None:
    from portal.employees.search import SEARCHED_FIELDS, search_text_for

    state = inspect(employee)
    if state.has_identity and not any(state.attrs[name].history.has_changes() for name in SEARCHED_FIELDS):
        return
    employee.search_text = search_text_for({name: getattr(employee, name) for name in SEARCHED_FIELDS})


class SignatureTemplate(SQLModel, table=True):
    """An e-mail signature an admin designed: cleaned HTML with placeholders (portal.signatures.render)."""

    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=200)
    html: str = Field(sa_column=Column(Text, nullable=False))
    # The plain-text version: derived from the HTML unless the admin wrote their own (text_is_custom).
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    text_is_custom: bool = False
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class SignatureAssignment(SQLModel, table=True):
    """Which template a scope gets for new e-mails or for replies and forwards.

    scope "default" (the organisation's), "department" (department_id) or "employee" (employee_id, an
    override); ``target`` is "default", "department:<id>" or "employee:<id>", so one row per slot.
    """

    __table_args__ = (
        UniqueConstraint("organization_id", "target", "compose"),
        Index("ix_signatureassignment_org_template", "organization_id", "template_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id")
    target: str = Field(max_length=40)
    compose: str = Field(max_length=8)  # "new" | "reply"
    template_id: int = Field(foreign_key="signaturetemplate.id")
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    employee_id: int | None = Field(default=None, foreign_key="employee.id", index=True)
    created_at: datetime = _ts()


class SignatureDepartmentOrder(SQLModel, table=True):
    """The admin's order of departments: an employee in several gets the first one's signature."""

    department_id: int = Field(foreign_key="department.id", primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    position: int


class ApiToken(SQLModel, table=True):
    """An organisation's token for the signature API: only its SHA-256 is kept (the token is shown once)."""

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)  # the first characters, so an admin can tell tokens apart
    created_at: datetime = _ts()
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
