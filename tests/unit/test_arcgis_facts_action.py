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
ADMINS = "S-1-5-32-544"
STUDENT = "S-1-5-21-3623811015-3361044348-30300820-1002"
ACE_USERS_RX = {"sid": "S-1-5-32-545", "type": "allow", "rights": 1179817, "inherit": "both"}
ACE_AUTH_MODIFY = {
    "sid": "S-1-5-11",
    "type": "allow",
    "rights": 1245631,
    "inherit": "both",
    "inherited": True,
}
PROBE_FILE = Path(__file__).resolve().parents[2] / "plugins" / "module_utils" / "arcgis_probe.py"


class FakeHost:
    """Answers the host_read script (module_utils/fleet_host.py) like the recorded host: the registry
    dump when asked for ArcGIS, then one run per probe asked for."""

    def __init__(self, scenario: str, registry_failure: str | None = None, security: dict | None = None):
        data = json.loads((DATA / f"arcgis_host_{scenario}.json").read_text())
        self.registry = data["registry"]
        self.runs = {run["python"].lower(): run for run in data["runs"]}
        self.registry_failure = registry_failure
        # Owner and ACL of each Python folder's parts, as host_read's PythonReads answers: admin-only unless
        # ``security`` maps a path to its (owner, acl).
        self.security = security or {}
        self.secured: list[str] = []
        self.calls: list[dict] = []

    def entry(self, path: str, kind: str) -> dict:
        owner, acl = self.security.get(path.lower(), (ADMINS, [ACE_USERS_RX]))
        if path.lower() in self.secured or any(path.lower().startswith(r + "\\") for r in self.secured):
            owner, acl = (owner if owner != ADMINS else ADMINS), [ACE_USERS_RX]
        return {"path": path, "type": kind, "owner": owner, "protected": True, "acl": acl}

    def dump(self, python_reads: list[str]) -> dict:
        dirs = []
        for item in self.registry["python_dirs"]:
            folder = f"{item['root']}\\{item['name']}"
            entries = [self.entry(item["root"], "dir"), self.entry(folder, "dir")]
            if item.get("has_python") and "python.exe" in python_reads:
                entries.append(self.entry(f"{folder}\\python.exe", "file"))
            dirs.append({**item, "security": entries})
        return {**self.registry, "python_dirs": dirs}

    def __call__(
        self, module_name: str, module_args: dict, task_vars: dict | None = None, **_: object
    ) -> dict:
        self.calls.append({"module_name": module_name, **module_args})
        assert module_name == "ansible.windows.win_powershell"
        params = module_args["parameters"]
        if module_args["script"] == fh.APPLY_FILES_SCRIPT:
            self.secured += [item["path"].lower() for item in params["Items"] if item["op"] == "secure"]
            applied = [
                {**item, "changed": True, "skipped": [], "moved": [], "commands": []}
                for item in params["Items"]
            ]
            return {"changed": True, "result": {"applied": applied}}
        assert module_args["script"] == fh.HOST_READ_SCRIPT
        answer: dict = {"reads": [], "runs": [], "env": {}, "store": {}}
        if params["Arcgis"]:
            if self.registry_failure:
                return {"failed": True, "changed": False, "error": [{"output": self.registry_failure}]}
            answer["arcgis"] = self.dump(params["PythonReads"])
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


WRITABLE = {
    "c:\\python27": (ADMINS, [ACE_AUTH_MODIFY]),
    "c:\\python27\\arcgis10.4": (ADMINS, [ACE_AUTH_MODIFY]),
    "c:\\python27\\arcgis10.4\\python.exe": (ADMINS, [ACE_AUTH_MODIFY]),
}


def test_a_python_users_can_write_is_secured_before_its_first_run(action_for):
    """Desktop's C:\\Python27\\ArcGIS10.4 inherits C:\\'s Authenticated Users Modify: the probe never runs
    it before the folder above is secured, in one more call between the registry read and the probe."""
    host = FakeHost("desktop_10.4.1_bgp", security=WRITABLE)
    result = action_for(host, args={"secure_pythons": True}).run(task_vars=TASK_VARS)
    registry_call, secure_call, probe_call = host.calls
    assert registry_call["parameters"]["PythonReads"] == ["python.exe", "*.dll", "Lib", "DLLs"]
    assert secure_call["script"] == fh.APPLY_FILES_SCRIPT
    assert secure_call["parameters"]["Items"] == [fh.secure_item("C:\\Python27")]
    assert [r["argv"][0] for r in probe_call["parameters"]["Runs"]] == [
        r"C:\Python27\ArcGIS10.4\python.exe",
        r"C:\Python27\ArcGISx6410.4\python.exe",
    ]
    assert result["module_calls"] == 3 and result["changed"] is True and result["secured"] == ["C:\\Python27"]
    assert [f["status"] for f in result["ansible_facts"]["arcgis"]] == ["ok", "ok"]


@pytest.mark.parametrize(("check_mode", "secure"), [(True, True), (False, False)])
def test_a_python_users_can_write_is_never_run_in_check_mode_or_a_read_only_playbook(
    action_for, check_mode, secure
):
    host = FakeHost("desktop_10.4.1_bgp", security=WRITABLE)
    result = action_for(host, args={"secure_pythons": secure}, check_mode=check_mode).run(task_vars=TASK_VARS)
    # C:\\Python27 above both is writable: neither Python runs, so no probe call at all.
    assert len(host.calls) == 1 and host.calls[0]["script"] == fh.HOST_READ_SCRIPT
    desktop, bgp = result["ansible_facts"]["arcgis"]
    assert (desktop["status"], bgp["status"]) == ("unsecured", "unsecured") and result["changed"] is False
    assert "S-1-5-11" in desktop["problems"][0] and "site.yml secures C:\\Python27" in desktop["problems"][0]


def test_a_python_a_user_replaced_is_never_run_nor_secured(action_for):
    host = FakeHost(
        "desktop_10.4.1_bgp",
        security={**WRITABLE, "c:\\python27\\arcgis10.4\\python.exe": (STUDENT, [ACE_AUTH_MODIFY])},
    )
    result = action_for(host, args={"secure_pythons": True}).run(task_vars=TASK_VARS)
    assert [r["argv"][0] for r in host.calls[-1]["parameters"]["Runs"]] == [
        r"C:\Python27\ArcGISx6410.4\python.exe"  # its folder secured first
    ]
    desktop = result["ansible_facts"]["arcgis"][0]
    assert desktop["status"] == "unsafe"
    assert desktop["problems"][0].startswith(
        "C:\\Python27\\ArcGIS10.4\\python.exe: C:\\Python27\\ArcGIS10.4\\python.exe is owned by "
        f"{STUDENT}, not an administrator: a Python a user made or replaced is never run"
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
