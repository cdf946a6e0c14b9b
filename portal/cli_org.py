"""``flask --app portal org …``: manage organisations."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.cli_common import command_session
from portal.organizations import create_organization

org_cli = AppGroup("org", help="Manage organisations.")


@org_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The company's name as admins see it.")
@click.option("--seats", type=int, default=None, help="Billable employees allowed; leave out for unlimited.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone, e.g. Europe/Berlin.")
def create(slug: str, name: str, seats: int | None, timezone: str) -> None:
    """Create an organisation."""
    with command_session() as session:
        organization = create_organization(session, slug, name, seats=seats, timezone=timezone)
    limit = "unlimited seats" if organization.seats is None else f"{organization.seats} seat(s)"
    click.echo(f"Created organisation {organization.slug} ({organization.name}, {limit}, {organization.timezone}).")
