"""``flask --app portal m365 …``: connect a tenant, configure and run the sync."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from portal import connections, runs
from portal.cli_common import command_session
from portal.db import get_engine
from portal.errors import SigsyncError
from portal.jobs import QueueUnavailable, enqueue_sync, summary, sync_job
from portal.models import SyncRun
from portal.organizations import get_organization
from portal.sync.config import ConfigInvalid
from portal.sync.engine import create_run

m365_cli = AppGroup("m365", help="Microsoft 365 connection and user sync.")


def _config():
    return current_app.config["SIGSYNC"]


def _engine():
    return get_engine(_config().database_url)


def _org_and_connection(slug: str):
    with command_session() as session:
        org = get_organization(session, slug)
    with _engine().begin() as conn:
        try:
            return org, connections.live_connection(conn, org.id)
        except SigsyncError as exc:
            raise click.ClickException(str(exc)) from None


@m365_cli.command("connect")
@click.argument("slug")
@click.option("--tenant", "tenant_id", required=True, help="The Microsoft 365 tenant id (a GUID) or domain.")
@click.option("--app-only", is_flag=True, required=True, help="Use application permissions (admin consent).")
@click.option("--by", "connected_by", default="cli", show_default=True, help="Who connected it, for the record.")
def connect(slug: str, tenant_id: str, app_only: bool, connected_by: str) -> None:
    """Connect an organisation to its tenant with application permissions."""
    with command_session() as session:
        org = get_organization(session, slug)
    try:
        connection = connections.connect_app_only(_config(), _engine(), org, tenant_id, connected_by)
    except SigsyncError as exc:
        raise click.ClickException(exc.admin_message) from None
    click.echo(f"Connected {org.slug} to Microsoft 365 tenant {connection.tenant_id} (application permissions).")


@m365_cli.command("config")
@click.argument("slug")
@click.option("--export", "export_", is_flag=True, help="Print the configuration as JSON.")
@click.option("--import", "import_file", type=click.Path(dir_okay=False, path_type=Path), help="Replace from FILE.")
def config_cmd(slug: str, export_: bool, import_file: Path | None) -> None:
    """Export or import the sync configuration (settings, mapping, import rules)."""
    if export_ == bool(import_file):
        raise click.UsageError("Give exactly one of --export or --import FILE.")
    org, connection = _org_and_connection(slug)
    if export_:
        click.echo(json.dumps(connections.export_connection_config(connection, org.timezone), indent=2,
                              ensure_ascii=False))
        return
    try:
        text = import_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"Cannot read {import_file}: {exc}") from None
    try:
        connections.import_connection_config(_engine(), connection, text, org.timezone)
    except (ConfigInvalid, SigsyncError) as exc:
        raise click.ClickException(f"Configuration rejected, nothing changed. {exc}") from None
    click.echo("Configuration imported; the next sync reads every user again.")


@m365_cli.command("sync")
@click.argument("slug")
@click.option("--full", is_flag=True, help="Read every user, not just the changes since the last sync.")
@click.option("--dry-run", is_flag=True, help="Decide everything, change nothing; decisions are recorded.")
@click.option("--queue", "queued", is_flag=True, help="Hand the run to a worker instead of running it here.")
def sync(slug: str, full: bool, dry_run: bool, queued: bool) -> None:
    """Run a sync in this process; the last line printed is a JSON summary."""
    _org, connection = _org_and_connection(slug)
    if queued:
        try:
            run_id = enqueue_sync(_config(), connection.id, trigger="cli", full=full, dry_run=dry_run)
        except QueueUnavailable as exc:
            message = f"Redis is unreachable at REDIS_URL ({exc}); the run was marked failed."
            raise click.ClickException(message) from None
        click.echo(json.dumps({"run_id": run_id, "status": "queued"}))
        return
    run_id = create_run(_engine(), connection.id, trigger="cli", full=full, dry_run=dry_run)

    def progress(done: int, total: int | None, phase: str) -> None:
        click.echo(f"{phase}: {done}" + (f"/{total}" if total else ""), err=True)

    try:
        result = sync_job(run_id, _config(), progress)
    except Exception as exc:  # scripts read the run's summary whatever went wrong
        with _engine().begin() as conn:
            run = SyncRun.model_validate(
                conn.execute(SyncRun.__table__.select().where(SyncRun.id == run_id)).one()._asdict())
        click.echo(json.dumps(summary(run), ensure_ascii=False))
        click.echo(f"Error: {exc.admin_message if isinstance(exc, SigsyncError) else run.error}", err=True)
        sys.exit(1)
    click.echo(json.dumps(result, ensure_ascii=False))


def _resolve(slug: str, run_id: int, approve: bool) -> None:
    with command_session() as session:  # the same service the portal's run page calls
        org = get_organization(session, slug)
        if approve:
            applied = runs.approve_removals(session, org, run_id)
        else:
            runs.discard_removals(session, org, run_id)
    if approve:
        click.echo(f"Approved: {applied} removal(s) applied.")
    else:
        click.echo("Discarded: the employees stay as they are.")


@m365_cli.command("approve-removals")
@click.argument("slug")
@click.argument("run_id", type=int)
def approve_removals(slug: str, run_id: int) -> None:
    """Apply the removals a run held back because they exceeded the threshold."""
    _resolve(slug, run_id, approve=True)


@m365_cli.command("discard-removals")
@click.argument("slug")
@click.argument("run_id", type=int)
def discard_removals(slug: str, run_id: int) -> None:
    """Discard held removals; the employees stay as they are."""
    _resolve(slug, run_id, approve=False)


@m365_cli.command("disconnect")
@click.argument("slug")
@click.option("--keep-employees", "keep", flag_value=True, default=None, help="Keep them as manual employees.")
@click.option("--delete-employees", "keep", flag_value=False, help="Delete the employees the sync created.")
def disconnect_cmd(slug: str, keep: bool | None) -> None:
    """Disconnect the tenant; choose what happens to the synced employees."""
    if keep is None:
        raise click.UsageError("Choose --keep-employees or --delete-employees.")
    _org, connection = _org_and_connection(slug)
    try:
        result = connections.disconnect(_engine(), connection, keep_employees=keep)
    except SigsyncError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Disconnected. {result['deleted']} employee(s) deleted, {result['kept']} kept as manual employees.")


def _set_paused(slug: str, paused: bool) -> None:
    _org, connection = _org_and_connection(slug)
    try:
        connections.set_connection_paused(_engine(), connection, paused)
    except SigsyncError as exc:
        raise click.ClickException(str(exc)) from None


@m365_cli.command("pause")
@click.argument("slug")
def pause_cmd(slug: str) -> None:
    """Pause the sync of the whole connection (employees stay as they are)."""
    _set_paused(slug, True)
    click.echo("Sync paused. Runs are refused until you resume it.")


@m365_cli.command("resume")
@click.argument("slug")
def resume_cmd(slug: str) -> None:
    """Resume a paused connection's sync."""
    _set_paused(slug, False)
    click.echo("Sync resumed.")


@m365_cli.command("status")
@click.argument("slug")
def status_cmd(slug: str) -> None:
    """Print the connection's state, its latest runs and removals waiting for approval (JSON)."""
    _org, connection = _org_and_connection(slug)
    click.echo(json.dumps(connections.status_report(_engine(), connection), indent=2, ensure_ascii=False))
