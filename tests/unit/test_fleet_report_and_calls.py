"""Pure parts of the run report: round-trip counting and the retry file."""

from __future__ import annotations

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.callback.fleet_progress import calls_in
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_report import (
    lab_of,
    write_retry_file,
)


@pytest.mark.parametrize(
    ("action", "delegated", "result", "expected"),
    [
        ("ansible.windows.win_stat", None, {}, 1),
        ("arcgis_conda.fleet.arcgis_facts", None, {"module_calls": 2}, 2),
        ("ansible.builtin.set_fact", None, {}, 0),
        ("arcgis_conda.fleet.doi_cert_bundle", None, {}, 0),
        ("ansible.windows.win_stat", "localhost", {}, 0),
        ("ansible.windows.win_stat", None, {"skipped": True}, 0),
        ("ansible.windows.win_stat", None, {"results": [{}, {"skipped": True}, {}]}, 2),
    ],
)
def test_calls_in(action, delegated, result, expected):
    assert calls_in(action, delegated, result) == expected


def test_retry_file_is_written_then_removed_when_all_pass(tmp_path):
    path = write_retry_file(tmp_path, ["b", "a", "b"])
    assert path is not None and path.read_text() == "a\nb\n"
    assert write_retry_file(tmp_path, []) is None
    assert not path.exists()


def test_lab_of_picks_the_lab_group():
    assert lab_of(["all", "windows_workstations", "lab_gis102"]) == "lab_gis102"
    assert lab_of(["all", "windows_workstations"]) == "ungrouped"
