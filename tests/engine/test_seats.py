"""An organisation's seat limit: exactly that many employees, the lowest addresses first, in any page order."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from portal.models import Organization
from portal.photos.image import prepare_photo
from simulator.tenant_photo import identicon_jpeg
from tests.engine.conftest import Harness

SEATS = 20


def _in_scope(acme) -> list[str]:
    """Every address a run would import if seats were unlimited (a dry run, so nothing is written)."""
    run_id = acme.sync(dry_run=True)["run_id"]
    return sorted(d.email for d in acme.decisions(run_id) if d.kind in ("created", "seat_limit"))


@pytest.mark.parametrize("page_size", [7, 200])
def test_seat_limit_creates_exactly_that_many_employees_lowest_addresses_first(m365_config, sim, page_size):
    sim.settings.delta_page_size = page_size
    # Added last, so Graph lists them on the last page; their addresses sort first.
    sim.tenant.add_user({"userPrincipalName": "aaron.zz@contoso.example", "displayName": "Aaron",
                         "mail": "aaron.zz@contoso.example"})
    sim.tenant.add_user({"userPrincipalName": "AAA.first@contoso.example", "displayName": "Aaa",
                         "mail": "AAA.first@contoso.example"})
    acme = Harness(m365_config, sim, seats=SEATS)
    everyone = _in_scope(acme)

    result = acme.sync()

    wanted = everyone[:SEATS]
    assert wanted[:2] == ["aaa.first@contoso.example", "aaron.zz@contoso.example"]
    assert sorted(acme.employees()) == wanted
    assert result["counts"]["created"] == SEATS
    refused = {d.email for d in acme.decisions(result["run_id"], "seat_limit")}
    assert refused == set(everyone[SEATS:])
    assert f"{SEATS} seats are taken" in acme.decisions(result["run_id"], "seat_limit")[0].reason


def test_employees_already_there_take_their_seats_first(m365_config, sim):
    acme = Harness(m365_config, sim, seats=SEATS)
    acme.add_manual("zz.manual@example.org")  # not in Microsoft 365: keeps its seat
    acme.add_manual("zoe@contoso.example")  # linked: keeps its seat, needs no new one

    result = acme.sync()

    employees = acme.employees()
    assert len(employees) == SEATS
    assert employees["zoe@contoso.example"].source == "m365"
    assert result["counts"]["created"] == SEATS - 2
    assert result["counts"]["linked"] == 1


def test_users_refused_for_seats_arrive_once_seats_are_added(m365_config, sim):
    acme = Harness(m365_config, sim, seats=SEATS)
    first = acme.sync()
    refused = first["counts"]["seat_limit"]
    with acme.engine.begin() as conn:
        conn.execute(update(Organization).where(Organization.id == acme.org.id).values(seats=None))

    again = acme.sync()  # no --full: delta would never bring the refused users back, so Sigsync reads all

    assert again["mode"] == "full"
    assert again["counts"]["created"] == refused


def test_a_user_who_waited_for_a_seat_arrives_with_its_photo(m365_config, sim):
    jpeg = identicon_jpeg(4)  # a real image: the sync decodes every photo
    first = sim.tenant.add_user({"userPrincipalName": "aaa.photo@contoso.example", "displayName": "Aaa Photo",
                                 "mail": "aaa.photo@contoso.example"})
    sim.tenant.set_photo(first, jpeg)
    acme = Harness(m365_config, sim, seats=SEATS)
    acme.configure(settings={"photos": True})

    acme.sync()

    # Waiting candidates keep no photo bytes in memory: the photo is read again when the seat is given.
    assert acme.employee("aaa.photo@contoso.example").photo == prepare_photo(jpeg)
    assert len(acme.employees()) == SEATS
