"""The Graph client against the simulator: paging, delta, groups, batch, and reads only."""

from __future__ import annotations

import base64
import math

import pytest

from portal.m365 import auth
from portal.m365.errors import ConsentRequired, DeltaExpired, GraphError
from portal.m365.graph import GraphClient
from portal.m365.transport import graph_session
from tests.m365.support import app_connection, new_user

SELECT = ["displayName", "givenName", "surname", "mail", "jobTitle", "department"]


def _graph_requests(sim, since: int = 0) -> list:
    return [r for r in sim.sim.log.items("graph")[since:] if not r.via]


def test_app_token_reads_a_user(sim, graph):
    uid = new_user(sim, "ada.reader", jobTitle="Analyst")
    user = graph.user(uid, ["id", "jobTitle"])
    assert user["id"] == uid and user["jobTitle"] == "Analyst"
    with pytest.raises(GraphError) as info:
        graph.user("00000000-0000-0000-0000-000000000000")
    assert (info.value.status, info.value.code) == (404, "Request_ResourceNotFound")


def test_paging_returns_every_user_exactly_once(sim, graph):
    start = len(sim.sim.log.items("graph"))
    pages = list(graph.iter_pages("users", {"$select": "id,mail", "$top": 50}))
    ids = [u["id"] for page in pages for u in page["value"]]
    total = sim.sim.tenant.count_users()
    assert len(ids) == len(set(ids)) == total
    assert len(pages) == math.ceil(total / 50)
    requests = _graph_requests(sim, start)
    # The first request carries our parameters; every later one is a nextLink used verbatim.
    assert "$top=50" in requests[0].query and "skiptoken" not in requests[0].query
    assert all("skiptoken" in r.query and "$top=50" in r.query for r in requests[1:])


def test_a_large_page_size_is_asked_for(sim, graph):
    start = len(sim.sim.log.items("graph"))
    users = list(graph.iter_values("users", {"$select": "id", "$top": 999}))
    assert len(users) == sim.sim.tenant.count_users()
    assert len(_graph_requests(sim, start)) == 1


def test_consistency_level_is_sent_on_every_page(sim, m365_config):
    session = graph_session(m365_config)
    sent: list[str | None] = []
    session.hooks["response"].append(lambda r, *a, **k: sent.append(r.request.headers.get("ConsistencyLevel")))
    provider = auth.TokenProvider(m365_config, app_connection(sim))
    with GraphClient(m365_config, provider, session=session) as graph:
        params = {"$filter": f"endsWith(mail,'@{sim.sim.settings.tenant_domain}')", "$count": "true", "$top": 60}
        pages = list(graph.iter_pages("users", params, headers={"ConsistencyLevel": "eventual"}))
    assert len(pages) > 1 and "@odata.count" in pages[0]
    assert sum(len(p["value"]) for p in pages) == pages[0]["@odata.count"]
    assert sent == ["eventual"] * len(pages)


def test_delta_initial_round_then_a_round_of_changes(sim, graph):
    start = len(sim.sim.log.items("graph"))
    initial = list(graph.iter_delta("users/delta", SELECT))
    seen = [u["id"] for page in initial for u in page.users]
    assert len(seen) == len(set(seen)) == sim.sim.tenant.count_users()
    assert [p.delta_link is not None for p in initial] == [False] * (len(initial) - 1) + [True]
    requests = _graph_requests(sim, start)
    assert "select" in requests[0].query.lower()
    assert all("select" not in r.query.lower() for r in requests[1:])  # $select only on the first request

    tenant = sim.sim.tenant
    hired = new_user(sim, "grace.delta", jobTitle="Engineer")
    promoted, left, gone, moved = seen[10], seen[11], seen[12], seen[13]
    tenant.update_user(promoted, jobTitle="Chief Promotions Officer")
    tenant.soft_delete(left)
    tenant.hard_delete(gone)
    tenant.update_user(moved, city="Elsewhere")  # not selected: not a change for us

    changes = list(graph.iter_delta(initial[-1].delta_link))
    users = {u["id"]: u for page in changes for u in page.users}
    removed = {rid: reason for page in changes for rid, reason in page.removed}
    assert users[hired]["jobTitle"] == "Engineer"
    assert users[promoted]["jobTitle"] == "Chief Promotions Officer"
    assert moved not in users
    assert removed == {left: "changed", gone: "deleted"}
    assert changes[-1].delta_link and changes[-1].delta_link != initial[-1].delta_link

    quiet = list(graph.iter_delta(changes[-1].delta_link))
    assert [(p.users, p.removed) for p in quiet] == [([], [])] and quiet[-1].delta_link


def test_expired_delta_link_means_a_full_run(sim, graph):
    link = list(graph.iter_delta("users/delta", ["displayName"]))[-1].delta_link
    sim.sim.faults.expire_delta_tokens()
    with pytest.raises(DeltaExpired) as info:
        list(graph.iter_delta(link))
    assert (info.value.status, info.value.code) == (400, "syncStateNotFound")
    assert "reads the whole directory" in info.value.admin_message


def test_delta_reset_410_means_a_full_run(sim, graph):
    link = list(graph.iter_delta("users/delta", ["displayName"]))[-1].delta_link
    sim.sim.faults.reset_delta()
    with pytest.raises(DeltaExpired) as info:
        list(graph.iter_delta(link))
    assert info.value.status == 410 and "/users/delta" in info.value.location


def test_transitive_members_in_few_requests(sim, graph):
    tenant = sim.sim.tenant
    groups = list(graph.list_groups(select=["id", "displayName"]))
    biggest = max(groups, key=lambda g: len(tenant.members_page(g["id"], 0, 10**6, True, ("user",))[0]))
    expected = {ref.data["id"] for ref in tenant.members_page(biggest["id"], 0, 10**6, True, ("user",))[0]}
    start = len(sim.sim.log.items("graph"))
    ids = list(graph.transitive_user_ids(biggest["id"]))
    assert len(ids) == len(set(ids)) and set(ids) == expected
    requests = _graph_requests(sim, start)
    assert len(requests) == math.ceil(len(expected) / 999)
    assert requests[0].path.endswith("/transitiveMembers/microsoft.graph.user") and "$top=999" in requests[0].query


def test_group_listing_and_reading(sim, graph):
    groups = list(graph.list_groups(select=["id", "displayName"]))
    group = graph.group(groups[0]["id"], ["id", "displayName"])
    assert group == {k: v for k, v in group.items() if k.startswith("@")} | groups[0]


def test_manager_and_photo_or_none(sim, graph):
    boss, worker = new_user(sim, "the.boss"), new_user(sim, "the.worker")
    assert graph.manager(worker) is None  # Graph's 404 for "no manager" is not an error
    assert graph.photo_bytes(worker) is None  # nor is ImageNotFound
    sim.sim.tenant.set_manager(worker, boss)
    jpeg = b"\xff\xd8\xff\xe0" + b"sigsync" * 50
    sim.sim.tenant.set_photo(worker, jpeg)
    assert graph.manager(worker, ["id", "displayName"])["id"] == boss
    assert graph.photo_bytes(worker) == jpeg


def test_batch_in_chunks_of_twenty(sim, graph):
    ids = [u["id"] for u in graph.iter_values("users", {"$select": "id", "$top": 45})][:45]
    urls = [f"/users/{uid}?$select=id,displayName" for uid in ids] + ["/users/no-such-user", "users/x/photo/$value"]
    start = len(sim.sim.log.items("graph"))
    answers = graph.batch_get(urls)
    assert set(answers) == {str(i) for i in range(len(urls))}
    assert [answers[str(i)].body["id"] for i in range(45)] == ids
    assert answers["45"].status == 404 and answers["45"].body["error"]["code"] == "Request_ResourceNotFound"
    assert [r.path for r in _graph_requests(sim, start)] == ["/v1.0/$batch"] * 3


def test_batch_photo_bodies_arrive_base64(sim, graph):
    uid = new_user(sim, "photo.batch")
    sim.sim.tenant.set_photo(uid, b"\xff\xd8photo")
    answer = graph.batch_get({"photo": f"/users/{uid}/photo/$value"})["photo"]
    assert answer.status == 200 and base64.b64decode(answer.body) == b"\xff\xd8photo"


def test_missing_permission_needs_consent(sim, sim_settings, m365_config):
    sim_settings.app_permissions = ("User.Read.All",)  # Group.Read.All not granted
    provider = auth.TokenProvider(m365_config, app_connection(sim))
    with GraphClient(m365_config, provider) as graph, pytest.raises(ConsentRequired) as info:
        list(graph.list_groups())
    assert info.value.status == 403 and "permission" in info.value.reason


def test_links_to_other_hosts_are_refused(graph):
    with pytest.raises(GraphError) as info:
        graph.get("https://evil.example/v1.0/users?$skiptoken=x")
    assert info.value.code == "foreignLink"


def test_only_reads_ever_reach_graph(sim, graph):
    uid = new_user(sim, "read.only")
    list(graph.iter_pages("users", {"$top": 999}))
    list(graph.iter_delta("users/delta", SELECT))
    groups = list(graph.list_groups())
    list(graph.transitive_user_ids(groups[0]["id"]))
    graph.batch_get([f"/users/{uid}", f"/users/{uid}/manager"])
    graph.photo_bytes(uid)
    methods = {(r.method, r.path.rsplit("/", 1)[-1] if r.method != "GET" else "") for r in sim.sim.log.items("graph")}
    assert methods <= {("GET", ""), ("POST", "$batch")}
    assert ("POST", "$batch") in methods


def test_empty_delta_pages_with_a_next_link_are_followed(sim, sim_settings, graph):
    sim_settings.delta_page_size = 2
    watched = new_user(sim, "watched.one")
    others = [new_user(sim, f"other.{n}") for n in range(6)]
    link = list(graph.iter_delta(f"users/delta?$filter=id eq '{watched}'", ["jobTitle"]))[-1].delta_link
    for uid in others:  # changes the id filter hides: they fill pages that arrive empty
        sim.sim.tenant.update_user(uid, jobTitle="Busy")
    sim.sim.tenant.update_user(watched, jobTitle="Found")
    pages = list(graph.iter_delta(link))
    assert any(not p.users and p.delta_link is None for p in pages)
    assert [u["jobTitle"] for p in pages for u in p.users] == ["Found"]
    assert pages[-1].delta_link
