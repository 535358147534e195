"""arcgis_discovery: installs from registry layouts, facts from probe runs (host data in tests/unit/data).

The registry layouts are modelled on the documented values (see the module docstring); no Windows host
was available to capture them live.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_discovery as discovery
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_probe import DEFAULT_PACKAGES

DATA = Path(__file__).parent / "data"
PACKAGES = list(DEFAULT_PACKAGES)
CONTRACT_KEYS = [
    "id",
    "product",
    "version",
    "install_dir",
    "python_exe",
    "python_version",
    "python_major_minor",
    "bits",
    "prefix",
    "site_packages",
    "user_site",
    "user_site_enabled",
    "packages",
    "pro_conda_root",
    "pro_conda_env",
    "status",
    "problems",
]
CLONE = r"C:\Users\labadmin\AppData\Local\ESRI\conda\envs\arcgispro-py3-clone"
PRO_EXE = r"C:\Program Files\ArcGIS\Pro\bin\Python\envs\arcgispro-py3\python.exe"


def scenario(name: str) -> dict:
    return json.loads((DATA / f"arcgis_host_{name}.json").read_text())


def facts_for(data: dict, packages: list[str] | None = None) -> tuple[list[dict], list[str]]:
    installs, warnings = discovery.find_installs(discovery.parse_registry_dump(data["registry"]))
    runs = discovery.parse_runs({"runs": data["runs"]})
    return discovery.build_facts(installs, runs, packages or PACKAGES), warnings


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("desktop_10.4.1_32", {"desktop-10.4.1-32": r"C:\Python27\ArcGIS10.4\python.exe"}),
        (
            "desktop_10.4.1_bgp",
            {
                "desktop-10.4.1-32": r"C:\Python27\ArcGIS10.4\python.exe",
                "desktop_bgp-10.4.1-64": r"C:\Python27\ArcGISx6410.4\python.exe",
            },
        ),
        ("pro_3.3", {"pro-3.3.0-64": PRO_EXE}),
        (
            "desktop_pro",
            {
                "desktop-10.8.1-32": r"C:\Python27\ArcGIS10.8\python.exe",
                "desktop_bgp-10.8.1-64": r"C:\Python27\ArcGISx6410.8\python.exe",
                # PythonCondaEnv names a clone: the pins are measured in Esri's arcgispro-py3.
                "pro-3.1.2-64": r"C:\Program Files\ArcGIS\Pro\bin\Python\envs\arcgispro-py3\python.exe",
            },
        ),
        ("no_arcgis", {}),
    ],
)
def test_each_layout_gives_its_installs_and_interpreters(name, expected):
    facts, warnings = facts_for(scenario(name))
    assert {fact["id"]: fact["python_exe"] for fact in facts} == expected
    assert warnings == []
    for fact in facts:
        assert list(fact) == CONTRACT_KEYS
        assert fact["status"] == "ok", fact["problems"]
        assert set(fact["packages"]) == set(PACKAGES)


def test_desktop_facts_match_the_seed_host():
    facts, _ = facts_for(scenario("desktop_10.4.1_bgp"))
    desktop, bgp = facts
    assert desktop == {
        "id": "desktop-10.4.1-32",
        "product": "desktop",
        "version": "10.4.1",
        "install_dir": "C:\\Program Files (x86)\\ArcGIS\\Desktop10.4\\",
        "python_exe": "C:\\Python27\\ArcGIS10.4\\python.exe",
        "python_version": "2.7.10",
        "python_major_minor": "2.7",
        "bits": 32,
        "prefix": "C:\\Python27\\ArcGIS10.4",
        "site_packages": ["C:\\Python27\\ArcGIS10.4\\lib\\site-packages"],
        "user_site": "C:\\Users\\labadmin\\AppData\\Roaming\\Python\\Python27\\site-packages",
        "user_site_enabled": True,
        "packages": {
            "numpy": "1.9.2",
            "matplotlib": "1.4.3",
            "scipy": "0.15.1",
            "pandas": "0.16.1",
            "python-dateutil": "2.4.2",
            "pyparsing": "2.0.3",
            "pytz": "2015.4",
            "six": "1.9.0",
        },
        "pro_conda_root": None,
        "pro_conda_env": None,
        "status": "ok",
        "problems": [],
    }
    # The Background GP install folder comes from its Uninstall entry (64-bit Program Files).
    assert bgp["install_dir"] == "C:\\Program Files\\ArcGIS\\Desktop10.4\\"
    assert bgp["bits"] == 64


def test_pro_facts_carry_the_conda_root_and_env():
    (pro,) = facts_for(scenario("pro_3.3"))[0]
    assert pro["pro_conda_root"] == r"C:\Program Files\ArcGIS\Pro\bin\Python"
    assert pro["pro_conda_env"] == "arcgispro-py3"
    assert pro["version"] == "3.3.0"
    assert pro["python_major_minor"] == "3.11"
    assert pro["packages"]["numpy"] == "1.24.3"


def test_pro_version_falls_back_to_the_four_part_version_value():
    data = scenario("pro_3.3")
    del data["registry"]["esri_keys"][0]["values"]["RealVersion"]
    (pro,) = facts_for(data)[0]
    assert pro["id"] == "pro-3.3.0-64"


def test_side_by_side_reports_drift_and_ignores_extensions():
    facts, warnings = facts_for(scenario("desktop_pro"))
    pro = facts[2]
    assert pro["pro_conda_env"] == CLONE
    assert pro["problems"] == ["drift: matplotlib 3.7.1, but ArcGIS Pro 3.1.2 shipped matplotlib 3.6.0"]
    assert pro["status"] == "ok"  # drift is reported, never fatal
    # Desktop 10.8.1's stack is not sourced in the table: nothing to compare, no noise.
    assert facts[0]["problems"] == []
    # "ArcGIS Data Interoperability for Desktop" is an extension, not a second Desktop.
    assert warnings == []


def test_broken_interpreter_is_reported_and_the_others_still_measured():
    facts, _ = facts_for(scenario("broken_python"))
    desktop, pro = facts
    assert desktop["status"] == "broken"
    assert desktop["python_version"] is None
    assert desktop["python_major_minor"] is None
    assert desktop["bits"] == 32
    assert desktop["packages"] == dict.fromkeys(PACKAGES)
    assert desktop["problems"] == [
        r"C:\Python27\ArcGIS10.4\python.exe exited with code 1: ImportError: No module named site"
    ]
    assert pro["status"] == "ok"
    assert pro["packages"]["numpy"] == "1.24.3"


def test_an_interpreter_that_cannot_start_is_broken_with_the_host_error():
    data = scenario("pro_3.3")
    data["runs"] = [
        {
            "python": PRO_EXE,
            "rc": None,
            "stdout": "",
            "stderr": "",
            "error": "The system cannot find the file",
        }
    ]
    (pro,) = facts_for(data)[0]
    assert pro["status"] == "broken"
    assert pro["problems"] == [f"could not run {PRO_EXE}: The system cannot find the file"]


def test_output_before_the_report_is_skipped_and_garbage_is_broken():
    run = discovery.ProbeRun(
        "py", 0, 'bridge: added C:\\Miniconda2\\envs\\arc1041\n{"python": {"version": "2.7.10"}}', "", None
    )
    report, why = discovery.parse_probe_output(run)
    assert why is None
    assert report["python"]["version"] == "2.7.10"
    report, why = discovery.parse_probe_output(
        discovery.ProbeRun("py", 0, "Traceback (most recent", "", None)
    )
    assert report is None
    assert why == "py did not print the probe's JSON report: Traceback (most recent"


def test_package_names_are_checked_before_they_reach_a_command_line():
    assert discovery.validate_packages(["numpy", "python-dateutil", "numpy", "ruamel.yaml"]) == [
        "numpy",
        "python-dateutil",
        "ruamel.yaml",
    ]
    for bad in ['numpy" & calc', "-m", "", "a b"]:
        with pytest.raises(ValueError, match="is not a package name"):
            discovery.validate_packages([bad])


def test_registry_keys_without_an_uninstall_entry_are_flagged():
    data = scenario("desktop_10.4.1_32")
    data["registry"]["uninstall"] = []
    (desktop,) = facts_for(data)[0]
    assert desktop["problems"] == [
        "the registry says ArcGIS Desktop 10.4.1 is installed but Windows lists no matching uninstall entry "
        "from Environmental Systems Research Institute, Inc. (keys left behind by an uninstall?)"
    ]


def test_an_uninstall_entry_without_registry_keys_is_a_host_warning():
    data = scenario("no_arcgis")
    data["registry"]["uninstall"] = copy.deepcopy(scenario("pro_3.3")["registry"]["uninstall"])
    facts, warnings = facts_for(data)
    assert facts == []
    assert len(warnings) == 1  # the Coordinate Systems Data entry is not a product with a Python
    assert warnings[0].startswith("Windows lists 'ArcGIS Pro' 3.3.52636 from Environmental Systems")


def test_a_missing_python_key_falls_back_to_the_folder_on_disk():
    data = scenario("desktop_10.4.1_32")
    data["registry"]["esri_keys"] = [k for k in data["registry"]["esri_keys"] if k["name"] != "Python10.4"]
    (desktop,) = facts_for(data)[0]
    assert desktop["python_exe"] == r"C:\Python27\ArcGIS10.4\python.exe"
    assert desktop["status"] == "ok"
    assert (
        "Python10.4 is missing; using the Python found at C:\\Python27\\ArcGIS10.4" in desktop["problems"][0]
    )


def test_no_python_anywhere_is_broken_without_running_anything():
    data = scenario("desktop_10.4.1_32")
    data["registry"]["esri_keys"] = [k for k in data["registry"]["esri_keys"] if k["name"] != "Python10.4"]
    data["registry"]["python_dirs"] = []
    installs, _ = discovery.find_installs(discovery.parse_registry_dump(data["registry"]))
    assert discovery.probe_targets(installs) == []
    (desktop,) = discovery.build_facts(installs, {}, PACKAGES)
    assert desktop["status"] == "broken"
    assert desktop["python_exe"] is None
    assert desktop["problems"][-1] == "no python.exe to run"


def test_a_bgp_folder_without_its_uninstall_entry_is_kept_with_a_problem():
    data = scenario("desktop_10.4.1_bgp")
    data["registry"]["uninstall"] = [
        u for u in data["registry"]["uninstall"] if "Background" not in u["values"]["DisplayName"]
    ]
    facts, _ = facts_for(data)
    assert facts[1]["id"] == "desktop_bgp-10.4.1-64"
    assert (
        "holds a 64-bit Python but Windows lists no Background Geoprocessing install"
        in facts[1]["problems"][0]
    )


def test_server_10x_and_bgp_share_one_interpreter_probed_once():
    data = scenario("desktop_10.4.1_bgp")
    data["registry"]["esri_keys"].append(
        {
            "view": "64",
            "name": "ArcGIS_SXS_Server",
            "values": {"RealVersion": "10.4.1", "InstallDir": "C:\\Program Files\\ArcGIS\\Server\\"},
        }
    )
    data["registry"]["uninstall"].append(
        {
            "view": "64",
            "key": "{S}",
            "values": {
                "DisplayName": "ArcGIS 10.4.1 for Server",
                "DisplayVersion": "10.4.5524",
                "Publisher": discovery.ESRI_PUBLISHER,
            },
        }
    )
    installs, warnings = discovery.find_installs(discovery.parse_registry_dump(data["registry"]))
    assert [i.id for i in installs] == ["desktop-10.4.1-32", "desktop_bgp-10.4.1-64"]
    assert installs[1].problems == [r"C:\Python27\ArcGISx6410.4\python.exe also serves ArcGIS Server 10.4.1"]
    assert len(discovery.probe_targets(installs)) == 2
    assert warnings == []


def test_server_11_runs_the_pro_runtime_python():
    registry = {
        "os_64bit": True,
        "esri_keys": [
            {
                "view": "64",
                "name": "ArcGIS_SXS_Server",
                "values": {"RealVersion": "11.3", "InstallDir": "D:\\ArcGIS\\Server\\"},
            }
        ],
        "uninstall": [
            {
                "view": "64",
                "key": "{S}",
                "values": {
                    "DisplayName": "ArcGIS Server",
                    "DisplayVersion": "11.3.0.51575",
                    "Publisher": discovery.ESRI_PUBLISHER,
                },
            }
        ],
        "python_dirs": [],
    }
    (server,), _ = discovery.find_installs(discovery.parse_registry_dump(registry))
    assert server.id == "server-11.3-64"
    assert (
        server.python_exe
        == r"D:\ArcGIS\Server\framework\runtime\ArcGIS\bin\Python\envs\arcgispro-py3\python.exe"
    )
    assert server.problems == []


def test_32_bit_windows_has_one_registry_view():
    data = scenario("desktop_10.4.1_32")
    data["registry"]["os_64bit"] = False
    (desktop,) = facts_for(data)[0]
    assert desktop["id"] == "desktop-10.4.1-32"


def test_wrong_bitness_and_sys_executable_are_problems():
    data = scenario("desktop_10.4.1_32")
    report = json.loads(data["runs"][0]["stdout"])
    report["python"]["bits"] = 64
    report["python"]["executable"] = r"C:\Python27\ArcGIS10.4\pythonw.exe"
    data["runs"][0]["stdout"] = json.dumps(report)
    (desktop,) = facts_for(data)[0]
    assert desktop["bits"] == 64  # measured wins
    assert desktop["id"] == "desktop-10.4.1-32"  # the id stays stable
    assert desktop["problems"] == [
        r"C:\Python27\ArcGIS10.4\python.exe is 64-bit, ArcGIS Desktop 10.4.1 should be 32-bit",
        r"C:\Python27\ArcGIS10.4\python.exe reports sys.executable C:\Python27\ArcGIS10.4\pythonw.exe",
    ]


def test_drift_names_unverified_table_values_and_unknown_releases():
    install = discovery.Install("desktop", "10.2", 32, None, "py")
    assert discovery.drift_problems(install, {"numpy": "1.7.1"}, "2.7") == [
        "drift: numpy 1.7.1, but ArcGIS Desktop 10.2 shipped numpy 1.6.1"
        " (table value from a community source, unverified)"
    ]
    install = discovery.Install("desktop", "10.4.1", 32, None, "py")
    assert discovery.drift_problems(install, {"numpy": None, "scipy": "0.15.1"}, "2.7") == [
        "drift: numpy is missing, but ArcGIS Desktop 10.4.1 shipped numpy 1.9.2"
    ]
    install = discovery.Install("pro", "9.9.0", 64, None, "py")
    (problem,) = discovery.drift_problems(install, {}, "3.11")
    assert problem.startswith(
        "no drift check: ArcGIS pro 9.9.0 is not in the release table; known releases: 2.0, 2.1"
    )


def test_dump_shapes_from_powershell_are_tolerated_or_rejected_clearly():
    single = scenario("pro_3.3")["registry"]
    single["esri_keys"] = single["esri_keys"][0]  # a one-element list unrolled to a mapping
    single["python_dirs"] = None
    assert [k.name for k in discovery.parse_registry_dump(single).esri_keys] == ["ArcGISPro"]
    with pytest.raises(discovery.DumpError, match="should be a mapping"):
        discovery.parse_registry_dump(["not", "a", "mapping"])
    with pytest.raises(discovery.DumpError, match="esri_keys item without a name"):
        discovery.parse_registry_dump({"esri_keys": [{"values": {}}]})
    with pytest.raises(discovery.DumpError, match="probe run without a python path"):
        discovery.parse_runs({"runs": [{"rc": 0}]})


def test_an_active_clone_is_reported_but_esris_env_is_measured():
    """HKLM PythonCondaEnv = a clone's full path (or another env's name): the probe runs arcgispro-py3."""
    for env in (CLONE, "arcgispro-py3-lab"):
        data = scenario("pro_3.3")
        data["registry"]["esri_keys"][0]["values"]["PythonCondaEnv"] = env
        installs, _ = discovery.find_installs(discovery.parse_registry_dump(data["registry"]))
        (pro,) = installs
        assert pro.python_exe == PRO_EXE
        assert pro.pro_conda_env == env
        assert discovery.probe_targets(installs) == [PRO_EXE]


def user_key(values, **extra):
    return {
        "sid": "S-1-5-21-1-2-3-1002",
        "profile": r"C:\Users\jsmith.LAB",
        "loaded": False,
        "values": values,
        **extra,
    }


def test_a_per_user_pro_is_found_in_the_users_hive_and_never_probed():
    data = scenario("no_arcgis")
    pro_dir = "C:\\Users\\jsmith.LAB\\AppData\\Local\\Programs\\ArcGIS\\Pro\\"
    data["registry"]["user_keys"] = [
        user_key({"InstallDir": pro_dir, "RealVersion": "3.3.0", "PythonCondaEnv": "arcgispro-py3"}),
        # A machine-wide Pro user's own active env (no InstallDir): not an install, no warning.
        {**user_key({"PythonCondaEnv": CLONE}), "sid": "S-1-5-21-1-2-3-1003"},
    ]
    installs, warnings = discovery.find_installs(discovery.parse_registry_dump(data["registry"]))
    assert installs == []
    (warning,) = warnings
    assert "ArcGIS Pro 3.3.0 is installed for jsmith.LAB only" in warning
    assert r"HKU\S-1-5-21-1-2-3-1002\Software\ESRI\ArcGISPro" in warning
    assert pro_dir in warning and "ALLUSERS=1" in warning


def test_an_unreadable_user_hive_is_a_warning_naming_the_user():
    data = scenario("no_arcgis")
    data["registry"]["user_keys"] = [user_key(None, error="reg load ...: being used by another process")]
    _, warnings = discovery.find_installs(discovery.parse_registry_dump(data["registry"]))
    assert warnings == [
        r"could not read the registry hive of jsmith.LAB (S-1-5-21-1-2-3-1002, C:\Users\jsmith.LAB) to look "
        "for a per-user ArcGIS Pro: reg load ...: being used by another process"
    ]
    with pytest.raises(discovery.DumpError, match="user_keys item without a sid"):
        discovery.parse_registry_dump({**data["registry"], "user_keys": [{"values": {}}]})
