"""The arcgis_facts action plugin with its two host module calls faked from recorded host data.

Modelled on ansible-core's test/units/plugins/action/test_reboot.py: the plugin is loaded by FQCN through
Ansible's action loader and ``_execute_module`` is replaced by a fake that answers like the Windows host
of each scenario in tests/unit/data.
"""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.plugins.loader import action_loader
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_probe import DEFAULT_PACKAGES

DATA = Path(__file__).parent / "data"
PROBE_FILE = Path(__file__).resolve().parents[2] / "plugins" / "module_utils" / "arcgis_probe.py"


class FakeHost:
    """Answers the host_read script (module_utils/fleet_host.py) like the recorded host: the registry
    dump when asked for ArcGIS, then one run per probe asked for."""

    def __init__(self, scenario: str, registry_failure: str | None = None):
        data = json.loads((DATA / f"arcgis_host_{scenario}.json").read_text())
        self.registry = data["registry"]
        self.runs = {run["python"].lower(): run for run in data["runs"]}
        self.registry_failure = registry_failure
        self.calls: list[dict] = []

    def __call__(
        self, module_name: str, module_args: dict, task_vars: dict | None = None, **_: object
    ) -> dict:
        self.calls.append({"module_name": module_name, **module_args})
        assert module_name == "ansible.windows.win_powershell"
        assert module_args["script"] == fh.HOST_READ_SCRIPT
        params = module_args["parameters"]
        answer: dict = {"reads": [], "runs": [], "env": {}, "store": {}}
        if params["Arcgis"]:
            if self.registry_failure:
                return {"failed": True, "changed": False, "error": [{"output": self.registry_failure}]}
            answer["arcgis"] = self.registry
        for spec in params["Runs"]:
            recorded = self.runs.get(spec["argv"][0].lower())
            if recorded is None:
                answer["runs"].append({"id": spec["id"], "rc": None, "error": "not on this host"})
            else:
                answer["runs"].append(
                    {"id": spec["id"], **{k: v for k, v in recorded.items() if k != "python"}}
                )
        return {"changed": False, "result": answer}


@pytest.fixture
def action_for():
    def make(host: FakeHost, args: dict | None = None, check_mode: bool = False, shell: str = "powershell"):
        task = MagicMock()
        task.args = args or {}
        task.check_mode = check_mode
        task.async_val = 0
        task.delegate_to = None
        task.action = "arcgis_conda.fleet.arcgis_facts"
        connection = MagicMock()
        connection._shell.SHELL_FAMILY = shell
        connection._shell.tmpdir = None
        play_context = MagicMock(check_mode=check_mode)
        action = action_loader.get(
            "arcgis_conda.fleet.arcgis_facts",
            task=task,
            connection=connection,
            play_context=play_context,
            loader=MagicMock(),
            templar=MagicMock(),
            shared_loader_obj=None,
        )
        action._execute_module = MagicMock(side_effect=host)
        return action

    return make


TASK_VARS = {"inventory_hostname": "gis101-ws01.lab.example.org"}


@pytest.mark.parametrize("check_mode", [False, True])
def test_desktop_with_background_gp_takes_two_calls_in_both_modes(action_for, check_mode):
    host = FakeHost("desktop_10.4.1_bgp")
    result = action_for(host, check_mode=check_mode).run(task_vars=TASK_VARS)
    facts = result["ansible_facts"]["arcgis"]
    assert [(f["id"], f["status"], f["packages"]["numpy"]) for f in facts] == [
        ("desktop-10.4.1-32", "ok", "1.9.2"),
        ("desktop_bgp-10.4.1-64", "ok", "1.9.2"),
    ]
    assert result["changed"] is False
    assert result.get("failed") is not True
    assert result["module_calls"] == len(host.calls) == 2
    registry_call, probe_call = host.calls
    # One script, read-only (win_powershell runs it in check mode): registry first, then the probe runs.
    assert "SupportsShouldProcess" in fh.HOST_READ_SCRIPT
    assert registry_call["parameters"]["Arcgis"] is True and registry_call["parameters"]["Runs"] == []
    assert probe_call["parameters"]["Arcgis"] is False
    probe = PROBE_FILE.read_text(encoding="utf-8")
    assert probe_call["parameters"]["Runs"] == [
        {
            "id": f"probe{i}",
            "argv": [python, "-E", "-S", "{script}", *DEFAULT_PACKAGES],
            "script": probe,
            "timeout": 120,
            # What the host script starts: the command line built here, the script by its name in the
            # run's working directory.
            "file": python,
            "arguments": f"-E -S probe{i}.py " + " ".join(DEFAULT_PACKAGES),
        }
        for i, python in enumerate(
            [r"C:\Python27\ArcGIS10.4\python.exe", r"C:\Python27\ArcGISx6410.4\python.exe"]
        )
    ]
    assert result["msg"] == (
        "gis101-ws01.lab.example.org: 2 ArcGIS Python(s): desktop-10.4.1-32, desktop_bgp-10.4.1-64"
    )


def test_calls_stay_two_however_many_installs_and_packages(action_for):
    packages = [*DEFAULT_PACKAGES, "sympy", "xlrd", "xlwt", "nose", "requests"]
    host = FakeHost("desktop_pro")
    result = action_for(host, args={"packages": packages}).run(task_vars=TASK_VARS)
    assert len(result["ansible_facts"]["arcgis"]) == 3
    assert len(host.calls) == 2
    runs = host.calls[1]["parameters"]["Runs"]
    assert len(runs) == 3 and all(
        run["argv"][run["argv"].index("{script}") + 1 :] == packages for run in runs
    )


def test_side_by_side_reports_drift_without_failing(action_for):
    result = action_for(FakeHost("desktop_pro")).run(task_vars=TASK_VARS)
    pro = result["ansible_facts"]["arcgis"][2]
    assert pro["problems"] == ["drift: matplotlib 3.7.1, but ArcGIS Pro 3.1.2 shipped matplotlib 3.6.0"]
    assert result.get("failed") is not True


def test_no_arcgis_is_one_call_an_empty_list_and_a_clear_message(action_for):
    host = FakeHost("no_arcgis")
    result = action_for(host).run(task_vars=TASK_VARS)
    assert result["ansible_facts"] == {"arcgis": []}
    assert len(host.calls) == 1
    assert result.get("failed") is not True
    assert result["msg"] == (
        "gis101-ws01.lab.example.org: no ArcGIS Desktop, Background Geoprocessing, Pro or Server found"
    )


def test_no_arcgis_fails_when_required(action_for):
    result = action_for(FakeHost("no_arcgis"), args={"require_arcgis": True}).run(task_vars=TASK_VARS)
    assert result["failed"] is True
    assert result["ansible_facts"] == {"arcgis": []}
    assert result["msg"].endswith("and require_arcgis is true: install ArcGIS or leave this host out")


def test_a_broken_interpreter_does_not_fail_the_task(action_for):
    result = action_for(FakeHost("broken_python")).run(task_vars=TASK_VARS)
    assert [(f["id"], f["status"]) for f in result["ansible_facts"]["arcgis"]] == [
        ("desktop-10.4.1-32", "broken"),
        ("pro-3.3.0-64", "ok"),
    ]
    assert result.get("failed") is not True
    assert result["msg"].endswith("; broken: desktop-10.4.1-32")


def test_registry_failure_names_the_host_and_the_error(action_for):
    host = FakeHost("pro_3.3", registry_failure="Requested registry access is not allowed.")
    with pytest.raises(AnsibleActionFail) as info:
        action_for(host).run(task_vars=TASK_VARS)
    assert str(info.value) == (
        "gis101-ws01.lab.example.org: reading the ESRI registry keys failed: "
        "Requested registry access is not allowed."
    )


def test_non_windows_connection_is_refused_before_any_call(action_for):
    host = FakeHost("pro_3.3")
    with pytest.raises(
        AnsibleActionFail, match="probes Windows hosts only, and this connection's shell is sh"
    ):
        action_for(host, shell="sh").run(task_vars=TASK_VARS)
    assert host.calls == []


def test_bad_package_names_are_refused_before_any_call(action_for):
    host = FakeHost("pro_3.3")
    with pytest.raises(AnsibleActionFail, match=r"packages: 'numpy\" & calc' is not a package name"):
        action_for(host, args={"packages": ['numpy" & calc']}).run(task_vars=TASK_VARS)
    assert host.calls == []


def test_unknown_option_fails_validation(action_for):
    host = FakeHost("pro_3.3")
    with pytest.raises(AnsibleActionFail, match=r"Unsupported parameters .*: packagez"):
        action_for(host, args={"packagez": ["numpy"]}).run(task_vars=TASK_VARS)
    assert host.calls == []
