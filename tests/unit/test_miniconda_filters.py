"""The miniconda role's judging filters, fed with results shaped as the Windows modules register them."""

from __future__ import annotations

import base64

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.arcgis_conda.fleet.plugins.filter.miniconda import (
    FilterModule,
    miniconda_checksum_problem,
    miniconda_condarc_managed,
    miniconda_judge,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_plan as mp

INSTALL = mp.build_plan(mp.PlanInputs(flavours=["miniconda3-x64"]), 64)["installs"][0]


def stats(missing=()):
    """A registered loop of ansible.windows.win_stat over install.expected_files."""
    return [
        {"item": path, "changed": False, "stat": {"exists": path not in missing, "path": path}}
        for path in INSTALL["expected_files"]
    ]


def test_filters_are_registered_under_their_names():
    assert set(FilterModule().filters()) == {
        "miniconda_checksum_problem",
        "miniconda_judge",
        "miniconda_condarc_managed",
    }


def test_judge_complete_install_from_registered_results():
    version = {"rc": 0, "stdout": "conda 23.5.2\r\n", "stderr": "", "changed": False}
    verdict = miniconda_judge(INSTALL, stats(), version, "ws01")
    assert (verdict["ok"], verdict["conda_version"], verdict["missing"]) == (True, "23.5.2", [])


def test_judge_incomplete_install_when_conda_exe_could_not_start():
    # win_command with failed_when: false on a missing executable: failed result without rc.
    version = {"failed": True, "msg": "Exception calling SearchPath: could not find file", "changed": False}
    missing = ("C:\\Miniconda3\\python.exe", "C:\\Miniconda3\\Scripts\\conda.exe")
    verdict = miniconda_judge(INSTALL, stats(missing), version, "ws01")
    assert verdict["ok"] is False
    assert verdict["missing"] == list(missing)
    assert "missing C:\\Miniconda3\\python.exe, C:\\Miniconda3\\Scripts\\conda.exe" in verdict["message"]


def test_judge_skipped_version_check_counts_as_not_run():
    verdict = miniconda_judge(INSTALL, stats(), {"skipped": True}, "ws01")
    assert verdict["ok"] is False
    assert "C:\\Miniconda3\\Scripts\\conda.exe was not run" in verdict["message"]


def test_judge_rejects_results_without_paths():
    with pytest.raises(AnsibleFilterError, match=r"has no file path as item"):
        miniconda_judge(INSTALL, [{"stat": {"exists": True}}], None, "ws01")


def test_condarc_managed_reads_slurp_base64():
    ours = base64.b64encode((mp.CONDARC_MARKER + " Local edits...\r\nchannels: []\r\n").encode()).decode()
    theirs = base64.b64encode(b"channels:\r\n  - conda-forge\r\n").decode()
    assert miniconda_condarc_managed(ours) is True
    assert miniconda_condarc_managed(theirs) is False
    assert miniconda_condarc_managed("not base64!") is False
    assert miniconda_condarc_managed(None) is False


def test_checksum_problem_passes_through():
    assert miniconda_checksum_problem(INSTALL, INSTALL["installer"]["sha256"], "ws01") == ""
    assert miniconda_checksum_problem(INSTALL, "", "ws01").startswith("ws01: installer ")
