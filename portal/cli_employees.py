"""``flask --app portal employees …``: export, add and edit employees, and control their sync."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal import audit
from portal.cli_common import command_session, parse_field_options
from portal.employees import (
    EXPORT_FORMATS,
    SYNC_ACTIONS,
    add_employee,
    csv_chunks,
    custom_field_keys,
    edit_employee,
    export_rows,
    json_chunks,
    set_sync_status,
)
from portal.organizations import get_organization

employees_cli = AppGroup("employees", help="Export, add and edit employees; pause or exclude them from the sync.")

FIELD_HELP = "NAME=VALUE, repeatable; NAME is an employee field such as job_title, or custom.<key>."
# action -> (help, what the admin is told afterwards).
_SYNC_ACTIONS_TEXT = {
    "pause": ("Pause the sync for an employee: it keeps its signature, the sync leaves it untouched.", "paused"),
    "resume": ("End a pause: the sync updates the employee again.", "resumed"),
    "exclude": ("Exclude an employee: no signature, no seat, never re-imported by the sync.", "excluded"),
    "include": ("Bring an excluded employee back (active again, takes a seat).", "included"),
}


@employees_cli.command("export")
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="json", show_default=True)
def export(slug: str, fmt: str) -> None:
    """Print every employee of an organisation (only the data, for scripts)."""
    with command_session() as session:
        organization = get_organization(session, slug)
        rows = export_rows(session, organization)
        if fmt == "csv":
            chunks = csv_chunks(rows, custom_field_keys(session, organization))
        else:
            chunks = json_chunks(rows)
        for chunk in chunks:
            click.echo(chunk, nl=False)


@employees_cli.command("add")
@click.argument("slug")
@click.argument("email")
@click.option("--field", "field_options", multiple=True, metavar="NAME=VALUE", help=FIELD_HELP)
def add(slug: str, email: str, field_options: tuple[str, ...]) -> None:
    """Add an employee by hand."""
    fields = parse_field_options(field_options)
    with command_session() as session:
        organization = get_organization(session, slug)
        employee = add_employee(session, organization, email, fields)
    click.echo(f"Added {employee.email} to {organization.slug}.")


@employees_cli.command("edit")
@click.argument("slug")
@click.argument("email")
@click.option("--field", "field_options", multiple=True, required=True, metavar="NAME=VALUE", help=FIELD_HELP)
def edit(slug: str, email: str, field_options: tuple[str, ...]) -> None:
    """Change an employee's fields by hand (the sync then treats them as typed by hand)."""
    fields = parse_field_options(field_options)
    with command_session() as session:
        organization = get_organization(session, slug)
        employee = edit_employee(session, organization, email, fields)
    click.echo(f"Updated {employee.email}: {', '.join(fields)}.")


_PAST = {"pause": "paused", "resume": "resumed", "exclude": "excluded", "include": "included"}


def _add_sync_action_command(action: str) -> None:
    help_text, done = _SYNC_ACTIONS_TEXT[action]

    # Through the AppGroup, so the command runs inside the application context.
    @employees_cli.command(action, help=help_text)
    @click.argument("slug")
    @click.argument("email")
    def command(slug: str, email: str) -> None:
        with command_session() as session:
            organization = get_organization(session, slug)
            employee = set_sync_status(session, organization, email, action)
            # The audit log lists who paused, resumed, excluded or included someone, from any door.
            audit.record(session, organization.id, audit.COMMAND_LINE, f"employee_{_PAST[action]}",
                         f"{employee.email}: sync {_PAST[action]} from the command line",
                         {"employees": [employee.email]})
        click.echo(f"{employee.email} {done} (status: {employee.status}).")


for _action in SYNC_ACTIONS:
    _add_sync_action_command(_action)
