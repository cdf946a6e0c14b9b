"""``flask --app portal admin …``: the accounts that sign in to the portal."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from portal import admins
from portal.audit import COMMAND_LINE
from portal.cli_common import command_session
from portal.errors import InvalidValue
from portal.organizations import get_organization

admin_cli = AppGroup("admin", help="Add, list and remove the admins who sign in to the portal.")

STDIN_HELP = "Read the password from the first line of standard input (for scripts) instead of a prompt."


@admin_cli.command("create")
@click.argument("email")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
@click.option("--name", default="", help="The admin's name, as the portal shows it.")
@click.option("--password-stdin", is_flag=True, help=STDIN_HELP)
def create(email: str, slug: str, name: str, password_stdin: bool) -> None:
    """Add an admin to an organisation."""
    password = _read_password(password_stdin)
    with command_session() as session:
        organization = get_organization(session, slug)
        admin = admins.create_admin(session, organization, email, password, name=name, actor=COMMAND_LINE)
    click.echo(f"Created admin {admin.email} for {organization.slug}.")


@admin_cli.command("list")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
def list_(slug: str) -> None:
    """List an organisation's admins: e-mail address, name, created (UTC)."""
    with command_session() as session:
        accounts = admins.list_admins(session, get_organization(session, slug))
    for admin in accounts:
        click.echo(f"{admin.email}\t{admin.name}\t{admin.created_at:%Y-%m-%d %H:%M}")


@admin_cli.command("remove")
@click.argument("email")
def remove(email: str) -> None:
    """Remove an admin (never an organisation's last one)."""
    with command_session() as session:
        admin = admins.remove_admin(session, email, actor=COMMAND_LINE)
    click.echo(f"Removed admin {admin.email}.")


@admin_cli.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help=STDIN_HELP)
def password(email: str, password_stdin: bool) -> None:
    """Set a new password for an admin (signs out their open sessions)."""
    new_password = _read_password(password_stdin)
    with command_session() as session:
        admin = admins.find_admin(session, email)
        if admin is None:
            raise click.ClickException(f"No admin with the address {email.strip().lower()}.")
        admins.change_password(session, admin, new_password, actor=COMMAND_LINE)
    click.echo(f"Changed the password of {admin.email}.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # Only the line ending is removed: spaces may be part of a passphrase.
        value = sys.stdin.readline().rstrip("\r\n")
        _check(value)
        return value
    return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat password", value_proc=_check)


def _check(value: str) -> str:
    try:
        return admins.check_password_rules(value)
    except InvalidValue as exc:
        raise click.UsageError(str(exc)) from None
