"""The action plugin arcgis_conda.fleet.miniconda_plan with its one host call faked by recorded data
(model: ansible-core's test/units/plugins/action/test_reboot.py)."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible_collections.arcgis_conda.fleet.plugins.action.miniconda_plan import ARCH_KEY, ActionModule

DESKTOP = {
    "id": "desktop-10.4.1-32",
    "product": "desktop",
    "version": "10.4.1",
    "install_dir": "C:\\Program Files (x86)\\ArcGIS\\Desktop10.4\\",
    "python_exe": "C:\\Python27\\ArcGIS10.4\\python.exe",
    "python_version": "2.7.10",
    "python_major_minor": "2.7",
    "bits": 32,
    "prefix": "C:\\Python27\\ArcGIS10.4",
    "status": "ok",
    "problems": [],
}
PRO = {
    "id": "pro-3.1-64",
    "product": "pro",
    "version": "3.1",
    "install_dir": "C:\\Program Files\\ArcGIS\\Pro\\",
    "python_exe": "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\envs\\arcgispro-py3\\python.exe",
    "python_major_minor": "3.9",
    "bits": 64,
    "prefix": "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\envs\\arcgispro-py3",
    "pro_conda_root": "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python",
    "status": "ok",
}
# win_reg_stat results as the module returns them on 64- and 32-bit Windows.
REG_AMD64 = {"changed": False, "exists": True, "type": "REG_SZ", "raw_value": "AMD64", "value": "AMD64"}
REG_X86 = {"changed": False, "exists": True, "type": "REG_SZ", "raw_value": "x86", "value": "x86"}
REG_DENIED = {"failed": True, "msg": "Access is denied", "exists": False}


def make_action(args, module_result=None, check_mode=False):
    task = MagicMock(Task)
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.action = "arcgis_conda.fleet.miniconda_plan"
    connection = MagicMock()
    connection._shell.tmpdir = "/tmp/x"
    play_context = MagicMock()
    play_context.check_mode = check_mode
    action = ActionModule(task, connection, play_context, loader=DataLoader(), templar=None)
    action._execute_module = MagicMock(return_value=module_result or REG_AMD64)
    return action


def task_vars(**facts):
    return {"inventory_hostname": "gis101-ws07", "ansible_facts": facts}


def test_plan_from_the_probe_reads_the_registry_once_and_changes_nothing():
    action = make_action({"arcgis": [DESKTOP, PRO]})
    result = action.run(task_vars=task_vars(arcgis=[DESKTOP, PRO]))
    action._execute_module.assert_called_once_with(
        module_name="ansible.windows.win_reg_stat",
        module_args={"path": ARCH_KEY, "name": "PROCESSOR_ARCHITECTURE"},
        task_vars=task_vars(arcgis=[DESKTOP, PRO]),
    )
    assert result["changed"] is False
    assert result["os_bits"] == 64
    assert [i["flavour"] for i in result["installs"]] == ["miniconda2-x86", "miniconda3-x64"]
    assert [p["arcgis_ids"] for p in result["published"]] == [[DESKTOP["id"]], [PRO["id"]]]
    assert result["msg"] == (
        "install Miniconda2 x86 4.8.3 into C:\\Miniconda2; Miniconda3 x64 23.5.2-0 into C:\\Miniconda3"
    )
    assert "warnings" not in result


def test_gathered_facts_spare_the_registry_read():
    action = make_action({"arcgis": [DESKTOP]})
    result = action.run(task_vars=task_vars(architecture2="x86_64"))
    action._execute_module.assert_not_called()
    assert result["os_bits"] == 64


def test_64_bit_flavour_on_32_bit_windows_fails_naming_the_host():
    action = make_action({"arcgis": [DESKTOP, PRO]}, module_result=REG_X86)
    with pytest.raises(AnsibleActionFail) as exc:
        action.run(task_vars=task_vars())
    assert str(exc.value) == (
        "gis101-ws07: flavour miniconda3-x64 is 64-bit but this Windows is 32-bit. Fix: use miniconda3-x86 "
        "(set miniconda_flavours or miniconda_flavour_overrides), or leave that ArcGIS install out with none."
    )


def test_unreadable_architecture_fails_with_the_fix():
    action = make_action({"flavours": ["miniconda2-x86"]}, module_result=REG_DENIED)
    with pytest.raises(
        AnsibleActionFail, match=r"^gis101-ws07: could not read PROCESSOR_ARCHITECTURE .*denied"
    ):
        action.run(task_vars=task_vars())


def test_bad_prefix_fails_before_any_host_call():
    action = make_action(
        {"arcgis": [DESKTOP], "prefixes": {"miniconda2-x86": "C:\\Program Files\\Miniconda2"}}
    )
    with pytest.raises(AnsibleActionFail, match=r"^gis101-ws07: miniconda_prefixes\['miniconda2-x86'\] = "):
        action.run(task_vars=task_vars(architecture2="x86_64"))
    action._execute_module.assert_not_called()


def test_unverified_installer_without_checksum_fails():
    action = make_action({"arcgis": [PRO], "versions": {"miniconda3-x64": "24.5.0-0"}})
    with pytest.raises(AnsibleActionFail, match=r"^gis101-ws07: installer Miniconda3-py312_24.5.0-0-Windows"):
        action.run(task_vars=task_vars(architecture2="x86_64"))


def test_no_probe_without_flavours_fails_and_with_flavours_plans():
    with pytest.raises(AnsibleActionFail, match=r"^gis101-ws07: no ArcGIS probe ran"):
        make_action({}).run(task_vars=task_vars())
    result = make_action({"flavours": ["miniconda2-x86"]}).run(task_vars=task_vars())
    assert [i["flavour"] for i in result["installs"]] == ["miniconda2-x86"]


def test_warnings_carry_the_host_name():
    result = make_action({"arcgis": [DESKTOP, PRO], "flavour_overrides": {"pro": "none"}}).run(
        task_vars=task_vars()
    )
    assert result["warnings"] == [
        "gis101-ws07: ArcGIS install 'pro-3.1-64' left without Miniconda (miniconda_flavour_overrides)."
    ]


def test_absent_needs_no_architecture_and_lists_every_prefix():
    action = make_action({"state": "absent"})
    result = action.run(task_vars=task_vars())
    action._execute_module.assert_not_called()
    assert result["os_bits"] is None
    assert result["msg"] == (
        "remove what this role installed: "
        "C:\\Miniconda2, C:\\Miniconda2x64, C:\\Miniconda3x86, C:\\Miniconda3"
    )


def test_runs_in_check_mode_too():
    result = make_action({"arcgis": [DESKTOP]}, check_mode=True).run(task_vars=task_vars())
    assert result["installs"][0]["flavour"] == "miniconda2-x86"


def test_argument_spec_rejects_unknown_options_and_bad_types():
    with pytest.raises(
        AnsibleActionFail, match=r"Unsupported parameters .*: prefix\. Supported parameters include: arcgis"
    ):
        make_action({"prefix": "C:\\M"}).run(task_vars=task_vars())
    with pytest.raises(AnsibleActionFail) as exc:
        make_action({"state": "gone"}).run(task_vars=task_vars())
    assert "value of state must be one of: present, absent, got: gone" in str(exc.value)
