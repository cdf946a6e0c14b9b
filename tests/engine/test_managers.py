"""Managers: their name and address land on every report, and follow renames on delta runs."""

from __future__ import annotations

from tests.engine.support import uid, user

ZOE = "zoe@contoso.example"
REPORTS_OF_ZOE = ("hanako.sato@contoso.example", "bjorn.akesson@contoso.example")


def test_manager_name_and_address_are_mapped(acme):
    acme.sync()

    rows = acme.export()
    for email in REPORTS_OF_ZOE:
        assert (rows[email]["manager_name"], rows[email]["manager_email"]) == ("Zoë", "zoe@contoso.example")
    assert acme.employee("hanako.sato@contoso.example").manager_m365_id == uid(acme.sim, ZOE)
    assert rows["admin@contoso.example"]["manager_name"] == ""


def test_renamed_manager_updates_the_reports_on_the_next_delta_run(acme):
    acme.sync()
    acme.sim.tenant.update_user(ZOE, displayName="Zoë Durand")

    result = acme.sync()

    assert result["mode"] == "delta"
    rows = acme.export()
    assert rows[ZOE]["display_name"] == "Zoë Durand"
    for email in REPORTS_OF_ZOE:
        assert rows[email]["manager_name"] == "Zoë Durand"
    assert {d.email for d in acme.decisions(result["run_id"], "updated")} == {ZOE, *REPORTS_OF_ZOE}


def test_new_manager_is_followed_on_the_next_delta_run(acme):
    acme.sync()
    acme.sim.tenant.set_manager("hanako.sato@contoso.example", "Juergen.Mueller@contoso.example")

    result = acme.sync()

    hanako = acme.employee("hanako.sato@contoso.example")
    assert (hanako.manager_name, hanako.manager_email) == ("Jürgen Müller", "Juergen.Mueller@contoso.example")
    assert result["counts"] == {"updated": 1}


def test_any_manager_attribute_can_be_mapped_and_follows_changes(acme):
    acme.configure(mapping={"custom.manager_language": "manager.preferredLanguage",
                            "custom.manager_city": "manager.city"})
    acme.sync()
    assert acme.employee("hanako.sato@contoso.example").custom["manager_language"] == "fr-FR"
    reports = [e for e in acme.employees().values() if e.manager_m365_id]
    wrong = {e.email: e.custom.get("manager_language") for e in reports
             if e.custom.get("manager_language") != user(acme.sim, e.manager_m365_id)["preferredLanguage"]}
    assert wrong == {}  # whether the manager came from Graph, this page or an earlier one

    acme.sim.tenant.update_user(ZOE, preferredLanguage="en-GB")
    result = acme.sync()

    assert result["mode"] == "delta"
    for email in REPORTS_OF_ZOE:
        assert acme.employee(email).custom["manager_language"] == "en-GB"


def test_managers_cost_at_most_one_batch_per_page(acme):
    acme.sim.settings.delta_page_size = 25
    acme.sim.log.clear()

    acme.sync()

    graph = acme.sim.log.items("graph")
    pages = sum(1 for i in graph if i.path == "/v1.0/users/delta")
    batches = sum(1 for i in graph if i.path == "/v1.0/$batch")
    assert batches <= pages
    # Only managers that were neither in the page nor stored yet are asked for.
    assert sum(1 for i in graph if i.via == "$batch") <= 3


def test_reports_met_before_their_manager_are_completed_without_extra_graph_calls(acme):
    acme.sim.settings.delta_page_size = 7  # many reports arrive pages before their manager
    acme.sim.log.clear()

    result = acme.sync()

    rows = acme.export()
    by_id = {row["m365_id"]: row for row in rows.values()}
    with_manager = [e for e in acme.employees().values() if e.manager_m365_id in by_id]
    assert len(with_manager) > 100
    for report in with_manager:
        manager = acme.sim.tenant.get_user(report.manager_m365_id)
        assert (report.manager_name, report.manager_email) == (manager["displayName"], manager.get("mail") or "")
    # Completing them is part of creating them, not an update of its own.
    assert "updated" not in result["counts"]
    # Managers who are employees themselves are never fetched one by one.
    fetched = {r.path.split("/")[3] for r in acme.sim.log.items("graph") if r.via == "$batch"}
    assert not fetched & set(by_id)


def test_a_full_run_reads_managers_outside_the_scope_in_a_few_batches(acme):
    acme.sim.settings.delta_page_size = 7
    acme.sync()
    outsiders = {e.manager_m365_id for e in acme.employees().values()} - {
        e.m365_id for e in acme.employees().values()} - {None}
    assert outsiders, "the tenant has employees whose manager is out of scope"
    acme.sim.log.clear()

    again = acme.sync(full=True)

    assert again["counts"].get("updated") is None
    batches = [r for r in acme.sim.log.items("graph") if r.path == "/v1.0/$batch" and not r.via]
    assert len(batches) <= -(-len(outsiders) // 20)
