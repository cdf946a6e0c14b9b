"""``flask --app portal m365 sync`` and ``employees export``: what scripts read."""

from __future__ import annotations

import json

from tests.engine.support import leaf_employees


def test_sync_prints_a_json_summary_as_its_last_line(acme, cli):
    out = cli("m365", "sync", "acme")

    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded" and summary["mode"] == "full"
    assert summary["counts"] == {"created": 275, "out_of_scope": 25}
    assert summary["run_id"] == acme.last_run().id and summary["error"] is None
    assert "users: " in out.stderr  # progress goes to stderr, out of the way of scripts

    again = json.loads(cli("m365", "sync", "acme").stdout.strip().splitlines()[-1])
    assert (again["mode"], again["counts"]) == ("delta", {})
    full = json.loads(cli("m365", "sync", "acme", "--full").stdout.strip().splitlines()[-1])
    assert full["mode"] == "full"
    dry = json.loads(cli("m365", "sync", "acme", "--dry-run").stdout.strip().splitlines()[-1])
    assert dry["mode"] == "dry_run"


def test_failed_sync_still_prints_the_summary_and_exits_1(acme, cli):
    from portal import connections

    connections.set_connection_paused(acme.engine, acme.connection_row(), True)

    out = cli("m365", "sync", "acme")

    assert out.exit_code == 1
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["status"] == "failed"
    assert summary["error"] == "The Microsoft 365 connection is paused. Resume it to sync."
    assert "Error: The Microsoft 365 connection is paused" in out.stderr


def test_employees_export_shows_departments_source_status_and_m365_id(acme, cli):
    acme.configure(import_rules=[{"name": "Everyone", "departments": {"from_attribute": "department", "split": ";"}}])
    acme.add_manual("only.here@example.org")
    acme.sync()
    acme.set_status("zoe@contoso.example", "pause")

    out = cli("employees", "export", "acme")

    assert out.exit_code == 0, out.output
    rows = {r["email"]: r for r in json.loads(out.stdout)}
    jose = rows["jose.garcia@contoso.example"]
    assert (jose["departments"], jose["source"], jose["status"]) == (["Marketing", "Sales"], "m365", "active")
    assert jose["m365_id"] == acme.sim.tenant.get_user("Jose.Garcia@contoso.example")["id"]
    assert rows["zoe@contoso.example"]["status"] == "paused"
    assert (rows["only.here@example.org"]["source"], rows["only.here@example.org"]["m365_id"]) == ("manual", None)


def test_sync_that_cannot_start_fails_its_run_instead_of_leaving_it_queued(acme, cli):
    # A delegated connection whose stored sign-in the configured key cannot decrypt.
    acme.update_connection(mode="delegated", token_cache=b"not a fernet token")

    out = cli("m365", "sync", "acme")

    assert out.exit_code == 1
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["status"] == "failed"
    assert "TOKEN_ENCRYPTION_KEY" in summary["error"]
    assert acme.last_run().status == "failed"
    assert "TOKEN_ENCRYPTION_KEY" in acme.connection_row().last_error


def test_internal_error_still_prints_the_summary(acme, cli, monkeypatch):
    from portal.sync import engine

    def broken(self):
        raise KeyError("bug")

    monkeypatch.setattr(engine._Run, "execute", broken)

    out = cli("m365", "sync", "acme")

    assert out.exit_code == 1
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["status"] == "failed"
    assert summary["error"] == "Internal error: KeyError. Nothing was lost; run again."
    assert "Error: Internal error: KeyError" in out.stderr
    assert acme.connection_row().lock_run_id is None


def test_pausing_the_connection_refuses_syncs_until_resumed(acme, cli):
    paused = cli("m365", "pause", acme.slug)
    assert paused.exit_code == 0, paused.output

    refused = cli("m365", "sync", acme.slug)
    assert refused.exit_code == 1
    assert json.loads(refused.stdout.strip().splitlines()[-1])["status"] == "failed"
    assert "paused" in refused.stderr
    assert acme.employees() == {}

    assert cli("m365", "resume", acme.slug).exit_code == 0
    done = cli("m365", "sync", acme.slug)
    assert json.loads(done.stdout.strip().splitlines()[-1])["status"] == "succeeded"


def test_status_shows_state_latest_runs_and_waiting_removals(acme, cli):
    acme.configure(settings={"removal_threshold": {"count": 0, "percent": 100}})
    cli("m365", "sync", "acme")
    [gone] = leaf_employees(acme.export(), 1)
    acme.sim.tenant.hard_delete(gone)
    held_run = json.loads(cli("m365", "sync", "acme").stdout.strip().splitlines()[-1])["run_id"]

    out = cli("m365", "status", "acme")

    assert out.exit_code == 0, out.output
    status = json.loads(out.stdout)
    assert (status["state"], status["mode"], status["next_run"]) == ("active", "app", "full")
    assert status["removals_waiting"] == {str(held_run): 1}
    assert [r["run_id"] for r in status["runs"]][:2] == [held_run, held_run - 1]
    assert status["runs"][0]["counts"] == {"removal_held": 1}
    assert "token" not in out.stdout.lower() and "secret" not in out.stdout.lower()
