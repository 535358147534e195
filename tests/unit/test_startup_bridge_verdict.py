"""Judging verify output recorded the way a Windows host prints it (os.name nt, paths in any case)."""

from __future__ import annotations

import json

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.startup_bridge_verdict import (
    MARKER,
    classify_arcpy,
    judge_results,
    judge_run,
)

ARCGIS_SP = "C:\\Python27\\ArcGIS10.8\\lib\\site-packages"
ENV_SP = "C:\\Miniconda2\\envs\\arc1081\\Lib\\site-packages"
RUN = {
    "key": "env:desktop-10.8.1-32:arc1081",
    "side": "env",
    "label": "conda env arc1081 for desktop-10.8.1-32 (C:\\Miniconda2\\envs\\arc1081\\python.exe)",
    "python_exe": "C:\\Miniconda2\\envs\\arc1081\\python.exe",
    "environment": {},
    "expect": [ARCGIS_SP],
    "own": ENV_SP,
    "python": "2.7",
    "bits": 32,
    "prefix": "C:\\Miniconda2\\envs\\arc1081",
    "arcpy": True,
    "conda_meta_expected": False,
}


def report(**over):
    value = {
        "executable": "C:\\Miniconda2\\envs\\arc1081\\python.exe",
        "prefix": "c:\\miniconda2\\envs\\ARC1081",
        "python": "2.7",
        "version": "2.7.18",
        "bits": 32,
        "os_name": "nt",
        "path": [
            "",
            "C:\\Miniconda2\\envs\\arc1081\\python27.zip",
            "C:\\Miniconda2\\envs\\arc1081\\lib",
            ENV_SP.lower(),
            ARCGIS_SP.upper(),
            "C:\\Program Files (x86)\\ArcGIS\\Desktop10.8\\bin",
            "C:\\Program Files (x86)\\ArcGIS\\Desktop10.8\\arcpy",
        ],
        "conda_meta": True,
        "user_site": None,
        "user_site_enabled": False,
        "bridge": {"file": ENV_SP + "\\arcgis_conda_bridge.py", "runs": [{"matched": ["arc1081<-desktop"]}]},
        "arcpy": {"ok": True, "error": None, "traceback": None, "product": "ArcInfo", "file": "x"},
    }
    value.update(over)
    return "some start-up noise\n" + MARKER + json.dumps(value) + "\n"


def test_a_bridged_env_passes_whatever_the_case_of_its_paths():
    verdict = judge_run(RUN, 0, report(), "")
    assert verdict.ok, verdict.problems
    assert any("position 5 of 7" in note for note in verdict.notes)
    assert any("import arcpy works" in note for note in verdict.notes)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("ImportError: DLL load failed: %1 is not a valid Win32 application.", "bitness"),
        (
            "ImportError: DLL load failed while importing _arcgisscripting: %1 is not a valid Win32 app"
            "lication.",
            "bitness",
        ),
        ("OSError: [WinError 193] %1 n'est pas une application Win32 valide", "bitness"),
        ("ImportError: numpy.core.multiarray failed to import", "numpy_abi"),
        ("ImportError: Importing the numpy C-extensions failed. This error can happen for", "numpy_abi"),
        (
            "RuntimeError: module compiled against API version 0xe but this version of numpy is 0xd",
            "numpy_abi",
        ),
        ("ImportError: No module named arcpy", "not_found"),
        ("ModuleNotFoundError: No module named 'arcpy'", "not_found"),
        ("RuntimeError: NotInitialized", "licence"),
        ("ZeroDivisionError: division by zero", "other"),
    ],
)
def test_arcpy_failures_are_named(message, kind):
    assert classify_arcpy(message)[0] == kind


def test_a_failing_arcpy_import_names_the_env_the_kind_and_the_remedy():
    broken = {
        "ok": False,
        "error": "ImportError: DLL load failed: %1 is not a valid Win32 application.",
        "traceback": "...",
        "product": None,
        "file": None,
    }
    verdict = judge_run(RUN, 0, report(arcpy=broken), "")
    (problem,) = verdict.problems
    assert problem.startswith("conda env arc1081 for desktop-10.8.1-32")
    assert "[bitness]" in problem and "Miniconda x86" in problem


def test_other_side_before_own_site_packages_is_a_problem():
    path = ["", ARCGIS_SP, ENV_SP]
    verdict = judge_run(RUN, 0, report(path=path), "")
    assert any("would shadow" in p for p in verdict.problems)


def test_missing_other_side_and_hook_that_did_not_run_are_named():
    verdict = judge_run({**RUN, "arcpy": False}, 0, report(path=["", ENV_SP], bridge=None), "")
    text = "\n".join(verdict.problems)
    assert "the bridge did not run: zzz_arcgis_conda_bridge.pth is missing" in text
    assert f"{ARCGIS_SP} is not on sys.path" in text


def test_a_hook_that_matched_nothing_points_at_stale_facts():
    runs = [{"matched": [], "skipped": [{"id": "arc1081<-desktop", "why": "bits 32 != 64"}], "error": None}]
    verdict = judge_run(RUN, 0, report(bits=64, bridge={"file": "x", "runs": runs}), "")
    text = "\n".join(verdict.problems)
    assert "is Python 2.7 64-bit, the facts say 2.7 32-bit" in text
    assert "no entry matched this interpreter (arc1081<-desktop: bits 32 != 64)" in text


def test_user_scope_with_user_site_disabled_says_use_machine():
    run = {**RUN, "environment": {"PYTHONUSERBASE": "C:\\Users\\Default\\AppData\\Roaming\\Python"}}
    verdict = judge_run(run, 0, report(bridge=None, user_site_enabled=False), "")
    assert any("use scope machine" in p for p in verdict.problems)


def test_no_result_and_a_python_that_cannot_start():
    verdict = judge_run(RUN, 1, "", "Fatal Python error: initfsencoding")
    assert "gave no verify result (rc 1): Fatal Python error" in verdict.problems[0]
    summary = judge_results(
        [
            {"item": RUN, "rc": None, "msg": "The system cannot find the file specified"},
            {"item": RUN, "skipped": True},
            {"item": RUN, "rc": 0, "stdout": report(), "stderr": ""},
        ]
    )
    assert not summary["ok"] and len(summary["runs"]) == 2
    assert summary["problems"] == [
        f"{RUN['label']}: could not start {RUN['python_exe']}: The system cannot find the file specified"
    ]
