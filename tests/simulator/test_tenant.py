"""The generated directory: deterministic, varied like a real company, cheap at a million users."""

from __future__ import annotations

import tracemalloc
from collections import Counter

import pytest

from simulator.state import SimulatorSettings
from simulator.tenant import Tenant
from simulator.tenant_photo import jpeg_size
from simulator.tenant_seed import USER_PROPERTIES, IdCodec


def tenant_of(users: int = 2000, seed: int = 1) -> Tenant:
    return Tenant(SimulatorSettings(users=users, seed=seed))


def everyone(tenant: Tenant) -> list[dict]:
    users, position = [], 0
    while position is not None:
        page, position = tenant.users_page(position, 999)
        users.extend(page)
    return users


@pytest.fixture(scope="module")
def users() -> list[dict]:
    return everyone(tenant_of(2000))


def test_same_seed_same_tenant_other_seed_other_names():
    first, again, other = (tenant_of(200, s).users_page(50, 100)[0] for s in (1, 1, 2))
    assert first == again
    assert [u["displayName"] for u in first] != [u["displayName"] for u in other]


def test_every_user_has_every_property_and_collections_are_lists(users):
    for user in users[:300]:
        assert tuple(user) == USER_PROPERTIES
        assert isinstance(user["businessPhones"], list) and isinstance(user["proxyAddresses"], list)
        assert set(user["onPremisesExtensionAttributes"]) == {f"extensionAttribute{n}" for n in range(1, 16)}


def test_ids_and_upns_are_unique(users):
    assert len({u["id"] for u in users}) == len(users) == 2000
    assert len({u["userPrincipalName"].lower() for u in users}) == 2000


def test_names_with_umlauts_accents_and_other_scripts(users):
    names = {u["displayName"] for u in users}
    for expected in ("Jürgen Müller", "Zoë", "José García", "Łukasz Nowak", "王伟", "Дмитрий Иванов",
                     "İbrahim Yıldız", "Νίκος Παπαδόπουλος", "佐藤 花子", "Seán O'Brien"):
        assert expected in names
    scripts = Counter("latin" if n.isascii() else "other" for n in names)
    assert scripts["other"] > 100  # generated people beyond the hand-made ones carry diacritics and scripts too


def test_the_variety_a_real_directory_has(users):
    members = [u for u in users if u["userType"] == "Member"]
    guests = [u for u in users if u["userType"] == "Guest"]
    assert 30 < len(guests) < 100
    assert all("#EXT#@contoso.example" in g["userPrincipalName"] and g["mail"] for g in guests)
    assert any(not u["mail"] for u in members)  # UPN only
    assert any(u["accountEnabled"] is False for u in members)
    assert any(u["assignedLicenses"] == [] and u["department"] for u in members)  # an unlicensed employee
    assert any(u["userPrincipalName"].startswith("svc-") and u["department"] is None for u in users)
    assert any(u["department"] == "Sales;Marketing" for u in users)
    assert len({u["department"] for u in members if u["department"]}) >= 10
    assert len({u["jobTitle"] for u in members if u["jobTitle"]}) >= 30
    assert any(u["faxNumber"] for u in users) and any(u["mobilePhone"] for u in users)
    assert all(len(u["businessPhones"]) <= 1 for u in users)  # a collection that holds one number
    assert {"Germany", "United States", "France", "China", "Japan", "Türkiye"} <= {u["country"] for u in users}
    assert any(u["companyName"] for u in users) and any(u["employeeId"] for u in users)
    assert any(u["streetAddress"] and u["postalCode"] and u["city"] for u in users)
    assert any(any(u["onPremisesExtensionAttributes"].values()) for u in users)
    full = [u for u in users if all(u["onPremisesExtensionAttributes"].values())]
    assert [u["displayName"] for u in full] == ["Björn Åkesson"]
    assert all(p.startswith(("SMTP:", "smtp:")) for u in users for p in u["proxyAddresses"])


def test_duplicate_mail_in_different_case(users):
    mails = Counter(u["mail"].lower() for u in users if u["mail"])
    duplicated = [m for m, n in mails.items() if n > 1]
    assert "anna.schmidt@contoso.example" in duplicated
    assert len({u["mail"] for u in users if (u["mail"] or "").lower() == "anna.schmidt@contoso.example"}) == 2


def test_mixed_case_addresses(users):
    assert any(u["mail"] and u["mail"] != u["mail"].lower() for u in users)
    assert any(u["mail"] and u["mail"] == u["mail"].lower() for u in users)
    assert any(u["mail"] and u["mail"] != u["userPrincipalName"] and u["mail"].lower() ==
               u["userPrincipalName"].lower() for u in users)


def test_managers_form_one_hierarchy():
    tenant = tenant_of(2000)
    people = [u for u in everyone(tenant) if u["userType"] == "Member"]
    top = [u for u in people if u["jobTitle"] == "Chief Executive Officer"]
    assert len(top) == 1 and tenant.manager_of(top[0]["id"]) is None
    with_manager = [u for u in people if tenant.manager_id(u["id"])]
    assert len(with_manager) > 0.9 * len(people) - 30
    for user in with_manager[:300]:  # every chain ends at the CEO
        seen, current = set(), user["id"]
        while (boss := tenant.manager_id(current)) is not None:
            assert boss not in seen
            seen.add(boss)
            current = boss
        assert current == top[0]["id"]


def test_photos_are_valid_jpegs_for_a_share_of_users():
    tenant = tenant_of(400)
    photos = [tenant.photo(u["id"]) for u in everyone(tenant)]
    with_photo = [p for p in photos if p]
    assert 0.25 < len(with_photo) / len(photos) < 0.6
    for data in with_photo[:20]:
        assert data[:3] == b"\xff\xd8\xff" and data.endswith(b"\xff\xd9")
        assert jpeg_size(data) == (64, 64)
    assert len(set(with_photo)) > len(with_photo) * 0.9  # different avatars


def test_lookup_by_id_and_upn_at_any_index():
    tenant = tenant_of(1_000_000)
    for position in (0, 10, 26, 27, 28, 29, 5000, 123_456, 999_999):
        user = tenant.users_page(position, 1)[0][0]
        assert tenant.get_user(user["id"]) == user
        assert tenant.get_user(user["userPrincipalName"].upper()) == user
    assert tenant.get_user("00000000-0000-4000-8000-000000000000") is None
    assert tenant.get_user("nobody.here@contoso.example") is None
    assert tenant.get_user("anna.schmidt@fabrikam.example") is None


def test_ids_decode_only_when_issued():
    codec = IdCodec(12345)
    assert codec.decode(codec.encode(42)) == 42
    assert codec.decode("6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0") is None
    assert codec.decode("not-a-guid") is None


# -- mutations and the change sequence ------------------------------------------------------------


def test_every_mutation_takes_the_next_sequence_number():
    tenant = tenant_of(300)
    assert tenant.sequence == 0
    uid = tenant.add_user({"displayName": "New", "userPrincipalName": "new@contoso.example"})
    tenant.update_user(uid, jobTitle="Tester")
    tenant.update_user(uid, jobTitle="Tester")  # no real change: no new number
    tenant.rename_address(uid, mail="new.mail@contoso.example")
    tenant.set_manager(uid, "Anna.Schmidt@contoso.example")
    tenant.soft_delete(uid)
    tenant.restore(uid)
    tenant.hard_delete(uid)
    assert tenant.sequence == 7
    changes, _ = tenant.changes_page(tenant.log_position(0), 0, tenant.sequence, 100)
    assert [(c.id, c.state) for c in changes] == [(uid, "hard")]


def test_changes_since_a_point_only(graph_props=frozenset({"city"})):
    tenant = tenant_of(300)
    tenant.update_user("Zoe@contoso.example", jobTitle="Cheffe")
    middle = tenant.sequence
    tenant.update_user("Zoe@contoso.example", city="Lyon")
    tenant.update_user("Anna.Schmidt@contoso.example", jobTitle="HR Lead")
    changes, _ = tenant.changes_page(tenant.log_position(middle), middle, tenant.sequence, 10)
    assert {c.changed for c in changes} == {frozenset({"city"}), frozenset({"jobTitle"})}
    only_city, _ = tenant.changes_page(tenant.log_position(middle), middle, tenant.sequence, 10, graph_props)
    assert [c.id for c in only_city] == [tenant.get_user("Zoe@contoso.example")["id"]]


def test_renamed_upn_moves(users):
    tenant = tenant_of(300)
    tenant.rename_address("Anna.Schmidt@contoso.example", upn="anna.schmidt-mueller@contoso.example")
    assert tenant.get_user("Anna.Schmidt@contoso.example") is None
    assert tenant.get_user("anna.schmidt-mueller@contoso.example")["displayName"] == "Anna Schmidt"
    with pytest.raises(ValueError):
        tenant.rename_address("Zoe@contoso.example", upn="anna.schmidt-mueller@contoso.example")


def test_mutation_errors():
    tenant = tenant_of(300)
    with pytest.raises(LookupError):
        tenant.update_user("nobody@contoso.example", city="x")
    with pytest.raises(ValueError):
        tenant.update_user("Zoe@contoso.example", id="x")
    with pytest.raises(LookupError):
        tenant.restore("Zoe@contoso.example")
    with pytest.raises(ValueError):
        tenant.set_manager("Zoe@contoso.example", "Zoe@contoso.example")


def test_groups_nest_without_cycles():
    tenant = tenant_of(300)
    groups = {g["displayName"]: g["id"] for g in tenant.groups_page(0, 100)[0]}
    with pytest.raises(ValueError):
        tenant.add_member(groups["Signature - DACH"], groups["Signature - All Offices"])
    dach = tenant.members_page(groups["Signature - DACH"], 0, 999)[0]
    assert dach and {m.data["country"] for m in dach} <= {"Germany", "Austria", "Switzerland"}


# -- size --------------------------------------------------------------------------------------


def test_a_million_users_cost_memory_only_for_what_changes():
    tracemalloc.start()
    try:
        tenant = tenant_of(1_000_000)
        built, _ = tracemalloc.get_traced_memory()
        assert built < 2_000_000  # nothing per user
        position, seen = 990_000, 0
        tracemalloc.reset_peak()
        while position is not None:
            page, position = tenant.users_page(position, 999)
            seen += len(page)
        _, peak = tracemalloc.get_traced_memory()
        assert seen == 10_000 and peak < 40_000_000  # one page at a time, whatever the position
        for n in range(1000):
            tenant.update_user(tenant.users_page(n * 900, 1)[0][0]["id"], jobTitle=f"Changed {n}")
        grown, _ = tracemalloc.get_traced_memory()
        assert grown - built < 2_000_000  # ~1 kB a change
        assert tenant.count_users() == 1_000_000
    finally:
        tracemalloc.stop()


def test_a_100000_user_tenant_pages_through_every_user_once():
    tenant = tenant_of(100_000)
    position, seen = 0, 0
    while position is not None:
        page, position = tenant.users_page(position, 999)
        seen += len(page)
    assert seen == 100_000  # its speed is a benchmark figure, not a test's
