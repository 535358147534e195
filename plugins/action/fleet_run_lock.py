"""Action plugin arcgis_conda.fleet.fleet_run_lock: one run at a time per fleet state (the fact cache).

Runs on the controller only; the holder is the ``ansible-playbook`` process (the parent of the worker this
action runs in). The logic is module_utils/fleet_lock.py. Documentation: plugins/modules/fleet_run_lock.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_flow as ff
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_lock as fl

ARGUMENT_SPEC: dict[str, Any] = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "path": {"type": "path"},
}


def command_of(pid: int, fallback: str) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return fallback
    args = [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]
    args = [a for a in args if "python" not in os.path.basename(a)]  # "python .../ansible-playbook ..."
    return " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(args)) or fallback


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        _spec, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        task_vars = task_vars or {}
        cache = C.config.get_config_value("CACHE_PLUGIN_CONNECTION") or ".cache/facts"
        path = Path(args["path"]) if args.get("path") else fl.lock_path(ff.project_path(cache, C.CONFIG_FILE))
        pid = os.getppid()  # the ansible-playbook process: workers are forked from it
        if args["state"] == "absent":
            released = fl.release(path, pid)
            msg = f"released {path}" if released else "not held"
            result.update(changed=False, path=str(path), msg=msg, module_calls=0)
            return result
        playbook = command_of(pid, str(task_vars.get("ansible_play_name") or "ansible-playbook"))
        try:
            warning = fl.acquire(path, fl.me(pid, playbook))
        except fl.LockHeld as exc:
            raise AnsibleActionFail(str(exc)) from None
        if warning:
            self._display.warning(warning)
        msg = f"holding {path}" + (f"; {warning}" if warning else "")
        # The controller only: no host module call (the progress callback counts this).
        result.update(changed=False, path=str(path), msg=msg, module_calls=0)
        return result
