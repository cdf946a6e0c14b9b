"""``flask --app portal …`` commands for operators and scripts."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from portal import migrations
from portal.cli_admin import admin_cli
from portal.cli_employees import employees_cli
from portal.cli_m365 import m365_cli
from portal.cli_org import org_cli


def _config():
    return current_app.config["SIGSYNC"]


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create the database schema, or upgrade it to the newest version."""
    migrations.upgrade(_config().database_url)
    click.echo("Database is up to date.")


def register(app: Flask) -> None:
    """Attach every command group to the app."""
    app.cli.add_command(init_db)
    app.cli.add_command(org_cli)
    app.cli.add_command(admin_cli)
    app.cli.add_command(employees_cli)
    app.cli.add_command(m365_cli)
