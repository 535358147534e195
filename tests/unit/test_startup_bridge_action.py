"""The action plugin arcgis_conda.fleet.startup_bridge_plan with its host calls replaced by recorded
win_find answers (model: ansible-core's test/units/plugins/action/test_reboot.py)."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task
from ansible_collections.arcgis_conda.fleet.plugins.action.startup_bridge_plan import ActionModule
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import startup_bridge_plan as bp
from test_startup_bridge_plan import desktop, env_for

SITE = "C:\\Users\\alice\\AppData\\Roaming\\Python\\Python27\\site-packages"


def make_plugin(args: dict, answers: list[dict]) -> tuple[ActionModule, MagicMock]:
    task = MagicMock(Task)
    task.args = args
    task.async_val = 0
    task.check_mode = False
    task.diff = False
    connection = MagicMock()
    connection._shell.tmpdir = None
    plugin = ActionModule(task, connection, MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    plugin._execute_module = MagicMock(side_effect=answers)
    return plugin, plugin._execute_module


def test_machine_scope_needs_nothing_from_the_host():
    arcmap = desktop(32)
    plugin, execute = make_plugin({"arcgis": [arcmap], "envs": [env_for(arcmap)]}, [])
    result = plugin.run(task_vars={"inventory_hostname": "lab-pc-01"})
    assert execute.call_count == 0
    assert result["changed"] is False and len(result["plan"]["copies"]) == 2
    assert result["warnings"] == []


def test_user_scope_reads_profiles_then_checksums_and_backs_up_a_users_file():
    arcmap = desktop(32)
    profiles = {
        "files": [{"path": "C:\\Users\\Default"}, {"path": "C:\\Users\\alice"}, {"path": "C:\\Users\\Public"}]
    }
    found = {"files": [{"path": SITE + "\\usercustomize.py", "checksum": "f" * 40}]}
    plugin, execute = make_plugin(
        {"arcgis": [arcmap], "envs": [env_for(arcmap)], "scope": "user", "users": ["alice", "bob"]},
        [profiles, found],
    )
    result = plugin.run(task_vars={"inventory_hostname": "lab-pc-01"})
    first, second = (call.kwargs for call in execute.call_args_list)
    assert first["module_name"] == "ansible.windows.win_find"
    assert first["module_args"] == {
        "paths": ["C:\\Users"],
        "file_type": "directory",
        "hidden": True,
        "get_checksum": False,
    }
    assert second["module_args"]["patterns"] == [bp.SHIM_NAME, bp.BACKUP_NAME]
    assert SITE in second["module_args"]["paths"]
    assert second["module_args"]["checksum_algorithm"] == "sha1"
    assert result["plan"]["backups"] == [
        {"src": SITE + "\\usercustomize.py", "dest": SITE + "\\" + bp.BACKUP_NAME}
    ]
    assert any("profile bob" in w for w in result["warnings"])


def test_a_second_user_file_fails_naming_host_file_and_fix():
    arcmap = desktop(32)
    found = {
        "files": [
            {"path": SITE + "\\usercustomize.py", "checksum": "1" * 40},
            {"path": SITE + "\\" + bp.BACKUP_NAME, "checksum": "2" * 40},
        ]
    }
    plugin, _ = make_plugin(
        {
            "arcgis": [arcmap],
            "envs": [env_for(arcmap)],
            "scope": "user",
            "users": ["alice"],
            "default_profile": False,
        },
        [{"files": [{"path": "C:\\Users\\alice"}]}, found],
    )
    with pytest.raises(AnsibleActionFail, match=r"^lab-pc-01: .*usercustomize.py is not the bridge's.*merge"):
        plugin.run(task_vars={"inventory_hostname": "lab-pc-01"})


def test_a_failed_listing_and_malformed_facts_fail_clearly():
    arcmap = desktop(32)
    plugin, _ = make_plugin(
        {"arcgis": [arcmap], "envs": [env_for(arcmap)], "scope": "user", "users": ["alice"]},
        [{"failed": True, "msg": "Access is denied"}],
    )
    with pytest.raises(
        AnsibleActionFail, match=r"lab-pc-01: cannot list \['C:\\\\Users'\]: Access is denied"
    ):
        plugin.run(task_vars={"inventory_hostname": "lab-pc-01"})
    broken = {k: v for k, v in arcmap.items() if k != "python_exe"}
    plugin, _ = make_plugin({"arcgis": [broken], "envs": [env_for(arcmap)]}, [])
    with pytest.raises(AnsibleActionFail, match="do not follow their contract"):
        plugin.run(task_vars={"inventory_hostname": "lab-pc-01"})
