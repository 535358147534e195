"""The arcgis_env_lock action plugin with hostvars given directly (no solve needed for these paths)."""

from __future__ import annotations

import sys
from pathlib import Path
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.template import Templar
from ansible_collections.arcgis_conda.fleet.plugins.action.arcgis_env_lock import ActionModule

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from conda_channel import MINICONDA2_X86, STACKS


@pytest.fixture
def action():
    def make(args):
        task = MagicMock(Task)
        task.args = args
        task.async_val = 0
        task.check_mode = False
        loader = DataLoader()
        return ActionModule(task, MagicMock(), PlayContext(), loader, Templar(loader), None)

    return make


def host_input():
    return {
        "__arcgis_env_host_input": {
            "arcgis": [STACKS["desktop-10.4.1-32"]],
            "conda_installs": [MINICONDA2_X86],
        }
    }


def test_host_without_input_fails_naming_host_and_fix(action):
    with pytest.raises(AnsibleActionFail, match=r"host pc2 has no __arcgis_env_host_input; the role sets it"):
        action({}).run(
            task_vars={"ansible_play_batch": ["pc1", "pc2"], "hostvars": {"pc1": host_input(), "pc2": {}}}
        )


def test_bad_settings_fail_before_planning(action):
    with pytest.raises(AnsibleActionFail, match=r"arcgis_env_extra_packages: 'numpy=1\.11' would move numpy"):
        action({"settings": {"extra_packages": ["numpy=1.11"]}}).run(
            task_vars={"ansible_play_batch": ["pc1"], "hostvars": {"pc1": host_input()}}
        )


def test_state_absent_plans_names_and_prefixes_without_solving(action, tmp_path):
    result = action(
        {
            "state": "absent",
            "settings": {"channels": [(tmp_path / "no-channel").as_uri()]},
            "lock_dir": str(tmp_path / "locks"),
        }
    ).run(task_vars={"ansible_play_batch": ["pc1"], "hostvars": {"pc1": host_input()}})
    assert result["solves"] == 0
    assert result["locks"] == {}
    plan = result["plans"]["pc1"][0]
    assert (plan["name"], plan["prefix"]) == ("arc1041", "C:\\Miniconda2\\envs\\arc1041")
    assert not (tmp_path / "locks").exists()
