"""Disconnecting: the synced employees become manual ones, or those the sync created go."""

from __future__ import annotations

import pytest

from portal import connections
from portal.sync import lock
from portal.sync.engine import create_run


def _prepare(acme) -> None:
    acme.add_manual("zoe@contoso.example", job_title="Head of Marketing")  # linked by the sync
    acme.add_manual("only.here@example.org", job_title="Not in Microsoft 365")
    acme.sync()
    assert acme.employee("zoe@contoso.example").m365_id


def test_disconnect_keeping_employees_makes_them_all_manual(acme, cli):
    _prepare(acme)
    count = len(acme.employees())

    out = cli("m365", "disconnect", "acme", "--keep-employees")

    assert out.exit_code == 0, out.output
    assert f"0 employee(s) deleted, {count - 1} kept as manual employees" in out.output
    rows = acme.export()
    assert len(rows) == count
    assert {(r["source"], r["m365_id"]) for r in rows.values()} == {("manual", None)}
    assert rows["juergen.mueller@contoso.example"]["job_title"] == "Leiter Vertrieb"
    assert rows["zoe@contoso.example"]["job_title"] == "Head of Marketing"
    connection = acme.connection_row()
    assert (connection.state, connection.delta_link, connection.token_cache) == ("disconnected", None, None)
    assert cli("m365", "sync", "acme").exit_code == 1  # nothing left to sync


def test_disconnect_deleting_employees_keeps_the_ones_made_by_hand(acme, cli):
    _prepare(acme)

    out = cli("m365", "disconnect", "acme", "--delete-employees")

    assert out.exit_code == 0, out.output
    rows = acme.export()
    assert set(rows) == {"zoe@contoso.example", "only.here@example.org"}
    assert (rows["zoe@contoso.example"]["source"], rows["zoe@contoso.example"]["m365_id"]) == ("manual", None)
    assert rows["zoe@contoso.example"]["job_title"] == "Head of Marketing"
    assert "274 employee(s) deleted, 1 kept" in out.output


def test_disconnect_asks_what_to_do_with_the_employees(acme, cli):
    out = cli("m365", "disconnect", "acme")
    assert out.exit_code == 2
    assert "--keep-employees or --delete-employees" in out.output
    assert acme.connection_row().state == "active"


def test_disconnect_waits_for_a_running_sync(acme):
    acme.sync()
    run_id = create_run(acme.engine, acme.connection.id)
    lock.acquire(acme.engine, acme.connection.id, run_id)

    with pytest.raises(connections.ConnectionProblem, match="A sync is running"):
        connections.disconnect(acme.engine, acme.connection_row(), keep_employees=False)

    assert acme.connection_row().state == "active"
    assert len(acme.employees()) == 275
