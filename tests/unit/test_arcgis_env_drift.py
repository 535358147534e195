"""Env records and drift (arcgis_env_drift): each env classified against what it was built from."""

from __future__ import annotations

import json

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_env_drift as ad

HOST_DIR = "C:\\ProgramData\\arcgis-conda\\arcgis_env"
ROOT = "C:\\ProgramData\\arcgis-conda\\envs"


def plan(version: str, python: str, numpy: str, name: str | None = None, **extra) -> dict:
    name = name or "arcpro" + version.replace(".", "")[:2]
    return {
        "name": name,
        "prefix": f"{ROOT}\\{name}",
        "kind": "pro_clone",
        "method": "clone",
        "arcgis_id": f"pro-{version}-64",
        "product": "pro",
        "version": version,
        "python_version": python,
        "python_major_minor": ".".join(python.split(".")[:2]),
        "bits": 64,
        "pins": {"numpy": numpy, "matplotlib": "3.9.4", "scipy": "1.14.1"},
        "spec_key": "",
        "install_specs": ["ipython", "notebook", "spyder"],
        "clone_source": "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\envs\\arcgispro-py3",
        **extra,
    }


PRO33 = plan("3.3", "3.11.8", "1.24.3")
PRO35 = plan("3.5", "3.11.11", "1.26.4")
PRO36 = plan("3.6", "3.13.7", "2.2.0")


def classify(plans, built, existing, hand=None, **options):
    records = {p["name"]: ad.make_record(p, None) for p in built}
    files = {name: ad.record_path(HOST_DIR, name) for name in records}
    return {
        d.name: d
        for d in ad.classify(
            plans,
            records,
            files,
            lambda prefix: prefix in existing,
            lambda p: (hand or {}).get(p["name"], []),
            {},
            **options,
        )
    }


def test_a_record_says_what_the_env_is_built_from_and_round_trips():
    record = ad.make_record(PRO33, None)
    assert record["arcgis"] == {
        "id": "pro-3.3-64",
        "product": "pro",
        "version": "3.3",
        "python": "3.11.8",
        "python_major_minor": "3.11",
        "bits": 64,
    }
    assert record["pins"]["numpy"] == "1.24.3" and record["install_specs"] == [
        "ipython",
        "notebook",
        "spyder",
    ]
    text = ad.record_text(record)
    assert text == ad.record_text(ad.make_record(PRO33, None))  # no timestamp: rewritten only on change
    path = ad.record_path(HOST_DIR, "arcpro33")
    assert path == HOST_DIR + "\\records\\arcpro33.json"
    found, warnings = ad.observed_records({path: text}, lambda _p: True)
    assert found == {"arcpro33": record} and warnings == []


def test_records_an_administrator_did_not_write_or_that_are_not_records_are_ignored():
    text = ad.record_text(ad.make_record(PRO33, None))
    found, warnings = ad.observed_records(
        {"a.json": text, "b.json": "{", "c.json": json.dumps({"schema": 0, "name": "x"})},
        lambda p: p != "a.json",
    )
    assert found == {}
    assert [w.split(":")[0] for w in warnings] == ["a.json", "b.json", "c.json"]
    assert "an administrator did not write" in warnings[0]


def test_up_to_date_new_and_recorded_now():
    drifts = classify([PRO33], [PRO33], {PRO33["prefix"]})
    assert drifts["arcpro33"].state == "up to date" and not drifts["arcpro33"].retire
    assert classify([PRO33], [], set())["arcpro33"].state == "new"
    assert classify([PRO33], [], {PRO33["prefix"]})["arcpro33"].state == "recorded now"


def test_an_upgrade_rebuilds_beside_and_retires_the_old_env_naming_the_jumps():
    drifts = classify([PRO35], [PRO33], {PRO33["prefix"]})
    old = drifts["arcpro33"]
    assert (old.state, old.retire, old.record) == (
        "ArcGIS upgraded",
        True,
        HOST_DIR + "\\records\\arcpro33.json",
    )
    assert old.reason.startswith("ArcGIS pro 3.3 -> 3.5: Python 3.11 -> 3.11, numpy 1.24.3 -> 1.26.4")
    assert "Rebuilt beside it as arcpro35" in old.reason and "jump" not in old.reason
    assert drifts["arcpro35"].state == "new"
    jump = classify([PRO36], [PRO35], {PRO35["prefix"]})["arcpro35"].reason
    assert "Python 3.11 -> 3.13 (Python minor jump" in jump
    assert "numpy 1.26.4 -> 2.2.0 (numpy major jump 1 -> 2" in jump


def test_keep_previous_keeps_the_replaced_env():
    old = classify([PRO35], [PRO33], {PRO33["prefix"]}, keep_previous=True)["arcpro33"]
    assert old.state == "ArcGIS upgraded" and not old.retire
    assert "Kept (arcgis_env_keep_previous: true)" in old.reason


def test_arcgis_removed_retires_its_env_and_a_record_without_env_is_dropped():
    removed = classify([], [PRO33], {PRO33["prefix"]})["arcpro33"]
    assert (removed.state, removed.retire) == ("ArcGIS removed", True)
    assert "ArcGIS pro 3.3 is no longer on this host" in removed.reason
    gone = classify([], [PRO33], set())["arcpro33"]
    assert (gone.state, gone.retire) == ("gone", True)
    changes = FakeChanges()
    ad.retire_changes([removed, gone], changes)
    assert changes.deleted == [PRO33["prefix"], gone.record, gone.record]


@pytest.mark.parametrize("repair", [False, True])
def test_a_hand_change_is_reported_and_repaired_only_when_asked(repair):
    hand = {"arcpro33": ["numpy 1.26.0 (ArcGIS ships 1.24.3)"]}
    drift = classify([PRO33], [PRO33], {PRO33["prefix"]}, hand, repair=repair)["arcpro33"]
    assert drift.state == "changed by hand" and drift.repair is repair and not drift.retire
    assert drift.reason.startswith("numpy 1.26.0 (ArcGIS ships 1.24.3). ")
    assert ("arcgis_env_repair: true brings it back" in drift.reason) is not repair


def test_a_changed_plan_is_not_a_hand_change():
    # The admin added a tool since the env was built: the env differs from the plan, not from its record.
    more = {**PRO33, "install_specs": [*PRO33["install_specs"], "pandas"]}
    hand = {"arcpro33": ["pandas missing"]}
    assert classify([more], [PRO33], {PRO33["prefix"]}, hand)["arcpro33"].state == "up to date"


def test_an_upgrade_under_a_fixed_name_is_left_alone_with_the_fix():
    renamed = {**PRO35, "name": "arcpro33", "prefix": PRO33["prefix"]}
    drift = classify([renamed], [PRO33], {PRO33["prefix"]})["arcpro33"]
    assert drift.state == "ArcGIS upgraded" and not drift.retire
    assert "keeps its name (arcgis_env_names)" in drift.reason


class FakeChanges:
    def __init__(self):
        self.deleted: list[str] = []

    def delete(self, path, _reason):
        self.deleted.append(path)
