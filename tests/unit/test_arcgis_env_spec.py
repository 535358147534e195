"""arcgis_env specs and plans: names, platforms, pins, tool caps, extras, channels, grouping, Pro clones."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_spec import (
    EnvSettings,
    SpecError,
    build_spec,
    default_env_name,
    pick_conda_install,
    plan_arcgis_env,
    plan_fleet,
)
from conda_channel import MINICONDA2_X86, MINICONDA3_X64, STACKS


def fact(stack_id: str, **changes):
    data = copy.deepcopy(STACKS[stack_id])
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("product", "version", "name"),
    [
        ("desktop", "10.4.1", "arc1041"),
        ("desktop", "10.8", "arc108"),
        ("desktop_bgp", "10.4.1", "arc1041x64"),
        ("server", "10.9.1", "arcsrv1091"),
        ("pro", "3.3", "arcpro33"),
        ("pro", "3.3.52636", "arcpro33"),
        ("pro", "2.9.5", "arcpro29"),
    ],
)
def test_default_env_names_follow_the_seed(product, version, name):
    assert default_env_name(product, version) == name


def test_desktop_1041_spec_is_32_bit_python_27_with_exact_pins_and_27_tools():
    spec = build_spec(fact("desktop-10.4.1-32"), EnvSettings())
    assert spec.platform == "win-32"
    assert spec.python == "2.7"
    assert spec.match_specs == [
        "python=2.7",
        "matplotlib==1.4.3",
        "numpy==1.9.2",
        "scipy==0.15.1",
        "ipython<6",
        "notebook<6",
        "spyder<4",
    ]
    assert spec.channels == ("https://repo.anaconda.com/pkgs/free", "https://repo.anaconda.com/pkgs/main")
    assert spec.package_format == "tar_bz2"


def test_pro_33_spec_is_64_bit_main_channel_uncapped_tools_prefer_conda():
    spec = build_spec(fact("pro-3.3-64"), EnvSettings(channel_base="https://mirror.lab.example.org/pkgs/"))
    assert spec.platform == "win-64"
    assert spec.tools == ("ipython", "notebook", "spyder")
    assert spec.channels == ("https://mirror.lab.example.org/pkgs/main",)
    assert spec.package_format == "prefer_conda"


def test_python_36_caps_ipython_below_717():
    assert "ipython<7.17" in build_spec(fact("pro-2.2-64"), EnvSettings()).tools


@pytest.mark.parametrize(("version", "numpy"), [("3.6", "2.2.0"), ("3.7", "2.3.5")])
def test_pro_36_37_spec_is_python_313_numpy_2_and_spyder_62(version, numpy):
    """Planned from the release table alone, as a declared lab is: Esri's arcgis-dist.json stack."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_plan import declared_install

    spec = build_spec(declared_install("pc1", {"product": "pro", "version": version}), EnvSettings())
    assert spec.python == "3.13"
    assert f"numpy=={numpy}" in spec.match_specs
    assert spec.tools == ("ipython", "notebook", "spyder>=6.2")
    assert spec.platform == "win-64" and spec.package_format == "prefer_conda"


def test_missing_package_is_not_pinned():
    data = fact("desktop-10.4.1-32")
    data["packages"] = {"numpy": "1.9.2", "matplotlib": "1.4.3", "scipy": None}
    assert not any(s.startswith("scipy") for s in build_spec(data, EnvSettings()).match_specs)


def test_same_stack_same_key_other_platform_other_key_extras_order_irrelevant():
    a = build_spec(fact("desktop-10.4.1-32"), EnvSettings(extra_packages=("pandas", "requests")))
    b = build_spec(
        fact("desktop-10.4.1-32", id="desktop-10.4.1-32b"), EnvSettings(extra_packages=("requests", "pandas"))
    )
    bgp = build_spec(fact("desktop_bgp-10.4.1-64"), EnvSettings(extra_packages=("pandas", "requests")))
    assert a.key == b.key
    assert a.key != bgp.key
    assert len(a.key) == 16


def test_extra_that_moves_a_pin_is_refused_naming_package_versions_and_release():
    with pytest.raises(SpecError) as err:
        build_spec(fact("desktop-10.4.1-32"), EnvSettings(extra_packages=("numpy=1.11",)))
    message = str(err.value)
    assert "'numpy=1.11' would move numpy away from 1.9.2" in message
    assert "ArcGIS desktop 10.4.1 (desktop-10.4.1-32)" in message


def test_extra_python_3_refused_for_27_stack():
    with pytest.raises(SpecError, match=r"would move python away from 2\.7"):
        build_spec(fact("desktop-10.4.1-32"), EnvSettings(extra_packages=("python>=3",)))


def test_extras_matching_pins_are_dropped_tools_can_be_overridden_others_kept():
    spec = build_spec(
        fact("desktop-10.4.1-32"),
        EnvSettings(extra_packages=("numpy 1.9.2", "matplotlib", "spyder=3.2", "pandas=0.18")),
    )
    assert spec.extras == ("pandas=0.18",)
    assert spec.tools == ("ipython<6", "notebook<6", "spyder=3.2")
    assert spec.match_specs.count("numpy==1.9.2") == 1


def test_settings_reject_bad_values():
    with pytest.raises(SpecError, match="not a conda match spec"):
        EnvSettings.from_mapping({"extra_packages": ["bad spec ((("]})
    with pytest.raises(SpecError, match="arcgis_env_tools"):
        EnvSettings.from_mapping({"tools": ["jupyterlab"]})
    with pytest.raises(SpecError, match="not a usable conda env name"):
        EnvSettings.from_mapping({"names": {"desktop-10.4.1-32": "arc 1041"}})
    with pytest.raises(SpecError, match="unknown arcgis_env setting"):
        EnvSettings.from_mapping({"channel": "x"})
    settings = EnvSettings.from_mapping({"channels": ["file:///c/"], "names": {}, "pro_modes": None})
    assert settings.channels == ("file:///c/",)


def test_conda_install_choice_prefers_named_then_python_line_then_bits():
    desktop = fact("desktop-10.4.1-32")
    other32 = {**MINICONDA2_X86, "prefix": "D:\\Other", "python_major_minor": "3.7"}
    named = {
        **MINICONDA2_X86,
        "prefix": "E:\\Named",
        "python_major_minor": "3.7",
        "arcgis_ids": [desktop["id"]],
    }
    assert pick_conda_install(desktop, [other32, MINICONDA2_X86, named])["prefix"] == "E:\\Named"
    assert pick_conda_install(desktop, [other32, MINICONDA2_X86])["prefix"] == "C:\\Miniconda2"
    assert pick_conda_install(desktop, [other32])["prefix"] == "D:\\Other"
    assert pick_conda_install(desktop, [MINICONDA3_X64]) is None


def test_plan_for_desktop_uses_miniconda2_envs_folder_and_records_why_others_are_skipped():
    broken = fact(
        "desktop-10.6.1-32", status="broken", python_major_minor=None, problems=["python.exe missing"]
    )
    plans, skipped = plan_arcgis_env(
        "pc1",
        [fact("desktop-10.4.1-32"), broken, fact("desktop_bgp-10.4.1-64")],
        [MINICONDA2_X86],
        EnvSettings(products=("desktop", "desktop_bgp", "pro")),
    )
    assert len(plans) == 1
    plan, spec = plans[0]
    assert plan.name == "arc1041"
    assert plan.prefix == "C:\\Miniconda2\\envs\\arc1041"
    assert plan.python_exe == "C:\\Miniconda2\\envs\\arc1041\\python.exe"
    assert plan.site_packages == ("C:\\Miniconda2\\envs\\arc1041\\Lib\\site-packages",)
    assert plan.conda_exe == "C:\\Miniconda2\\Scripts\\conda.exe"
    assert plan.host_lock_path == "C:\\ProgramData\\arcgis-conda\\arcgis_env\\locks\\arc1041.txt"
    assert plan.spec_key == spec.key and plan.method == "lock"
    assert (
        skipped[0] == "desktop-10.6.1-32: ArcGIS Python is broken (python.exe missing); repair ArcGIS first"
    )
    assert "no 64-bit Miniconda on this host to create arc1041x64" in skipped[1]
    assert "miniconda3-x64" in skipped[1]


def test_products_not_selected_are_skipped():
    settings = EnvSettings(products=("desktop", "pro"))
    plans, skipped = plan_arcgis_env("pc1", [fact("desktop_bgp-10.4.1-64")], [MINICONDA3_X64], settings)
    assert plans == []
    assert "product desktop_bgp is not in arcgis_env_products" in skipped[0]


def test_pro_defaults_to_a_machine_wide_clone_made_by_pros_own_conda():
    plans, _ = plan_arcgis_env(
        "pc1", [fact("pro-3.3-64"), fact("pro-2.8-64")], [MINICONDA3_X64], EnvSettings()
    )
    pro33, pro28 = (p for p, _ in plans)
    assert pro33.kind == "pro_clone" and pro33.method == "clone"
    assert pro33.prefix == "C:\\ProgramData\\arcgis-conda\\envs\\arcpro33"
    assert pro33.conda_exe == "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\Scripts\\conda.exe"
    assert pro33.clone_source == "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\envs\\arcgispro-py3"
    assert pro33.clone_pinned_flag is True
    assert pro28.clone_pinned_flag is False
    assert pro33.pinned_lines == (
        "python ==3.11.8",
        "matplotlib ==3.8.0",
        "numpy ==1.24.3",
        "scipy ==1.11.4",
    )
    assert pro33.install_specs == ("ipython", "notebook", "spyder")
    assert all(spec is None for _, spec in plans)


def test_pro_mode_per_install_switches_to_a_plain_env():
    settings = EnvSettings(pro_modes={"pro-3.3-64": "conda"})
    plans, _ = plan_arcgis_env("pc1", [fact("pro-3.3-64")], [MINICONDA3_X64], settings)
    plan, spec = plans[0]
    assert plan.kind == "conda"
    assert plan.prefix == "C:\\Miniconda3\\envs\\arcpro33"
    assert spec is not None and spec.platform == "win-64"


def test_pro_clone_without_conda_root_is_skipped_with_the_fix():
    plans, skipped = plan_arcgis_env("pc1", [fact("pro-3.3-64", pro_conda_root=None)], [], EnvSettings())
    assert plans == []
    assert "arcgis_env_pro_modes['pro-3.3-64']: conda" in skipped[0]


def test_two_installs_with_one_name_is_an_error():
    settings = EnvSettings(names={"desktop-10.6.1-32": "arc1041"})
    with pytest.raises(SpecError, match="would share the env name 'arc1041'"):
        plan_arcgis_env(
            "pc1", [fact("desktop-10.4.1-32"), fact("desktop-10.6.1-32")], [MINICONDA2_X86], settings
        )


def test_fleet_groups_hosts_by_stack():
    hosts = {
        f"pc{i:02d}": {
            "arcgis": [fact(list(STACKS)[i % 3])],
            "conda_installs": [MINICONDA2_X86, MINICONDA3_X64],
        }
        for i in range(30)
    }
    fleet = plan_fleet(hosts, EnvSettings(products=("desktop", "desktop_bgp")))
    assert len(fleet.specs) == 3
    assert sorted(len(h) for h in fleet.hosts.values()) == [10, 10, 10]
    assert {r for rs in fleet.releases.values() for r in rs} == {
        "ArcGIS desktop 10.4.1 (desktop-10.4.1-32)",
        "ArcGIS desktop 10.6.1 (desktop-10.6.1-32)",
        "ArcGIS desktop_bgp 10.4.1 (desktop_bgp-10.4.1-64)",
    }
    assert sum(len(p) for p in fleet.plans.values()) == 30


def test_fleet_rejects_non_list_facts():
    with pytest.raises(SpecError, match="must be lists"):
        plan_fleet({"pc1": {"arcgis": {"id": "x"}, "conda_installs": []}}, EnvSettings())


def test_a_probed_release_missing_from_the_table_says_its_pins_come_from_the_probe_alone():
    """Issue 25: a probed Pro release Esri's table does not list was built with no word about its pins."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_role import probe_only_pins

    known = {"id": "pro-3.3.0-64", "product": "pro", "version": "3.3", "status": "ok"}
    unknown = {"id": "pro-3.9.0-64", "product": "pro", "version": "3.9", "status": "ok"}
    declared = {**unknown, "id": "pro-3.9-64", "status": "declared"}
    plans = [
        {"name": "arcpro33", "arcgis_id": known["id"], "pins": {"numpy": "1.24.3"}},
        {"name": "arcpro39", "arcgis_id": unknown["id"], "pins": {"numpy": "2.3.1", "scipy": "1.15.2"}},
        {"name": "arcpro39d", "arcgis_id": declared["id"], "pins": {"numpy": "2.3.1"}},
    ]
    (warning,) = probe_only_pins([known, unknown, declared], plans)
    assert warning.startswith("env arcpro39: ArcGIS pro 3.9 (pro-3.9.0-64) is not in the release table")
    assert "(numpy==2.3.1 scipy==1.15.2) come from this host's probe alone" in warning
