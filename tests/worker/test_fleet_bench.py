"""The fleet benchmark's harness at a tiny size: real scheduler, real `python worker.py` processes, every org right."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from sqlalchemy import select, update

from bench.fleet import PrivateRedis, create_fleet, run_fleet, scheduled_runs, tenant_truth, verify
from portal.db import get_engine
from portal.models import Employee, Organization

pytestmark = pytest.mark.slow  # starts worker processes and waits for a scheduler tick


@pytest.fixture
def fleet_config(m365_config, sim):
    sim.settings.users = 20  # the sim fixture puts the size back afterwards
    sim.tenant.reset()
    with PrivateRedis() as redis:  # run ids start at 1 in every test database: job ids would collide on a shared one
        yield replace(m365_config, redis_url=redis.url, rq_queue="sigsync")


def test_three_organisations_due_at_once_on_two_workers_all_end_exactly_right(fleet_config, sim_server_engine,
                                                                             tmp_path):
    ids = create_fleet(fleet_config, 3)
    truth = tenant_truth(fleet_config, ids[0])
    env = {**os.environ, **sim_server_engine.env(), "SIGSYNC_ENV": "test"}

    (first,) = run_fleet(fleet_config, env, ids, truth, 2, ["first"], os.getpid(), 20, tmp_path)

    assert truth.employees > 10
    assert first.orgs == 3 and first.workers == 2
    assert first.modes == {"full": 3}  # each organisation's first scheduled run read the whole tenant
    assert first.problems == []


def test_the_check_names_an_organisation_whose_employees_differ_from_the_tenant(fleet_config, sim_server_engine,
                                                                                 tmp_path):
    ids = create_fleet(fleet_config, 2)
    truth = tenant_truth(fleet_config, ids[0])
    env = {**os.environ, **sim_server_engine.env(), "SIGSYNC_ENV": "test"}
    (first,) = run_fleet(fleet_config, env, ids, truth, 1, ["first"], os.getpid(), 20, tmp_path)
    assert first.problems == []
    runs = scheduled_runs(fleet_config, 0)
    with get_engine(fleet_config.database_url).begin() as conn:
        second = conn.execute(select(Organization.id).where(Organization.slug == "fleet-0001")).scalar_one()
        conn.execute(update(Employee).where(Employee.organization_id == second, Employee.job_title != "")
                     .values(job_title="Changed behind the sync's back"))

    assert verify(fleet_config, truth, runs) == [f"fleet-0001: {truth.employees} employees (tenant: "
                                                 f"{truth.employees}), checksum differs"]
