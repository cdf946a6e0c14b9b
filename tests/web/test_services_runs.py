"""portal.runs against the real database and the real Redis: the Sync pages' and the CLI's one service."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import insert, select, update

from portal import connections, runs
from portal.db import get_engine, session_scope
from portal.errors import InvalidTransition, InvalidValue, NotFound, SigsyncError
from portal.jobs import job_id_for
from portal.models import Connection, Employee, SyncDecision, SyncRun, utcnow
from portal.organizations import create_organization


@pytest.fixture
def engine(config):
    return get_engine(config.database_url)


@pytest.fixture
def orgs(config, engine):
    """Two connected organisations (no network: a delegated connection stores the cache it is given)."""
    with session_scope(config.database_url) as session:
        acme = create_organization(session, "acme", "Acme")
        globex = create_organization(session, "globex", "Globex")
    for org in (acme, globex):
        connections.connect_delegated(engine, org, f"tenant-{org.slug}", b"", "test")
    return acme, globex


def connection_of(engine, org) -> Connection:
    with engine.begin() as conn:
        return connections.live_connection(conn, org.id)


def add_run(engine, org, status="succeeded", **values) -> int:
    connection = connection_of(engine, org)
    now = utcnow()
    row = {"connection_id": connection.id, "organization_id": org.id, "trigger": "manual", "mode": "full",
           "status": status, "phase": "done", "done": 0, "counts": {}, "error": "", "created_at": now,
           "started_at": now - timedelta(seconds=90), "finished_at": now, **values}
    with engine.begin() as conn:
        return conn.execute(insert(SyncRun).returning(SyncRun.id), row).scalar_one()


def add_decisions(engine, run_id, kinds: list[str]) -> list[int]:
    with engine.begin() as conn:
        return [conn.execute(insert(SyncDecision).returning(SyncDecision.id),
                             {"run_id": run_id, "kind": kind, "m365_id": f"u{n}", "email": f"u{n}@x.example",
                              "reason": "", "details": {}, "resolution": ""}).scalar_one()
                for n, kind in enumerate(kinds)]


def test_runs_are_listed_newest_first_a_page_at_a_time_and_only_the_organisations_own(config, engine, orgs):
    acme, globex = orgs
    ids = [add_run(engine, acme, counts={"created": n}) for n in range(7)]
    add_run(engine, globex)
    seen = []
    with session_scope(config.database_url) as session:
        page = runs.list_runs(session, acme, limit=3)
        while True:
            seen += [r.id for r in page.runs]
            if page.next_before_id is None:
                break
            page = runs.list_runs(session, acme, before_id=page.next_before_id, limit=3)
        first = runs.get_run(session, acme, ids[-1])
    assert seen == ids[::-1]
    assert first.counts == {"created": 6} and first.duration == timedelta(seconds=90) and not first.active


def test_another_organisations_run_is_not_found_by_a_guessed_id(config, engine, orgs):
    acme, globex = orgs
    theirs = add_run(engine, globex)
    add_decisions(engine, theirs, ["removal_held"])
    with session_scope(config.database_url) as session:
        for call in (runs.get_run, runs.decisions, runs.decision_counts, runs.approve_removals,
                     runs.discard_removals):
            with pytest.raises(NotFound, match=f"no sync run {theirs} in this organisation"):
                call(session, acme, theirs)
        with pytest.raises(NotFound):
            runs.get_run(session, acme, theirs + 1000)


def test_decisions_page_by_kind_without_losing_or_repeating_one(config, engine, orgs):
    acme, _ = orgs
    run_id = add_run(engine, acme)
    ids = add_decisions(engine, run_id, ["created", "updated", "created", "conflict", "created"] * 5)
    created = [i for i, k in zip(ids, ["created", "updated", "created", "conflict", "created"] * 5, strict=True)
               if k == "created"]
    with session_scope(config.database_url) as session:
        got, after = [], None
        while True:
            page = runs.decisions(session, acme, run_id, kind=runs.DecisionKind.CREATED, after_id=after, limit=4)
            got += [d.id for d in page.decisions]
            assert {d.kind for d in page.decisions} == {"created"}
            after = page.next_after_id
            if after is None:
                break
        everything = runs.decisions(session, acme, run_id, limit=500)
        counts = runs.decision_counts(session, acme, run_id)
        with pytest.raises(InvalidValue, match="no decision kind 'made_up'"):
            runs.decisions(session, acme, run_id, kind="made_up")
    assert got == created
    assert [d.id for d in everything.decisions] == ids and everything.next_after_id is None
    assert counts == {"conflict": 5, "created": 15, "updated": 5}


def held_run(engine, org, emails: list[str]) -> int:
    """A run that held the removal of these linked employees, as the engine records it."""
    connection = connection_of(engine, org)
    run_id = add_run(engine, org, counts={"removal_held": len(emails)})
    with engine.begin() as conn:
        for n, email in enumerate(emails):
            emp_id = conn.execute(insert(Employee).returning(Employee.id), {
                "organization_id": org.id, "email": email, "display_name": email, "m365_id": f"m{n}",
                "source": "m365", "status": "active", "created_by_sync": True, "custom": {}, "synced_values": {},
                "m365_snapshot": {}, "created_at": utcnow(), "updated_at": utcnow()}).scalar_one()
            conn.execute(insert(SyncDecision), {
                "run_id": run_id, "kind": "removal_held", "m365_id": f"m{n}", "email": email, "employee_id": emp_id,
                "reason": "deleted in Microsoft 365; above the threshold", "details": {"action": "deactivate"},
                "resolution": "pending"})
    assert connection.settings["removal"] == "deactivate"
    return run_id


def statuses(engine, org) -> dict[str, str]:
    with engine.begin() as conn:
        rows = conn.execute(select(Employee.email, Employee.status).where(Employee.organization_id == org.id))
        return {email: status for email, status in rows}


def test_approving_held_removals_applies_them_once(config, engine, orgs):
    acme, _ = orgs
    run_id = held_run(engine, acme, ["a@x.example", "b@x.example"])
    with session_scope(config.database_url) as session:
        assert runs.pending_removals(session, acme, run_id) == 2
        assert runs.approve_removals(session, acme, run_id) == 2
    assert statuses(engine, acme) == {"a@x.example": "inactive", "b@x.example": "inactive"}
    with session_scope(config.database_url) as session:
        assert runs.decision_counts(session, acme, run_id) == {"deactivated": 2, "removal_held": 2}
        with pytest.raises(InvalidTransition, match="no removals waiting"):
            runs.approve_removals(session, acme, run_id)


def test_discarding_held_removals_keeps_the_employees(config, engine, orgs):
    acme, _ = orgs
    run_id = held_run(engine, acme, ["a@x.example"])
    with session_scope(config.database_url) as session:
        assert runs.discard_removals(session, acme, run_id) == 1
        held = runs.decisions(session, acme, run_id, kind="removal_held").decisions
    assert statuses(engine, acme) == {"a@x.example": "active"}
    assert [d.resolution for d in held] == ["discarded"]


def test_the_cli_approves_through_the_same_service(app, engine, orgs):
    acme, globex = orgs
    run_id = held_run(engine, acme, ["a@x.example"])
    runner = app.test_cli_runner()
    wrong = runner.invoke(args=["m365", "approve-removals", "globex", str(run_id)])
    assert wrong.exit_code == 1 and f"no sync run {run_id} in this organisation" in wrong.output
    out = runner.invoke(args=["m365", "approve-removals", "acme", str(run_id)])
    assert out.exit_code == 0 and "Approved: 1 removal(s) applied." in out.output
    assert statuses(engine, acme) == {"a@x.example": "inactive"}


# -- sync now -------------------------------------------------------------------------------------


@pytest.fixture
def queue(config):
    """A private RQ queue on the real Redis, emptied afterwards."""
    redis = Redis.from_url(config.redis_url)
    try:
        redis.ping()
    except RedisError as exc:
        pytest.fail(f"these tests need the real Redis at REDIS_URL ({config.redis_url}): {exc}")
    name = f"test-runs-{uuid.uuid4().hex[:8]}"
    q = Queue(name, connection=redis)
    yield replace(config, rq_queue=name), q
    q.delete(delete_jobs=True)


def test_sync_now_twice_returns_the_same_queued_run(engine, orgs, queue):
    acme, _ = orgs
    config, q = queue
    first = runs.request_sync(config, engine, acme)
    second = runs.request_sync(config, engine, acme, full=True)
    assert first.started and not second.started
    assert second.run.id == first.run.id and first.run.status == "queued" and first.run.mode == "auto"
    assert q.job_ids == [job_id_for(first.run.id, first.run.created_at)]
    with session_scope(config.database_url) as session:
        assert runs.active_run(session, acme).id == first.run.id


def test_two_admins_at_the_same_moment_get_one_run(engine, orgs, queue):
    acme, _ = orgs
    config, q = queue
    results: list = []
    barrier = threading.Barrier(4)

    def click() -> None:
        barrier.wait()
        results.append(runs.request_sync(config, engine, acme))

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.run.id for r in results}) == 1
    assert sum(r.started for r in results) == 1
    assert q.count == 1


def test_a_run_whose_worker_died_does_not_block_sync_now(engine, orgs, queue):
    acme, _ = orgs
    config, _q = queue
    dead = add_run(engine, acme, status="running", finished_at=None)
    connection = connection_of(engine, acme)
    with engine.begin() as conn:  # its lock ran out: nobody renews it any more
        conn.execute(update(Connection).where(Connection.id == connection.id)
                     .values(lock_run_id=dead, lock_expires_at=utcnow() - timedelta(minutes=1)))
    with session_scope(config.database_url) as session:
        assert runs.active_run(session, acme) is None
    fresh = runs.request_sync(config, engine, acme)
    assert fresh.started and fresh.run.id != dead


def test_a_live_running_run_is_returned_instead_of_a_new_one(engine, orgs, queue):
    acme, _ = orgs
    config, q = queue
    running = add_run(engine, acme, status="running", finished_at=None)
    connection = connection_of(engine, acme)
    with engine.begin() as conn:
        conn.execute(update(Connection).where(Connection.id == connection.id)
                     .values(lock_run_id=running, lock_expires_at=utcnow() + timedelta(minutes=5)))
    answer = runs.request_sync(config, engine, acme)
    assert not answer.started and answer.run.id == running and answer.run.active
    assert q.count == 0


def test_queue_down_says_so_and_leaves_no_run_queued(config, engine, orgs):
    acme, _ = orgs
    down = replace(config, redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    with pytest.raises(SigsyncError, match="The job queue is unavailable"):
        runs.request_sync(down, engine, acme)
    with session_scope(config.database_url) as session:
        assert runs.active_run(session, acme) is None
        [run] = runs.list_runs(session, acme).runs
    assert run.status == "failed" and "REDIS_URL" in run.error


def test_a_paused_connection_refuses_sync_now_without_a_run(config, engine, orgs, queue):
    acme, _ = orgs
    config, q = queue
    connections.set_connection_paused(engine, connection_of(engine, acme), True)
    with pytest.raises(SigsyncError, match="paused"):
        runs.request_sync(config, engine, acme)
    with session_scope(config.database_url) as session:
        assert runs.list_runs(session, acme).runs == []


def test_sync_now_without_a_connection_says_connect_first(config, engine, queue):
    config, _q = queue
    with session_scope(config.database_url) as session:
        lonely = create_organization(session, "lonely", "Lonely")
    with pytest.raises(SigsyncError, match="not connected to Microsoft 365"):
        runs.request_sync(config, engine, lonely)
    with session_scope(config.database_url) as session:
        assert runs.active_run(session, lonely) is None


def test_every_decision_kind_the_plan_names_is_a_decision_kind():
    from portal.sync import plan

    names = [plan.CREATED, plan.UPDATED, plan.LINKED, plan.OVERWROTE_MANUAL, plan.KEPT_MANUAL, plan.PAUSED,
             plan.EXCLUDED, plan.REACTIVATED, plan.SKIPPED]
    assert {runs.DecisionKind(n) for n in names} <= set(runs.DecisionKind)
