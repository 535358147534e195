"""arcgis_env host decisions: what differs from a plan, conda commands, version checks, published envs."""

from __future__ import annotations

import json

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_host import (
    env_change,
    published_envs,
    verify_env,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import conda_packages

CONDA = "C:\\Miniconda2\\Scripts\\conda.exe"
PREFIX = "C:\\Miniconda2\\envs\\arc1041"
BASE = "https://repo.anaconda.com/pkgs/free/win-32/"
LOCK = [
    {"name": "python", "version": "2.7.14", "build": "0", "line": BASE + "python-2.7.14-0.tar.bz2#aa"},
    {"name": "numpy", "version": "1.9.2", "build": "py27_0", "line": BASE + "numpy-1.9.2-py27_0.tar.bz2#bb"},
    {
        "name": "ipython",
        "version": "5.8.0",
        "build": "py27_0",
        "line": BASE + "ipython-5.8.0-py27_0.tar.bz2#cc",
    },
    {
        "name": "spyder",
        "version": "3.3.6",
        "build": "py27_0",
        "line": BASE + "spyder-3.3.6-py27_0.tar.bz2#dd",
    },
]


def plan(**changes):
    data = {
        "name": "arc1041",
        "arcgis_id": "desktop-10.4.1-32",
        "product": "desktop",
        "version": "10.4.1",
        "kind": "conda",
        "method": "lock",
        "prefix": PREFIX,
        "python_exe": PREFIX + "\\python.exe",
        "site_packages": [PREFIX + "\\Lib\\site-packages"],
        "python_major_minor": "2.7",
        "bits": 32,
        "conda_exe": CONDA,
        "spec_key": "abf92a6293f0de25",
        "host_lock_path": "C:\\ProgramData\\arcgis-conda\\arcgis_env\\locks\\arc1041.txt",
        "install_specs": ["python=2.7", "numpy==1.9.2", "ipython<6", "spyder<4"],
        "channels": ["https://repo.anaconda.com/pkgs/free"],
        "pins": {"numpy": "1.9.2", "matplotlib": "1.4.3", "scipy": "0.15.1"},
        "clone_source": "",
        "clone_pinned_flag": False,
    }
    data.update(changes)
    return data


def conda_list(*records):
    """An env's packages as observe finds them: one conda-meta record per package, by file name."""
    return conda_packages(f"{PREFIX}\\conda-meta\\{n}-{v}-{b}.json" for n, v, b in records)


def test_missing_env_is_created_from_the_copied_lock():
    change = env_change(plan(), LOCK, None, env_exists=False)
    assert change["action"] == "create"
    assert change["argv"] == [
        CONDA,
        "create",
        "--prefix",
        PREFIX,
        "--file",
        "C:\\ProgramData\\arcgis-conda\\arcgis_env\\locks\\arc1041.txt",
        "--yes",
        "--quiet",
    ]
    assert "from lock abf92a6293f0de25 (4 packages)" in change["summary"]


def test_env_matching_its_lock_is_left_alone_and_extra_packages_are_only_reported():
    installed = conda_list(
        ("python", "2.7.14", "0"), ("numpy", "1.9.2", "py27_0"), ("ipython", "5.8.0", "py27_0"),
        ("spyder", "3.3.6", "py27_0"), ("pandas", "0.18.1", "np19py27_0"),
    )  # fmt: skip
    change = env_change(plan(), LOCK, installed, env_exists=True)
    assert change["action"] == "none"
    assert change["argv"] == []
    assert change["extra"] == ["pandas"]
    assert "left alone, not in the lock: pandas" in change["summary"]


def test_only_the_packages_that_differ_are_reinstalled_in_lock_order():
    installed = conda_list(
        ("python", "2.7.14", "0"), ("numpy", "1.11.3", "py27_0"), ("ipython", "5.8.0", "py27_0")
    )
    change = env_change(plan(), LOCK, installed, env_exists=True)
    assert change["action"] == "update"
    assert change["missing"] == ["spyder"]
    assert change["different"] == ["numpy"]
    assert change["update_path"] == "C:\\ProgramData\\arcgis-conda\\arcgis_env\\locks\\arc1041-update.txt"
    assert change["argv"] == [
        CONDA,
        "install",
        "--prefix",
        PREFIX,
        "--file",
        change["update_path"],
        "--yes",
        "--quiet",
    ]
    assert change["update_text"].splitlines()[1:] == ["@EXPLICIT", LOCK[1]["line"], LOCK[3]["line"]]
    assert "numpy 1.11.3-py27_0 -> 1.9.2-py27_0" in change["summary"]


def test_fallback_creates_with_the_pins_and_channels_and_installs_only_unmet_specs():
    fallback = plan(method="fallback", host_lock_path="")
    create = env_change(fallback, None, None, env_exists=False)
    assert create["argv"] == [
        CONDA, "create", "--prefix", PREFIX, "--override-channels", "--channel",
        "https://repo.anaconda.com/pkgs/free", "python=2.7", "numpy==1.9.2", "ipython<6", "spyder<4",
        "--yes", "--quiet",
    ]  # fmt: skip
    installed = conda_list(
        ("python", "2.7.14", "0"), ("numpy", "1.9.2", "py27_0"), ("ipython", "6.1.0", "py_0")
    )
    update = env_change(fallback, None, installed, env_exists=True)
    assert update["action"] == "update"
    assert update["missing"] == ["ipython<6", "spyder<4"]
    assert update["argv"][-6:] == ["python=2.7", "numpy==1.9.2", "ipython<6", "spyder<4", "--yes", "--quiet"]
    done = conda_list(
        ("python", "2.7.14", "0"), ("numpy", "1.9.2", "py27_0"), ("ipython", "5.8.0", "py27_0"),
        ("spyder", "3.3.6", "py27_0"),
    )  # fmt: skip
    assert env_change(fallback, None, done, env_exists=True)["action"] == "none"


def test_pro_clone_is_cloned_with_pinned_flag_then_only_missing_tools_installed():
    pro = plan(
        kind="pro_clone",
        method="clone",
        name="arcpro33",
        prefix="C:\\ProgramData\\arcgis-conda\\envs\\arcpro33",
        conda_exe="C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\Scripts\\conda.exe",
        clone_source="C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\envs\\arcgispro-py3",
        clone_pinned_flag=True,
        install_specs=["ipython", "notebook", "spyder"],
        host_lock_path="",
    )
    clone = env_change(pro, [], None, env_exists=False)
    assert clone["action"] == "create"
    assert clone["argv"] == [
        pro["conda_exe"], "create", "--clone", pro["clone_source"], "--prefix", pro["prefix"], "--pinned",
        "--yes", "--quiet",
    ]  # fmt: skip
    installed = conda_list(
        ("python", "3.11.8", "h1"), ("ipython", "8.12.0", "py311"), ("notebook", "6.5.4", "py311")
    )
    add = env_change(pro, [], installed, env_exists=True)
    # Only the stack's channels (Esri's for Pro): a user's or the system condarc cannot add others.
    assert add["argv"] == [
        pro["conda_exe"],
        "install",
        "--prefix",
        pro["prefix"],
        "--override-channels",
        "--channel",
        "https://repo.anaconda.com/pkgs/free",
        "spyder",
        "--yes",
        "--quiet",
    ]
    assert (
        env_change({**pro, "clone_pinned_flag": False}, [], None, env_exists=False)["argv"][-3]
        == pro["prefix"]
    )


def test_conda_meta_file_names_give_name_version_and_build():
    # conda's PrefixData names each record <name>-<version>-<build>.json; names may hold dashes.
    paths = [
        f"{PREFIX}\\conda-meta\\NumPy-1.9.2-py27_0.json",
        f"{PREFIX}\\conda-meta\\ca-certificates-2024.2.2-h56e8100_0.json",
        f"{PREFIX}\\conda-meta\\history",
    ]
    assert conda_packages(paths) == {
        "numpy": ("1.9.2", "py27_0"),
        "ca-certificates": ("2024.2.2", "h56e8100_0"),
    }


def test_verify_passes_when_versions_equal_arcgis():
    report = {"python": "2.7.14", "packages": {"numpy": "1.9.2", "matplotlib": "1.4.3", "scipy": "0.15.1"}}
    assert verify_env(plan(), json.dumps(report)) == []


def test_verify_names_both_versions_on_mismatch():
    report = {
        "python": "3.7.1",
        "packages": {"numpy": "1.11.3", "matplotlib": "1.4.3", "scipy": None},
        "errors": {"scipy": "ImportError: DLL load failed"},
    }
    problems = verify_env(plan(), json.dumps(report))
    assert problems == [
        f"arc1041 ({PREFIX}): Python is 3.7.1 in the env but 2.7 in ArcGIS desktop 10.4.1",
        f"arc1041 ({PREFIX}): numpy is 1.11.3 in the env but 1.9.2 in ArcGIS desktop 10.4.1",
        f"arc1041 ({PREFIX}): scipy is missing in the env but 0.15.1 in ArcGIS desktop 10.4.1 "
        "(ImportError: DLL load failed)",
    ]


def test_verify_reports_output_that_is_not_json():
    assert "printed no JSON" in verify_env(plan(), "Traceback (most recent call last):")[0]


def test_published_envs_follow_the_contract():
    assert published_envs([plan()]) == [
        {
            "arcgis_id": "desktop-10.4.1-32",
            "name": "arc1041",
            "prefix": PREFIX,
            "python_exe": PREFIX + "\\python.exe",
            "site_packages": [PREFIX + "\\Lib\\site-packages"],
            "python_major_minor": "2.7",
            "bits": 32,
            "kind": "conda",
        }
    ]


def test_shortcuts_are_condas_default_and_no_shortcuts_is_passed_when_turned_off():
    """arcgis_env_shortcuts (arcgis_env_spec.SHORTCUTS_NOTE): conda's menuinst makes the tools' Start-menu
    shortcuts unless --no-shortcuts; every create and install carries the choice."""
    installed = conda_list(("python", "2.7.10", "0"))
    fallback = plan(method="fallback", host_lock_path="")
    for on, changes in ((True, {}), (False, {"shortcuts": False})):
        for argv in (
            env_change(plan(**changes), LOCK, None, env_exists=False)["argv"],
            env_change({**fallback, **changes}, None, None, env_exists=False)["argv"],
            env_change({**fallback, **changes}, None, installed, env_exists=True)["argv"],
            env_change(plan(kind="pro_clone", method="clone", clone_source="S", **changes), [], None, False)[
                "argv"
            ],
        ):
            assert ("--no-shortcuts" in argv) is (not on), argv
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_spec import (
        EnvSettings,
        SpecError,
    )

    assert EnvSettings.from_mapping({"shortcuts": "False"}).shortcuts is False
    assert EnvSettings().shortcuts is True
    with pytest.raises(SpecError, match="arcgis_env_shortcuts: 'sometimes' is not true or false"):
        EnvSettings.from_mapping({"shortcuts": "sometimes"})
