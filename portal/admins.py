"""Admin accounts: the people who sign in to the portal, one organisation each.

Passwords are hashed with scrypt (werkzeug's ``generate_password_hash``, a memory-hard current
algorithm with a random salt per password). The CLI and the portal share these functions.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from portal import audit
from portal.employees.fields import normalize_email
from portal.errors import AlreadyExists, InvalidValue, NotFound, SigsyncError
from portal.models import Admin, Organization

PASSWORD_MIN = 12
PASSWORD_MAX = 1024  # scrypt reads the whole password: a megabyte "password" would be a denial of service
NAME_MAX = 200
HASH_METHOD = "scrypt"


class LastAdmin(SigsyncError):
    """Removing this admin would leave the organisation with nobody able to sign in."""


def check_password_rules(password: str) -> str:
    """The password if it is acceptable, else InvalidValue saying what is wrong."""
    if len(password) < PASSWORD_MIN:
        raise InvalidValue(f"The password must be at least {PASSWORD_MIN} characters long.")
    if len(password) > PASSWORD_MAX:
        raise InvalidValue(f"The password must be at most {PASSWORD_MAX} characters long.")
    if not password.strip():
        raise InvalidValue("The password must not be only spaces.")
    return password


def create_admin(session: Session, organization: Organization, email: str, password: str, *,
                 name: str = "", actor: str) -> Admin:
    """Add an admin to the organisation; an e-mail address can belong to only one admin."""
    email = normalize_email(email)
    name = name.strip()
    if len(name) > NAME_MAX:
        raise InvalidValue(f"The name is too long ({len(name)} characters; at most {NAME_MAX}).")
    check_password_rules(password)
    if find_admin(session, email) is not None:
        raise AlreadyExists(f"An admin with the address {email} already exists.")
    admin = Admin(organization_id=organization.id, email=email, name=name,
                  password_hash=generate_password_hash(password, method=HASH_METHOD))
    session.add(admin)
    try:
        session.flush()
    except IntegrityError:  # added concurrently between the check and the insert
        raise AlreadyExists(f"An admin with the address {email} already exists.") from None
    audit.record(session, organization.id, actor, audit.Action.ADMIN_CREATED, f"Added admin {email}.")
    return admin


def find_admin(session: Session, email: str) -> Admin | None:
    """The admin with this address (any organisation), or None."""
    return session.exec(select(Admin).where(Admin.email == email.strip().lower())).first()


def authenticate(session: Session, email: str, password: str) -> Admin | None:
    """The admin whose address and password these are, or None (taking as long either way)."""
    admin = None
    try:
        admin = find_admin(session, normalize_email(email))
    except InvalidValue:
        pass
    if admin is None:
        # Hash anyway, so the answer's timing does not tell which addresses have an account.
        check_password_hash(_decoy_hash(), password)
        return None
    return admin if check_password_hash(admin.password_hash, password) else None


def list_admins(session: Session, organization: Organization) -> list[Admin]:
    """The organisation's admins by e-mail address."""
    return list(session.exec(select(Admin).where(Admin.organization_id == organization.id).order_by(Admin.email)))


def remove_admin(session: Session, email: str, *, actor: str, organization: Organization | None = None) -> Admin:
    """Remove an admin (only from ``organization`` when given); never the organisation's last one."""
    admin = find_admin(session, email)
    if admin is None or (organization is not None and admin.organization_id != organization.id):
        raise NotFound(f"No admin with the address {email.strip().lower()}.")
    # Lock the organisation row (PostgreSQL) so two admins removing each other cannot both succeed.
    session.exec(select(Organization.id).where(Organization.id == admin.organization_id).with_for_update()).one()
    others = session.exec(
        select(func.count()).select_from(Admin)
        .where(Admin.organization_id == admin.organization_id, Admin.id != admin.id)
    ).one()
    if not others:
        raise LastAdmin(f"{admin.email} is the organisation's only admin. Add another admin before removing this one.")
    session.delete(admin)
    session.flush()
    audit.record(session, admin.organization_id, actor, audit.Action.ADMIN_REMOVED, f"Removed admin {admin.email}.")
    return admin


def change_password(session: Session, admin: Admin, new_password: str, *, actor: str) -> None:
    """Set a new password; sessions signed in with the old one end (see portal.web)."""
    check_password_rules(new_password)
    admin.password_hash = generate_password_hash(new_password, method=HASH_METHOD)
    session.add(admin)
    session.flush()
    audit.record(session, admin.organization_id, actor, audit.Action.PASSWORD_CHANGED,
                 f"Changed the password of {admin.email}.")


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return generate_password_hash("not a password anyone has", method=HASH_METHOD)
