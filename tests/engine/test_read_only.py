"""Microsoft 365 is never written to: every engine test ends by checking the request log (conftest.sim)."""

from __future__ import annotations

import pytest

from tests.engine.conftest import assert_read_only
from tests.engine.support import group_id


def test_a_busy_life_of_syncs_sends_graph_nothing_but_reads(acme):
    acme.sim.settings.delta_page_size = 40
    falcon = group_id(acme.sim, "Project Falcon")
    acme.configure(import_rules=[
        {"name": "Falcon", "conditions": [{"attribute": "memberOf", "operator": "member_of", "value": falcon}]},
        {"name": "Sales", "conditions": [{"attribute": "department", "operator": "contains", "value": "sales"}]}],
        mapping={"custom.manager_language": "manager.preferredLanguage"})
    acme.sync()
    tenant = acme.sim.tenant
    tenant.add_member(falcon, "Ole.Nordmann@contoso.example")  # joins: fetched by id through $batch
    tenant.update_user("zoe@contoso.example", displayName="Zoë D.")
    acme.sync()
    acme.sync(dry_run=True)
    acme.sim.faults.reset_delta()
    acme.sync()

    graph = acme.sim.log.items("graph")
    assert {(i.method, i.via) for i in graph} == {("GET", ""), ("POST", ""), ("GET", "$batch")}
    assert {i.path for i in graph if i.method == "POST"} == {"/v1.0/$batch"}
    assert_read_only(acme.sim)


def test_the_check_catches_a_write(sim):
    sim.log.add("PATCH", "/v1.0/users/x", "", 403, "graph")
    with pytest.raises(AssertionError):
        assert_read_only(sim)
    sim.log.clear()
