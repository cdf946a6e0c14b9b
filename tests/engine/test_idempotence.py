"""Running again with nothing changed in Microsoft 365 changes nothing."""

from __future__ import annotations

import pytest

# Decisions that report how a user was judged without changing any employee.
INFORMATIONAL = {"out_of_scope", "skipped", "conflict", "seat_limit"}


def _snapshot(acme) -> dict[str, tuple]:
    return {email: (e.id, e.updated_at, e.synced_values, e.m365_snapshot, e.status)
            for email, e in acme.employees().items()}


@pytest.mark.parametrize("full", [False, True], ids=["delta", "full"])
def test_second_run_right_after_the_first_changes_nothing(acme, full):
    acme.configure(import_rules=[{"name": "Everyone", "departments": {"from_attribute": "department", "split": ";"}}])
    first = acme.sync()
    before, exported = _snapshot(acme), acme.export()

    second = acme.sync(full=full)

    assert second["status"] == "succeeded"
    assert second["mode"] == ("full" if full else "delta")
    assert _snapshot(acme) == before
    assert acme.export() == exported
    if full:  # a full run judges everyone again; it reports the same verdicts, and nothing else
        assert set(second["counts"]) <= INFORMATIONAL
        judged = {(d.kind, d.m365_id, d.reason) for d in acme.decisions(first["run_id"]) if d.kind in INFORMATIONAL}
        assert {(d.kind, d.m365_id, d.reason) for d in acme.decisions(second["run_id"])} == judged
    else:
        assert second["counts"] == {}
        assert acme.decisions(second["run_id"]) == []
