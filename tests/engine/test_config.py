"""The sync configuration: exported and imported whole through the CLI, and a change means one full run."""

from __future__ import annotations

import json

import pytest


def _export(cli) -> dict:
    out = cli("m365", "config", "acme", "--export")
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def _import(cli, tmp_path, document) -> object:
    path = tmp_path / "config.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return cli("m365", "config", "acme", "--import", str(path))


def test_config_export_then_import_round_trips(acme, cli, tmp_path):
    exported = _export(cli)
    exported["settings"]["overwrite_manual"] = True
    exported["mapping"]["custom.cost_center"] = "onPremisesExtensionAttributes.extensionAttribute1"
    exported["import_rules"] = [{"name": "Sales", "description": "Vertrieb", "match": "any",
                                 "conditions": [{"attribute": "department", "operator": "equals", "value": "Sales"}],
                                 "departments": {"names": ["Sales Team"]}}]

    out = _import(cli, tmp_path, exported)

    assert out.exit_code == 0, out.output
    assert "next sync reads every user again" in out.output
    again = _export(cli)
    assert again == exported
    assert _import(cli, tmp_path, again).exit_code == 0
    assert _export(cli) == exported
    acme.sync()
    assert acme.employee("juergen.mueller@contoso.example").custom == {"cost_center": "CC-1000"}
    assert {tuple(r["departments"]) for r in acme.export().values()} == {("Sales Team",)}


@pytest.mark.parametrize(("document", "named"), [
    ('{"settings": {"overwrite_manual": true,}', "not valid JSON"),
    ({"settings": {"overwrite_manual": True, "overwrite_manaul": True}}, "settings.overwrite_manaul"),
    ({"mapping": {"jobtitle": "jobTitle"}}, "mapping.jobtitle: unknown employee field; did you mean job_title?"),
    ({"import_rules": [{"name": "A", "conditions": [{"attribute": "department", "operator": "eq", "value": "x"}]}]},
     "import_rules[0].conditions[0].operator: unknown operator 'eq'"),
    ({"settings": {"removal": "shred"}, "import_rules": "all"}, "settings.removal"),
])
def test_malformed_config_is_rejected_whole_naming_the_key(acme, cli, tmp_path, document, named):
    before = _export(cli)
    hash_before = acme.connection_row().config_hash

    out = _import(cli, tmp_path, document)

    assert out.exit_code == 1
    assert "Configuration rejected, nothing changed." in out.output
    assert named in out.output
    assert _export(cli) == before
    assert acme.connection_row().config_hash == hash_before


@pytest.mark.parametrize("change", [
    {"settings": {"overwrite_manual": True}},
    {"settings": {"removal_threshold": {"count": 10, "percent": 5}}},
    {"mapping": {"job_title": "department"}},
    {"import_rules": [{"name": "Everyone", "departments": {"from_attribute": "department"}}]},
], ids=["setting", "threshold", "mapping", "rules"])
def test_a_config_change_makes_the_next_run_full_then_delta_again(acme, change):
    acme.sync()
    assert acme.sync()["mode"] == "delta"

    acme.configure(**change)

    assert acme.sync()["mode"] == "full"
    assert acme.sync()["mode"] == "delta"


def test_a_schedule_change_keeps_delta_runs(acme):
    acme.sync()
    acme.configure(settings={"sync_time": "05:30", "auto_sync": False, "timezone": "America/New_York"})
    assert acme.sync()["mode"] == "delta"


def test_a_mapping_change_is_applied_to_everyone_by_the_full_run(acme):
    acme.sync()
    acme.configure(mapping={"job_title": "department"})

    result = acme.sync()

    assert result["mode"] == "full"
    assert acme.employee("juergen.mueller@contoso.example").job_title == "Sales"
    assert result["counts"]["updated"] > 200
