"""GET /users, /users/{id | upn}, /users/$count, manager and photo, checked against Microsoft's samples."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.simulator.graph_helpers import BASE, ODATA_JSON, Graph, simulator_of, types_of
from tests.simulator.samples import sample

DEFAULT_USER = set(sample("user-list-response.json")["value"][0])


@pytest.fixture
def graph(graph_client, app_token) -> Graph:
    return Graph(graph_client, app_token)


def assert_like(ours: dict, theirs: dict) -> None:
    """Same property names, and the same JSON type wherever both are set."""
    assert set(ours) == set(theirs)
    mine, sampled = types_of(ours), types_of(theirs)
    for key in mine.keys() & sampled.keys():
        assert mine[key] is sampled[key], key


def test_list_has_the_default_property_set_of_microsofts_sample(graph):
    answer = graph.get("/v1.0/users")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == ODATA_JSON
    body = answer.get_json()
    reference = sample("user-list-response.json")
    assert list(body) == ["@odata.context", "@odata.nextLink", "value"]  # 300 users: more than one page
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#users"
    assert len(body["value"]) == 100  # the documented default page size
    for user in body["value"]:
        assert_like(user, reference["value"][1])
        assert list(user)[-1] == "id"  # Microsoft's order: id last


def test_unset_properties_are_null_and_business_phones_an_array(graph):
    room = graph.get("/v1.0/users/Adams@contoso.example").get_json()
    reference = sample("user-list-response.json")["value"][0]  # "Conf Room Adams" in Microsoft's sample
    assert {k for k, v in room.items() if v is None} == {k for k, v in reference.items() if v is None}
    assert room["businessPhones"] == []


def test_select_returns_exactly_the_selected_properties_in_order(graph):
    body = graph.get("/v1.0/users?$select=id,mail,assignedLicenses&$top=5").get_json()
    reference = sample("user-list-filter-assignedlicenses.json")
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#users(id,mail,assignedLicenses)"
    licensed = [u for u in body["value"] if u["assignedLicenses"]]
    assert licensed
    for user in body["value"]:
        assert list(user) == ["id", "mail", "assignedLicenses"]
    assert_like(licensed[0], reference["value"][0])
    assert set(licensed[0]["assignedLicenses"][0]) == set(reference["value"][0]["assignedLicenses"][0])


def test_select_is_case_insensitive_and_answers_canonical_names(graph):
    user = graph.get("/v1.0/users?$select=DisplayName,MAIL&$top=1").get_json()["value"][0]
    assert list(user) == ["displayName", "mail"]


def test_single_user_select_matches_the_entity_sample(graph):
    reference = sample("user-get-select-identities-entity.json")
    answer = graph.get("/v1.0/users/Juergen.Mueller@contoso.example"
                       "?$select=displayName,givenName,postalCode,identities")
    body = answer.get_json()
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#users(displayName,givenName,postalCode,identities)/$entity"
    assert_like(body, reference)
    assert set(body["identities"][0]) == set(reference["identities"][0])


def test_extension_attributes_are_the_documented_complex_type(graph):
    body = graph.get("/v1.0/users/Bjorn.Akesson@contoso.example?$select=onPremisesExtensionAttributes").get_json()
    reference = sample("onpremisesextensionattributes-json-representation.json")
    assert_like(body["onPremisesExtensionAttributes"], reference)


def test_get_by_id_and_by_upn_in_any_case_is_the_same_user(graph):
    by_upn = graph.get("/v1.0/users/JUERGEN.MUELLER@contoso.example").get_json()
    by_id = graph.get(f"/v1.0/users/{by_upn['id']}").get_json()
    by_key = graph.get(f"/v1.0/users('{by_upn['userPrincipalName']}')").get_json()
    assert by_upn == by_id == by_key
    assert by_id["@odata.context"] == f"{BASE}/v1.0/$metadata#users/$entity"
    assert by_id["displayName"] == "Jürgen Müller"


def test_guest_upn_with_ext_is_found_when_encoded(graph):
    answer = graph.get("/v1.0/users/adele.vance_fabrikam.example%23EXT%23@contoso.example?$select=userType,mail")
    assert answer.status_code == 200
    assert answer.get_json()["userType"] == "Guest"


def test_unknown_user_is_404_with_the_documented_message(graph):
    answer = graph.get("/v1.0/users/00000000-0000-0000-0000-000000000000")
    assert answer.status_code == 404
    error = answer.get_json()["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert error["message"] == ("Resource '00000000-0000-0000-0000-000000000000' does not exist or one of its "
                                "queried reference-property objects are not present.")
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


@pytest.mark.parametrize("graph_app", [{"users": 2000}], indirect=True)
def test_paging_2000_users_with_top_999_returns_each_user_once(graph):
    items, pages = graph.all_pages("/v1.0/users?$top=999&$select=id,displayName")
    assert [len(p["value"]) for p in pages] == [999, 999, 2]
    assert len({u["id"] for u in items}) == 2000
    link = pages[0]["@odata.nextLink"]
    assert link.startswith(f"{BASE}/v1.0/users?")  # absolute, built from the request's host
    query = parse_qs(urlsplit(link).query)
    assert query["$top"] == ["999"] and query["$select"] == ["id,displayName"]  # every original parameter
    assert "@odata.nextLink" not in pages[-1]


@pytest.mark.parametrize("top", ["1000", "0", "abc"])
def test_top_outside_1_to_999_is_refused(graph, top):
    answer = graph.get(f"/v1.0/users?$top={top}")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "Request_UnsupportedQuery"


def test_top_1000_has_the_observed_message(graph):
    error = graph.get("/v1.0/users?$top=1000").get_json()["error"]
    assert error["message"] == "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."


@pytest.mark.parametrize("prop", ["skills", "aboutMe", "interests", "schools", "mySite", "birthday"])
def test_properties_outside_the_directory_cannot_be_listed(graph, prop):
    answer = graph.get(f"/v1.0/users?$select=id,{prop}")
    assert answer.status_code == 501
    reference = sample("error-501-not-implemented.json")["error"]
    error = answer.get_json()["error"]
    assert (error["code"], error["message"]) == (reference["code"], reference["message"])


def test_unknown_select_property_is_a_bad_request(graph):
    answer = graph.get("/v1.0/users?$select=id,favouriteColour")
    assert answer.status_code == 400
    assert "favouriteColour" in answer.get_json()["error"]["message"]


def test_select_without_dollar_is_refused_like_on_v1(graph):
    answer = graph.get("/v1.0/users?select=id")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"] == "Unrecognized query argument specified: 'select'."


# -- $filter ---------------------------------------------------------------------------------


def text(user: dict, name: str) -> str:
    return (user[name] or "").casefold()


@pytest.mark.parametrize("expr, check", [
    ("accountEnabled eq false", lambda u: u["accountEnabled"] is False),
    ("accountEnabled eq true", lambda u: u["accountEnabled"] is True),
    ("userType eq 'Guest'", lambda u: u["userType"] == "Guest"),
    ("userType eq 'Member'", lambda u: u["userType"] == "Member"),
    ("startswith(displayName,'J')", lambda u: text(u, "displayName").startswith("j")),
    ("startswith(mail,'anna')", lambda u: text(u, "mail").startswith("anna")),
    ("startswith(userPrincipalName,'svc-')", lambda u: text(u, "userPrincipalName").startswith("svc-")),
    ("startswith(givenName,'Jü')", lambda u: text(u, "givenName").startswith("jü")),
    ("startswith(surname,'M')", lambda u: text(u, "surname").startswith("m")),
    ("startswith(jobTitle,'Director')", lambda u: text(u, "jobTitle").startswith("director")),
    ("startswith(department,'Sales')", lambda u: text(u, "department").startswith("sales")),
    ("department eq 'sales'", lambda u: text(u, "department") == "sales"),  # case-insensitive, as in Entra
    ("mail eq 'ANNA.SCHMIDT@contoso.example'", lambda u: text(u, "mail") == "anna.schmidt@contoso.example"),
    ("userType eq 'Member' and (startswith(givenName,'A') or startswith(surname,'A'))",
     lambda u: u["userType"] == "Member" and (text(u, "givenName").startswith("a")
                                             or text(u, "surname").startswith("a"))),
])
def test_common_filters_select_exactly_the_matching_users(graph, expr, check):
    fields = "id,displayName,givenName,surname,mail,userPrincipalName,jobTitle,department,accountEnabled,userType"
    everyone, _ = graph.all_pages(f"/v1.0/users?$select={fields}&$top=999")
    matched, _ = graph.all_pages(f"/v1.0/users?$select={fields}&$top=999&$filter={expr}")
    expected = [u["id"] for u in everyone if check(u)]
    assert expected, "the generated tenant should have users for every filter"
    assert [u["id"] for u in matched] == expected


def test_filter_on_two_users_with_the_same_mail_in_different_case_finds_both(graph):
    matched, _ = graph.all_pages("/v1.0/users?$filter=mail eq 'anna.schmidt@contoso.example'&$select=mail")
    assert sorted(u["mail"] for u in matched) == ["Anna.Schmidt@contoso.example", "anna.schmidt@contoso.example"]


def test_id_in_list_returns_those_users(graph):
    some = graph.get("/v1.0/users?$top=7&$select=id").get_json()["value"]
    wanted = [some[1]["id"], some[4]["id"], some[6]["id"]]
    quoted = ",".join(f"'{i}'" for i in reversed(wanted))
    found = graph.get(f"/v1.0/users?$filter=id in ({quoted})&$select=id").get_json()["value"]
    assert [u["id"] for u in found] == wanted  # directory order


@pytest.mark.parametrize("expr", ["endswith(mail,'@gmail.com')", "accountEnabled ne true",
                                  "not(userType eq 'Guest')", "city eq null"])
def test_advanced_only_filters_need_consistency_level_and_count(graph, expr):
    answer = graph.get(f"/v1.0/users?$filter={expr}")
    reference = sample("error-unsupported-query-endswith-without-advanced-params.json")["error"]
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert (error["code"], error["message"]) == (reference["code"], reference["message"])
    assert set(error["innerError"]) == set(reference["innerError"])
    advanced = graph.get(f"/v1.0/users?$filter={expr}&$count=true", ConsistencyLevel="eventual")
    assert advanced.status_code == 200
    assert advanced.get_json()["@odata.count"] >= 1


def test_endswith_with_advanced_parameters_matches_microsofts_sample_shape(graph):
    answer = graph.get("/v1.0/users?$filter=endswith(mail,'@gmail.com')&$count=true&$select=displayName,mail",
                       ConsistencyLevel="eventual")
    body = answer.get_json()
    assert list(body) == ["@odata.context", "@odata.count", "value"]
    assert body["@odata.count"] == len(body["value"]) >= 1
    assert all(u["mail"].endswith("@gmail.com") for u in body["value"])


def test_filter_on_a_property_that_needs_advanced_queries_names_it(graph):
    answer = graph.get("/v1.0/users?$filter=companyName eq 'Contoso, Inc.'")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"] == (
        "Unsupported or invalid query filter clause specified for property 'companyName' of resource 'User'.")
    assert graph.get("/v1.0/users?$filter=companyName eq 'Contoso, Inc.'&$count=true",
                     ConsistencyLevel="eventual").status_code == 200


def test_endswith_is_refused_even_with_advanced_parameters_on_unsupported_properties(graph):
    answer = graph.get("/v1.0/users?$filter=endswith(displayName,'r')&$count=true", ConsistencyLevel="eventual")
    assert answer.status_code == 400


def test_malformed_filter_is_a_bad_request(graph):
    answer = graph.get("/v1.0/users?$filter=startswith(displayName,")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "BadRequest"


def test_a_forged_skiptoken_is_refused(graph):
    assert graph.get("/v1.0/users?$top=1&$skiptoken=forged").status_code == 400


# -- $count, $search, $orderby -----------------------------------------------------------------


def test_count_true_is_silently_ignored_without_consistency_level(graph):
    body = graph.get("/v1.0/users?$count=true&$top=3").get_json()
    assert "@odata.count" not in body


def test_count_true_with_eventual_is_on_the_first_page_only(graph):
    first = graph.get("/v1.0/users?$count=true&$top=100", ConsistencyLevel="eventual").get_json()
    assert first["@odata.count"] == 300
    second = graph.get(first["@odata.nextLink"], ConsistencyLevel="eventual").get_json()
    assert "@odata.count" not in second


def test_count_segment_is_plain_text_with_eventual(graph):
    answer = graph.get("/v1.0/users/$count", ConsistencyLevel="eventual")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.get_data(as_text=True) == "300"
    guests = graph.get("/v1.0/users/$count?$filter=userType eq 'Guest'", ConsistencyLevel="eventual")
    assert 0 < int(guests.get_data(as_text=True)) < 300


def test_count_segment_without_eventual_is_the_documented_400(graph):
    answer = graph.get("/v1.0/users/$count")
    reference = sample("error-request-badrequest-count-without-consistencylevel.json")["error"]
    error = answer.get_json()["error"]
    assert answer.status_code == 400
    assert (error["code"], error["message"]) == (reference["code"], reference["message"])
    assert set(error["innerError"]) == set(reference["innerError"])


def test_search_needs_eventual(graph):
    answer = graph.get('/v1.0/users?$search="displayName:Jürgen"')
    reference = sample("error-unsupported-query-search-without-consistencylevel.json")["error"]
    error = answer.get_json()["error"]
    assert (answer.status_code, error["code"], error["message"]) == (400, reference["code"], reference["message"])
    found = graph.get('/v1.0/users?$search="displayName:Jürgen"&$select=displayName', ConsistencyLevel="eventual")
    assert found.status_code == 200
    assert found.get_json()["value"] and all("Jürgen" in u["displayName"] for u in found.get_json()["value"])


def test_orderby_display_name_sorts_and_pages(graph):
    items, pages = graph.all_pages("/v1.0/users?$orderby=displayName&$select=displayName&$top=120")
    names = [u["displayName"].casefold() for u in items]
    assert names == sorted(names) and len(items) == 300 and len(pages) == 3


def test_orderby_with_filter_needs_advanced_parameters(graph):
    answer = graph.get("/v1.0/users?$orderby=displayName&$filter=userType eq 'Guest'")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"] == "Sorting not supported for current query."


# -- manager and $expand -------------------------------------------------------------------------


def test_manager_is_a_directory_object_with_the_sample_properties(graph):
    answer = graph.get("/v1.0/users/Juergen.Mueller@contoso.example/manager")
    body = answer.get_json()
    assert answer.status_code == 200
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#directoryObjects/$entity"
    assert body["@odata.type"] == "#microsoft.graph.user"
    assert set(sample("user-manager-response.json")) <= set(body)
    assert body["jobTitle"] == "Chief Executive Officer"


def test_no_manager_is_404_manager(graph):
    answer = graph.get("/v1.0/users/admin@contoso.example/manager")
    assert answer.status_code == 404
    error = answer.get_json()["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert error["message"] == ("Resource 'manager' does not exist or one of its queried reference-property "
                                "objects are not present.")


def test_direct_reports_are_the_users_naming_the_manager_and_hide_while_it_is_deleted(graph, graph_app):
    tenant = simulator_of(graph_app).tenant
    path = "/v1.0/users/Juergen.Mueller@contoso.example/directReports?$select=id,displayName&$top=1"
    first = graph.get(path).get_json()
    assert first["@odata.context"] == f"{BASE}/v1.0/$metadata#directoryObjects"
    reports, body = [], first
    while True:  # paged like any directoryObject collection
        reports += body["value"]
        if "@odata.nextLink" not in body:
            break
        body = graph.get(body["@odata.nextLink"].removeprefix(BASE)).get_json()
    names = {r["displayName"] for r in reports}
    assert {"Paul Fischer", "Max Mustermann"} <= names
    assert all(set(r) == {"@odata.type", "id", "displayName"} and r["@odata.type"] == "#microsoft.graph.user"
               for r in reports)
    assert len(reports) > 1 and "@odata.nextLink" in first
    tenant.soft_delete("paul.fischer@contoso.example")
    assert "Paul Fischer" not in {r["displayName"] for r in tenant.reports_of("Juergen.Mueller@contoso.example")}
    tenant.soft_delete("Juergen.Mueller@contoso.example")
    assert graph.get("/v1.0/users/Juergen.Mueller@contoso.example/directReports").status_code == 404
    tenant.restore("Juergen.Mueller@contoso.example")
    assert "Max Mustermann" in {r["displayName"] for r in tenant.reports_of("Juergen.Mueller@contoso.example")}


def test_expand_manager_with_select_on_the_list(graph):
    users = graph.get("/v1.0/users?$select=id,displayName&$expand=manager($select=id,displayName)&$top=40")
    body = users.get_json()["value"]
    with_manager = [u for u in body if "manager" in u]
    assert with_manager and len(with_manager) < len(body)  # the admin, guests and rooms have none
    for user in with_manager:
        assert user["manager"] == {"@odata.type": "#microsoft.graph.user", "id": user["manager"]["id"],
                                   "displayName": user["manager"]["displayName"]}


def test_expand_manager_levels_max_builds_the_chain_like_the_sample(graph):
    users, _ = graph.all_pages("/v1.0/users?$select=id,jobTitle&$top=999")
    worker = next(u for u in reversed(users) if u["jobTitle"] and not u["jobTitle"].startswith(("Head", "Dir", "Vice")))
    answer = graph.get(f"/v1.0/users/{worker['id']}?$select=id,displayName"
                       "&$expand=manager($levels=max;$select=id,displayName)&$count=true", ConsistencyLevel="eventual")
    chain, depth = answer.get_json(), 0
    reference = sample("user-manager-chain-expand-levels-max.json")
    while "manager" in chain:
        chain, depth = chain["manager"], depth + 1
        assert set(chain) - {"manager", "@odata.type"} == set(reference["manager"]) - {"manager"}
    assert depth >= 2
    assert chain["displayName"]  # the top of the tree: the CEO


# -- photos ------------------------------------------------------------------------------------


def test_photo_metadata_matches_the_sample(graph):
    body = graph.get("/v1.0/users/Juergen.Mueller@contoso.example/photo").get_json()
    reference = sample("profilephoto-metadata-response.json")
    assert_like(body, reference)
    assert body["@odata.mediaContentType"] == "image/jpeg"
    assert body["id"] == f"{body['width']}X{body['height']}"


def test_photo_value_is_a_real_jpeg(graph):
    answer = graph.get("/v1.0/users/Juergen.Mueller@contoso.example/photo/$value")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "image/jpeg"
    data = answer.data
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    etag = graph.get("/v1.0/users/Juergen.Mueller@contoso.example/photo").get_json()["@odata.mediaEtag"]
    assert answer.headers["ETag"] == etag


def test_mailbox_without_photo_has_the_1x1_placeholder_and_value_404(graph):
    body = graph.get("/v1.0/users/Dmitry.Ivanov@contoso.example/photo").get_json()
    assert_like(body, sample("profilephoto-metadata-no-photo-uploaded.json"))
    assert (body["id"], body["@odata.mediaContentType"]) == ("1X1", "image/gif")
    answer = graph.get("/v1.0/users/Dmitry.Ivanov@contoso.example/photo/$value")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "ImageNotFound"


def test_user_without_mailbox_has_no_photo_at_all(graph):
    answer = graph.get("/v1.0/users/svc-backup@contoso.example/photo")
    error = answer.get_json()["error"]
    assert (answer.status_code, error["code"]) == (404, "ImageNotFound")
    assert error["message"] == ("Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' "
                                "was thrown.")


def test_uploaded_photo_is_served(graph, graph_app):
    jpeg = graph.get("/v1.0/users/Juergen.Mueller@contoso.example/photo/$value").data
    simulator_of(graph_app).tenant.set_photo("Dmitry.Ivanov@contoso.example", jpeg)
    assert graph.get("/v1.0/users/Dmitry.Ivanov@contoso.example/photo/$value").data == jpeg
