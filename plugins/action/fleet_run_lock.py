"""Action plugin arcgis_conda.fleet.fleet_run_lock: one run at a time per fleet state (its state folder).

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
from ansible_collections.arcgis_conda.fleet.plugins.cache.fleet_facts import extra_state_dir
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_lock as fl
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_state as fs

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
        state = fs.state_dir(task_vars.get(fs.STATE_VARIABLE), C.CONFIG_FILE)
        path = Path(args["path"]) if args.get("path") else fs.run_lock(state)
        pid = os.getppid()  # the ansible-playbook process: workers are forked from it
        awx = fs.awx_job(task_vars)
        if args["state"] == "absent":
            released = fl.release(path, pid)
            msg = f"released {path}" if released else "not held"
            result.update(changed=False, path=str(path), msg=msg, module_calls=0)
            return result
        error, cache_warning = fs.fact_cache_problem(
            str(C.config.get_config_value("CACHE_PLUGIN") or ""),
            C.config.get_config_value("CACHE_PLUGIN_CONNECTION"),
            state,
            fs.state_dir(extra_state_dir(), C.CONFIG_FILE),
            awx,
        )
        if error:
            raise AnsibleActionFail(error)
        if cache_warning:
            self._display.warning(cache_warning)
        playbook = command_of(pid, str(task_vars.get("ansible_play_name") or "ansible-playbook"))
        if awx is not None:
            playbook = f"{playbook} (AWX job {awx.job_id})"
        try:
            # The slices of one AWX sliced job share the lock: they run the same playbook on disjoint hosts.
            run = awx.run_key if awx and awx.workflow_job_id else ""
            warning = fl.acquire(path, fl.me(pid, playbook, run))
        except fl.LockHeld as exc:
            raise AnsibleActionFail(str(exc)) from None
        if warning:
            self._display.warning(warning)
        msg = f"holding {path}" + (f"; {warning}" if warning else "")
        # The controller only: no host module call (the progress callback counts this).
        result.update(changed=False, path=str(path), msg=msg, module_calls=0)
        return result
