"""Profile photos follow Microsoft 365 when "sync photos" is on, and cost nothing when it is off."""

from __future__ import annotations

from portal.photos.image import prepare_photo
from simulator.tenant_photo import identicon_jpeg
from tests.engine.support import leaf_employees, uid

JPEG_A, JPEG_B = identicon_jpeg(1), identicon_jpeg(2)  # real images: the sync decodes every photo


def _photo_requests(sim) -> int:
    return sum(1 for r in sim.log.items("graph") if r.path.endswith("/photo/$value"))


def test_photos_are_not_read_while_the_setting_is_off(acme, sim):
    acme.sync()
    assert _photo_requests(sim) == 0
    assert all(e.photo is None for e in acme.employees().values())


def test_photo_arrives_changes_and_goes_with_the_setting_on(acme, sim):
    acme.sync()
    email = leaf_employees(acme.export(), 1)[0]
    user_id = uid(sim, acme.employee(email).m365_id)
    sim.tenant.set_photo(user_id, JPEG_A)
    acme.configure(settings={"photos": True})

    first = acme.sync()
    assert first["mode"] == "full"  # a settings change reads everyone again
    assert acme.employee(email).photo == prepare_photo(JPEG_A)  # stored as the signature image
    assert any(d.kind == "updated" and "photo" in d.details.get("fields", {})
               for d in acme.decisions(first["run_id"]) if d.email == email)

    # Graph's delta does not report photo changes: a full run picks the new one up.
    sim.tenant.set_photo(user_id, JPEG_B)
    acme.sync(full=True)
    assert acme.employee(email).photo == prepare_photo(JPEG_B)

    sim.tenant.set_photo(user_id, None)
    acme.configure(settings={"photos": True, "empty_values": "clear"})
    acme.sync()
    assert acme.employee(email).photo is None


def test_photos_are_read_twenty_per_batch(acme, sim):
    acme.configure(settings={"photos": True})
    sim.log.clear()
    acme.sync()
    batches = [r for r in sim.log.items("graph") if r.method == "POST" and r.path.endswith("$batch")]
    photo_items = _photo_requests(sim)
    assert photo_items >= 250  # every imported user's photo was asked for …
    assert len(batches) <= photo_items / 20 + 16  # … inside $batch requests of twenty, one short batch a page


def test_photos_are_read_only_for_imported_users(acme, sim):
    acme.configure(settings={"photos": True}, import_rules=[{
        "name": "Sales only", "match": "all",
        "conditions": [{"attribute": "department", "operator": "equals", "value": "Sales"}]}])
    sim.log.clear()

    result = acme.sync()

    assert 0 < result["counts"]["created"] < 100
    assert _photo_requests(sim) == result["counts"]["created"]
