"""The hook's own decisions, in-process (the real start-up runs are in tests/integration). The Windows
DLL branch is exercised with os.name and os.add_dll_directory simulated: no Windows host here."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

HOOK = (
    Path(__file__).resolve().parent.parent.parent
    / "roles"
    / "startup_bridge"
    / "files"
    / "arcgis_conda_bridge.py"
)


@pytest.fixture
def hook():
    spec = importlib.util.spec_from_file_location("arcgis_conda_bridge_under_test", HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # importing runs nothing: run() is called by the shim or the .pth
    assert module.REPORT == []
    return module


HERE = {"python": "2.7", "bits": 32, "prefix": "C:\\Python27\\ArcGIS10.8"}


@pytest.mark.parametrize(
    ("match", "why"),
    [
        ({"python": "2.7", "bits": 32, "prefix": "C:\\Python27\\ArcGIS10.8"}, None),
        ({"python": "2.7", "bits": "32"}, None),  # no prefix: any interpreter of that version and bitness
        ({"python": "2.7", "bits": 64, "prefix": HERE["prefix"]}, "bits 64 != 32"),
        ({"python": "3.9", "bits": 32}, "python 3.9 != 2.7"),
        ({"python": "2.7", "bits": None}, "bits None is not a number"),
        ({"python": "2.7", "bits": 32, "prefix": "C:\\Miniconda2\\envs\\arc1081"}, "prefix C:\\Miniconda2"),
        (None, "entry has no match"),
    ],
)
def test_mismatch_names_the_reason(hook, match, why):
    result = hook.mismatch(match, HERE)
    assert (result is None) if why is None else result.startswith(why)


def test_pth_lines_follow_site_py_and_skip_imports(hook, tmp_path):
    (tmp_path / "b.pth").write_text("# comment\n\nrelative\nimport os; os._exit(3)\n/abs/path  \n")
    (tmp_path / "a.pth").write_text("first\n")
    (tmp_path / "notes.txt").write_text("ignored\n")
    assert hook.pth_lines(str(tmp_path)) == [str(tmp_path / "first"), str(tmp_path / "relative"), "/abs/path"]
    assert hook.pth_lines(str(tmp_path / "missing")) == []


def test_append_paths_only_existing_never_twice_always_last(hook, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    path = ["/usr/lib/python", str(tmp_path / "a")]
    added = hook.append_paths(
        [str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "nope"), str(tmp_path / "b") + "/", None],
        path,
    )
    assert added == [str(tmp_path / "b")]
    assert path == ["/usr/lib/python", str(tmp_path / "a"), str(tmp_path / "b")]


def test_dll_folders_on_windows_3_8_use_add_dll_directory(hook, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(hook.os, "name", "nt")
    monkeypatch.setattr(hook.os, "add_dll_directory", lambda p: calls.append(p) or p, raising=False)
    assert hook.add_dll_dirs([str(tmp_path), str(tmp_path / "missing")]) == [str(tmp_path)]
    handles = list(hook._DLL_HANDLES)  # kept alive: closing a handle would drop the folder again
    assert calls == handles == [str(tmp_path)]


def test_dll_folders_on_older_windows_pythons_go_to_the_end_of_path(hook, tmp_path, monkeypatch):
    monkeypatch.setattr(hook.os, "name", "nt")
    monkeypatch.delattr(hook.os, "add_dll_directory", raising=False)
    monkeypatch.setenv("PATH", "/bin" + os.pathsep + "/usr/bin")
    assert hook.add_dll_dirs([str(tmp_path)]) == [str(tmp_path)]
    assert hook.add_dll_dirs([str(tmp_path)]) == []  # never twice
    assert os.environ["PATH"] == os.pathsep.join(["/bin", "/usr/bin", str(tmp_path)])


def test_dll_folders_are_ignored_off_windows(hook, tmp_path):
    assert hook.add_dll_dirs([str(tmp_path)]) == []


def test_run_never_raises_and_records_why(hook, tmp_path, monkeypatch):
    hook.run(str(tmp_path / "missing.json"))
    (tmp_path / "data.json").write_bytes(b'\xef\xbb\xbf{"schema": 1, "entries": [{"id": "x", "match": {}}]}')
    hook.run(str(tmp_path / "data.json"))  # a BOM is tolerated
    monkeypatch.setenv("ARCGIS_CONDA_BRIDGE_DISABLE", "1")
    hook.run(str(tmp_path / "data.json"))
    first, second, third = hook.REPORT
    assert "unusable" in first["error"]
    assert second["error"] is None and second["skipped"][0]["id"] == "x"
    assert third["error"] == "disabled by ARCGIS_CONDA_BRIDGE_DISABLE"
