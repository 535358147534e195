"""A student's own env, linked to ArcGIS's Python for that student only, under real interpreters (the one
running the tests, 2.7 and 3.13): the machine bridge installed as the role plans it, then the student's one
command (``python -m arcgis_conda_bridge add NAME``) run with ArcGIS's Python, then ArcGIS's Python started
as that student, as another student, as an administrator, and with -E/-s/-I.

Profiles are HOME folders (the hook reads USERPROFILE on Windows, HOME elsewhere). These tests run as root,
which the hook treats as an administrator on POSIX; ARCGIS_CONDA_BRIDGE_TEST_POSIX_ROOT_IS_USER (never read
on Windows) makes a run a student's, and leaving it out is the administrator's run.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from integration.test_startup_bridge import BASES, apply, build_lab, make_prefix, plan_for, run, site_packages

STUDENT = {"ARCGIS_CONDA_BRIDGE_TEST_POSIX_ROOT_IS_USER": "1"}
IMPORT = "import student_pkg, sys; sys.stdout.write(student_pkg.WHO)"


def student_env(lab, home: Path, name: str) -> Path:
    """conda create -n NAME, as the machine condarc sends it: the student's ~/.conda/envs/NAME."""
    prefix = home / ".conda" / "envs" / name
    exe = make_prefix(str(lab.arcgis_exe), prefix)
    (site_packages(exe) / "student_pkg.py").write_text(f"WHO = {name!r}\n")
    (prefix / "conda-meta").mkdir()
    record = {
        "name": "python",
        "version": f"{lab.version}.0",
        "subdir": "linux-64" if lab.bits == 64 else "linux-32",
    }
    (prefix / "conda-meta" / f"python-{lab.version}.0-0.json").write_text(json.dumps(record))
    return prefix


def as_user(home: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(home), **extra}


@pytest.fixture(params=BASES)
def linked(request, tmp_path):
    lab = build_lab(tmp_path, request.param)
    apply(plan_for(lab, "machine", "present"))
    student1, student2 = tmp_path / "home" / "student1", tmp_path / "home" / "student2"
    student2.mkdir(parents=True)
    student_env(lab, student1, "mine")
    add = subprocess.run(
        [str(lab.arcgis_exe), "-m", "arcgis_conda_bridge", "add", "mine"],
        env={**_env(lab, student1), **STUDENT},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert add.returncode == 0, add.stdout + add.stderr
    return lab, student1, student2


def _env(lab, home: Path) -> dict[str, str]:
    from integration.test_startup_bridge import clean_env

    return clean_env(lab.nobody, {"HOME": str(home)})


def start(lab, home: Path, *flags: str, student: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(lab.arcgis_exe), *flags, "-c", IMPORT],
        env={**_env(lab, home), **(STUDENT if student else {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_students_env_is_seen_by_arcgis_python_for_that_student_only(linked):
    lab, student1, student2 = linked
    data = json.loads((student1 / ".arcgis-conda" / "bridge.json").read_text())
    assert [e["id"] for e in data["entries"]] == ["user:mine"]
    seen = start(lab, student1)
    assert seen.returncode == 0 and seen.stdout.splitlines()[-1] == "mine", seen.stderr
    # Last on sys.path, after ArcGIS's own site-packages and the machine entries.
    where = run(
        lab.arcgis_exe,
        "import sys; sys.stdout.write(sys.path[-1])",
        lab.nobody,
        **as_user(student1, **STUDENT),
    )
    mine = student1 / ".conda" / "envs" / "mine"
    assert where.stdout.splitlines()[-1] == str(site_packages(mine / "bin" / "python"))
    assert start(lab, student2).returncode != 0, "another student must not see it"
    admin = start(lab, student1, student=False)
    assert admin.returncode != 0, "an administrator's process must never load a user's entries"
    flags = ["-E", "-s"] + (["-I"] if not lab.version.startswith("2.") else [])
    for flag in flags:
        assert start(lab, student1, flag).returncode != 0, f"{flag} must switch user entries off"


def test_only_folders_inside_the_profile_and_a_broken_file_never_breaks_start(linked, tmp_path):
    lab, student1, _ = linked
    data_file = student1 / ".arcgis-conda" / "bridge.json"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "student_pkg.py").write_text("WHO = 'planted'\n")
    data = json.loads(data_file.read_text())
    data["entries"][0]["site_dirs"] = [str(outside)]
    data_file.write_text(json.dumps(data))
    started = start(lab, student1)
    assert started.returncode != 0 and "planted" not in started.stdout
    # The command refuses a folder outside the profile too.
    refused = subprocess.run(
        [str(lab.arcgis_exe), "-m", "arcgis_conda_bridge", "add", str(outside)],
        env={**_env(lab, student1), **STUDENT},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "not inside your profile" in refused.stdout
    for broken in ("{not json", '{"schema": 1, "entries": [42, {"match": 1}]}', ""):
        data_file.write_text(broken)
        ok = run(
            lab.arcgis_exe, "import arcgis_only; print('started')", lab.nobody, **as_user(student1, **STUDENT)
        )
        assert ok.returncode == 0 and "started" in ok.stdout, ok.stderr


def test_remove_unlinks_and_list_shows_the_entries(linked):
    lab, student1, _ = linked
    env = {**_env(lab, student1), **STUDENT}
    listed = subprocess.run(
        [str(lab.arcgis_exe), "-m", "arcgis_conda_bridge", "list"], env=env, capture_output=True, text=True
    )
    assert "mine" in listed.stdout
    removed = subprocess.run(
        [str(lab.arcgis_exe), "-m", "arcgis_conda_bridge", "remove", "mine"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert removed.returncode == 0, removed.stdout
    assert start(lab, student1).returncode != 0


@pytest.mark.parametrize("marker", ["Lib/site-packages/ArcGISPro.pth", "conda-meta/arcpy-3.3-py311_123.json"])
def test_add_refuses_an_arcgis_pro_env_and_names_the_pro_way(linked, marker):
    """A clone of arcgispro-py3 (its ArcGISPro.pth, or Esri's arcpy record) has no bridge to link: Pro uses
    an env as the account's active environment. The command says so and writes nothing."""
    lab, student1, _ = linked
    data_file = student1 / ".arcgis-conda" / "bridge.json"
    before = data_file.read_text()
    prefix = student_env(lab, student1, "myarcpro33")
    (prefix / marker).parent.mkdir(parents=True, exist_ok=True)
    (prefix / marker).write_text("{}\n")
    refused = subprocess.run(
        [str(lab.arcgis_exe), "-m", "arcgis_conda_bridge", "add", "myarcpro33"],
        env={**_env(lab, student1), **STUDENT},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "is an ArcGIS Pro env" in refused.stdout and "proswap myarcpro33" in refused.stdout
    assert "Package Manager" in refused.stdout
    assert data_file.read_text() == before
