"""GET /users/delta: rounds, changes, removals, restore, minimal responses, expiry and resets."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.simulator.graph_helpers import BASE, Graph, simulator_of
from tests.simulator.samples import sample

SELECT3 = "/v1.0/users/delta?$select=displayName,givenName,surname"


@pytest.fixture
def graph(graph_client, app_token) -> Graph:
    return Graph(graph_client, app_token)


@pytest.fixture
def tenant(graph_app):
    return simulator_of(graph_app).tenant


def test_initial_round_pages_like_the_samples(graph):
    items, link, pages = graph.delta_round(SELECT3)
    first, middle, last = sample("user-delta-initial-page.json"), sample("user-delta-nextlink-page.json"), \
        sample("user-delta-final-page-deltalink.json")
    assert [len(p["value"]) for p in pages] == [200, 100]  # 300 users, 200 a page
    assert list(pages[0]) == list(first) and list(pages[-1]) == list(last)
    assert pages[0]["@odata.context"] == f"{BASE}/v1.0/$metadata#users(displayName,givenName,surname)"
    assert pages[-1]["@odata.context"] == middle["@odata.context"].replace("https://graph.microsoft.com", BASE)
    assert pages[0]["@odata.nextLink"].startswith(f"{BASE}/v1.0/users/delta?$skiptoken=")
    assert link.startswith(f"{BASE}/v1.0/users/delta?$deltatoken=")
    assert "$select" not in link  # the selection lives in the token
    assert len({u["id"] for u in items}) == 300
    full = next(u for u in items if u.get("surname"))
    assert list(full) == list(first["value"][0])  # displayName, givenName, surname, id


def test_select_three_properties_is_all_selected_set_properties(graph):
    items, _, _ = graph.delta_round("/v1.0/users/delta?$select=displayName,jobTitle,mobilePhone")
    reference = sample("user-delta-select-three-properties.json")["value"][0]
    assert any(set(u) - {"id"} == set(reference) for u in items)
    zoe = next(u for u in items if u["displayName"] == "Zoë")
    assert "mobilePhone" not in zoe  # never set: left out entirely


def test_default_properties_without_select(graph):
    items, _, pages = graph.delta_round("/v1.0/users/delta")
    reference = sample("user-delta-default-properties.json")
    assert pages[0]["@odata.context"] == f"{BASE}/v1.0/$metadata#users"
    assert any(set(u) == set(reference["value"][0]) for u in items)


def test_top_and_maxpagesize_do_not_change_the_page_size(graph):
    _, _, pages = graph.delta_round(SELECT3 + "&$top=5", Prefer="odata.maxpagesize=10")
    assert [len(p["value"]) for p in pages] == [200, 100]


@pytest.mark.parametrize("graph_app", [{"users": 300, "delta_page_size": 50}], indirect=True)
def test_page_size_is_a_setting(graph):
    _, _, pages = graph.delta_round(SELECT3)
    assert [len(p["value"]) for p in pages] == [50] * 6


def test_no_changes_gives_an_empty_page_and_a_new_delta_link(graph):
    _, link, _ = graph.delta_round(SELECT3)
    body = graph.get(link).get_json()
    reference = sample("user-delta-deltalink-no-changes.json")
    assert list(body) == list(reference) and body["value"] == []
    assert body["@odata.deltaLink"].startswith(f"{BASE}/v1.0/users/delta?$deltatoken=")


def test_changes_round_with_changed_and_removed_users(graph, tenant):
    _, link, _ = graph.delta_round(SELECT3)
    juergen = tenant.get_user("Juergen.Mueller@contoso.example")["id"]
    max_id = tenant.get_user("Max.Mustermann@contoso.example")["id"]
    ole = tenant.get_user("Ole.Nordmann@contoso.example")["id"]
    tenant.update_user(juergen, givenName="Jürgen-Peter")
    tenant.soft_delete(max_id)
    tenant.hard_delete(ole)
    new = tenant.add_user({"displayName": "Neue Kollegin", "userPrincipalName": "neue.kollegin@contoso.example",
                           "givenName": "Neue", "surname": "Kollegin"})
    items, next_link, _ = graph.delta_round(link)
    by_id = {u["id"]: u for u in items}
    reference = sample("user-delta-deltalink-changes-with-removed.json")["value"]
    assert by_id[juergen] == {"displayName": "Jürgen Müller", "givenName": "Jürgen-Peter", "surname": "Müller",
                              "id": juergen}  # all selected properties, not only the changed one
    assert list(by_id[max_id]) == list(reference[1]) and by_id[max_id]["@removed"] == {"reason": "changed"}
    assert by_id[ole] == {"id": ole, "@removed": {"reason": "deleted"}}
    assert by_id[new] == {"displayName": "Neue Kollegin", "givenName": "Neue", "surname": "Kollegin", "id": new}
    assert len(items) == 4
    assert graph.get(next_link).get_json()["value"] == []


def test_changes_to_unselected_properties_do_not_show_up(graph, tenant):
    _, link, _ = graph.delta_round(SELECT3)
    tenant.update_user("Anna.Schmidt@contoso.example", city="Köln", jobTitle="Head of HR")
    assert graph.get(link).get_json()["value"] == []
    _, everything, _ = graph.delta_round("/v1.0/users/delta")
    tenant.update_user("Anna.Schmidt@contoso.example", city="Bonn")
    changed = graph.get(everything).get_json()["value"]  # without $select every property is tracked
    assert [u["displayName"] for u in changed] == ["Anna Schmidt"]


def test_prefer_minimal_returns_only_changed_properties_including_nulls(graph, tenant):
    _, link, _ = graph.delta_round("/v1.0/users/delta?$select=displayName,jobTitle,mobilePhone")
    uid = tenant.get_user("Juergen.Mueller@contoso.example")["id"]
    tenant.update_user(uid, displayName="Müller Jürgen", mobilePhone=None)
    answer = graph.get(link, Prefer="return=minimal")
    body = answer.get_json()
    assert answer.headers["Preference-Applied"] == "return=minimal"
    assert body["value"] == [{"displayName": "Müller Jürgen", "mobilePhone": None, "id": uid}]
    reference = sample("user-delta-prefer-minimal.json")["value"][0]
    assert set(body["value"][0]) - {"id", "mobilePhone"} <= set(reference)


def test_default_response_keeps_unchanged_properties_and_shows_new_nulls(graph, tenant):
    _, link, _ = graph.delta_round("/v1.0/users/delta?$select=displayName,jobTitle,mobilePhone")
    uid = tenant.get_user("Juergen.Mueller@contoso.example")["id"]
    tenant.update_user(uid, mobilePhone=None)
    assert graph.get(link).get_json()["value"] == [{"displayName": "Jürgen Müller", "jobTitle": "Leiter Vertrieb",
                                                    "mobilePhone": None, "id": uid}]


def test_restored_user_reappears_in_full(graph, tenant):
    _, link, _ = graph.delta_round(SELECT3)
    tenant.soft_delete("Zoe@contoso.example")
    items, link, _ = graph.delta_round(link)
    zoe = items[0]["id"]
    assert items == [{"id": zoe, "@removed": {"reason": "changed"}}]
    tenant.restore(zoe)
    items, _, _ = graph.delta_round(link, Prefer="return=minimal")
    assert items == [{"displayName": "Zoë", "givenName": "Zoë", "id": zoe}]


def test_soft_then_hard_delete_reports_deleted(graph, tenant):
    _, link, _ = graph.delta_round(SELECT3)
    tenant.soft_delete("Zoe@contoso.example")
    tenant.hard_delete("Zoe@contoso.example")
    items, _, _ = graph.delta_round(link)
    assert items[0]["@removed"] == {"reason": "deleted"}


def test_changes_during_the_initial_round_come_in_the_next_round(graph, tenant):
    first = graph.get(SELECT3).get_json()
    tenant.update_user("Zoe@contoso.example", givenName="Zoé")
    _, link, _ = graph.delta_round(first["@odata.nextLink"])
    items = graph.get(link).get_json()["value"]
    assert [u["givenName"] for u in items] == ["Zoé"]


@pytest.mark.parametrize("graph_app", [{"users": 300, "delta_page_size": 2}], indirect=True)
def test_a_big_change_round_pages_too(graph, tenant):
    _, link, _ = graph.delta_round(SELECT3)
    for key in ("Zoe@contoso.example", "Jose.Garcia@contoso.example", "Lukasz.Nowak@contoso.example",
                "wei.wang@contoso.example", "Dmitry.Ivanov@contoso.example"):
        tenant.update_user(key, surname="Changed")
        tenant.update_user(key, surname="Changed again")  # one object, sent once
    items, _, pages = graph.delta_round(link)
    assert [len(p["value"]) for p in pages] == [2, 2, 1]
    assert all(u["surname"] == "Changed again" for u in items)


def test_manager_selection_tracks_manager_changes(graph, tenant):
    items, link, _ = graph.delta_round("/v1.0/users/delta?$select=displayName,manager")
    juergen = tenant.get_user("Juergen.Mueller@contoso.example")
    mine = next(u for u in items if u["id"] == juergen["id"])
    ceo = tenant.manager_id(juergen["id"])
    assert mine["manager@delta"] == [{"@odata.type": "#microsoft.graph.user", "id": ceo}]
    anna = tenant.get_user("Anna.Schmidt@contoso.example")["id"]
    tenant.set_manager(juergen["id"], anna)
    changed = graph.get(link).get_json()["value"]
    assert changed == [{"displayName": "Jürgen Müller", "id": juergen["id"],
                        "manager@delta": [{"@odata.type": "#microsoft.graph.user", "id": anna}]}]


def test_filter_by_id_limits_the_round(graph, tenant):
    ids = [tenant.get_user(k)["id"] for k in ("Zoe@contoso.example", "Jose.Garcia@contoso.example")]
    items, link, _ = graph.delta_round(f"/v1.0/users/delta?$select=displayName&$filter=id eq '{ids[0]}' or "
                                       f"id eq '{ids[1]}'")
    assert sorted(u["id"] for u in items) == sorted(ids)
    tenant.update_user(ids[0], displayName="Zoë D.")
    tenant.update_user("Anna.Schmidt@contoso.example", displayName="Anna S.")
    assert [u["id"] for u in graph.get(link).get_json()["value"]] == [ids[0]]


def test_other_filters_are_refused(graph):
    assert graph.get("/v1.0/users/delta?$filter=userType eq 'Guest'").status_code == 400


def test_deltatoken_latest_gives_only_a_delta_link(graph, tenant):
    body = graph.get("/v1.0/users/delta?$select=displayName&$deltatoken=latest").get_json()
    assert body["value"] == [] and "@odata.deltaLink" in body and "@odata.nextLink" not in body
    tenant.update_user("Zoe@contoso.example", displayName="Zoë Latest")
    assert [u["displayName"] for u in graph.get(body["@odata.deltaLink"]).get_json()["value"]] == ["Zoë Latest"]


def test_the_delta_token_case_spelling_of_the_2022_docs_works(graph):
    body = graph.get("/v1.0/users/delta?$deltaToken=latest").get_json()
    assert body["value"] == []


def assert_sync_state_not_found(answer) -> None:
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["code"] == "syncStateNotFound"
    assert error["message"] == ("The sync state generation is not found. The delta token is expired and data must "
                                "be synchronized again.")


def test_unknown_token_is_sync_state_not_found(graph):
    assert_sync_state_not_found(graph.get("/v1.0/users/delta?$deltatoken=not-a-real-token"))
    assert_sync_state_not_found(graph.get("/v1.0/users/delta?$skiptoken=not-a-real-token"))


def test_tokens_expire_after_the_configured_age(graph, graph_app):
    _, link, _ = graph.delta_round(SELECT3)
    simulator_of(graph_app).settings.delta_token_max_age = 0
    time.sleep(0.01)
    assert_sync_state_not_found(graph.get(link))


def test_expiring_all_tokens_now(graph, graph_app):
    first = graph.get(SELECT3).get_json()
    _, link, _ = graph.delta_round(SELECT3)
    simulator_of(graph_app).faults.expire_delta_tokens()
    assert_sync_state_not_found(graph.get(link))
    assert_sync_state_not_found(graph.get(first["@odata.nextLink"]))
    assert graph.delta_round(SELECT3)[0]  # a fresh round works again


def test_tokens_from_before_a_reset_are_unknown(graph, tenant):
    _, link, _ = graph.delta_round(SELECT3)
    tenant.reset()
    assert_sync_state_not_found(graph.get(link))


def test_injected_reset_is_410_gone_with_a_location_to_start_over(graph, graph_app):
    _, link, _ = graph.delta_round(SELECT3)
    simulator_of(graph_app).faults.reset_delta()
    answer = graph.get(link)
    assert answer.status_code == 410
    assert answer.get_json()["error"]["code"] == "resyncRequired"
    location = answer.headers["Location"]
    assert location.startswith(f"{BASE}/v1.0/users/delta?")
    assert parse_qs(urlsplit(location).query, keep_blank_values=True) == {
        "$select": ["displayName,givenName,surname"], "$deltatoken": [""]}
    items, _, _ = graph.delta_round(location)  # an empty $deltatoken is the initial query
    assert len(items) == 300
    assert graph.get(link).status_code == 200  # the fault fired once


# -- /groups/delta --------------------------------------------------------------------------


def test_group_delta_initial_round_has_members_delta(graph, tenant):
    items, link, pages = graph.delta_round("/v1.0/groups/delta?$select=displayName,description,members")
    reference = sample("group-delta-initial-members-delta.json")
    assert list(pages[0]) == list(reference)
    assert pages[0]["@odata.context"] == f"{BASE}/v1.0/$metadata#groups(displayName,description,members)"
    assert link.startswith(f"{BASE}/v1.0/groups/delta?$deltatoken=")
    falcon = next(g for g in items if g["displayName"] == "Project Falcon")
    assert list(falcon) == list(reference["value"][0])  # displayName, description, id, members@delta
    assert all(set(m) == {"@odata.type", "id"} for m in falcon["members@delta"])
    emea = next(g for g in items if g["displayName"] == "Signature - EMEA")
    assert {"@odata.type": "#microsoft.graph.group",
            "id": next(g["id"] for g in items if g["displayName"] == "Signature - DACH")} in emea["members@delta"]
    pilot = next(g for g in items if g["displayName"] == "Signature Pilot")
    assert pilot["members@delta"] == []


@pytest.mark.parametrize("graph_app", [{"users": 1200}], indirect=True)
def test_group_delta_splits_a_large_group_across_pages(graph):
    items, _, pages = graph.delta_round("/v1.0/groups/delta?$select=displayName")  # members: off
    assert all("members@delta" not in g for g in items) and len(pages) == 1
    items, _, pages = graph.delta_round("/v1.0/groups/delta")
    everyone = [g for g in items if g["displayName"] == "All Employees"]
    assert len(everyone) > 1  # the same group object repeated, each with a slice of its members
    slices = [m["id"] for g in everyone for m in g["members@delta"]]
    assert len(slices) == len(set(slices)) > 1000
    assert all(sum(len(g.get("members@delta", [])) for g in p["value"]) <= 500 for p in pages)
    reference = set(sample("group-delta-default-properties.json")["value"][0])
    assert reference - {"members@delta", "classification"} <= set(everyone[0])  # ours has no classification: unset


def test_group_delta_reports_added_and_removed_members(graph, tenant):
    _, link, _ = graph.delta_round("/v1.0/groups/delta?$select=displayName,description,members")
    falcon = next(g for g in tenant.groups_page(0, 100)[0] if g["displayName"] == "Project Falcon")["id"]
    zoe = tenant.get_user("Zoe@contoso.example")["id"]
    jose = tenant.get_user("Jose.Garcia@contoso.example")["id"]
    tenant.add_member(falcon, zoe)
    tenant.remove_member(falcon, jose)
    body = graph.get(link).get_json()
    reference = sample("group-delta-deltalink-member-removed-added.json")
    assert list(body) == list(reference)
    changed = body["value"]
    assert [g["id"] for g in changed] == [falcon]
    assert set(changed[0]) == set(reference["value"][0])
    assert {m["id"]: m.get("@removed") for m in changed[0]["members@delta"]} == {zoe: None,
                                                                                jose: {"reason": "deleted"}}


def test_group_delta_soft_deleted_members_stay_until_hard_deleted(graph, tenant):
    _, link, _ = graph.delta_round("/v1.0/groups/delta?$select=displayName,members")
    tenant.soft_delete("Jose.Garcia@contoso.example")
    body = graph.get(link).get_json()
    assert body["value"] == []
    tenant.hard_delete("Jose.Garcia@contoso.example")
    changed = graph.get(body["@odata.deltaLink"]).get_json()["value"]
    assert changed and all(g["members@delta"][0]["@removed"] == {"reason": "deleted"} for g in changed)


def test_group_delta_property_change_default_and_minimal(graph, tenant):
    _, link, _ = graph.delta_round("/v1.0/groups/delta?$select=displayName,description,mailNickname")
    falcon = next(g for g in tenant.groups_page(0, 100)[0] if g["displayName"] == "Project Falcon")["id"]
    tenant.update_group(falcon, description=None)
    full = graph.get(link).get_json()["value"]
    reference = sample("group-delta-select-three-properties.json")["value"][0]
    assert set(full[0]) - {"id"} == set(reference)
    minimal = graph.get(link, Prefer="return=minimal").get_json()["value"]
    assert minimal == [{"description": None, "id": falcon}]


def test_new_group_comes_in_full(graph, tenant):
    _, link, _ = graph.delta_round("/v1.0/groups/delta?$select=displayName,members")
    gid = tenant.create_group("Signature Beta", members=["Zoe@contoso.example"])
    zoe = tenant.get_user("Zoe@contoso.example")["id"]
    assert graph.get(link).get_json()["value"] == [
        {"displayName": "Signature Beta", "id": gid,
         "members@delta": [{"@odata.type": "#microsoft.graph.user", "id": zoe}]}]


def test_group_delta_tokens_are_not_user_delta_tokens(graph):
    _, link, _ = graph.delta_round("/v1.0/groups/delta?$select=displayName")
    token = link.split("$deltatoken=")[1]
    assert_sync_state_not_found(graph.get(f"/v1.0/users/delta?$deltatoken={token}"))
