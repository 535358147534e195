"""Plan every host's ArcGIS conda envs and lock each distinct Python stack once (controller only).

Run it once per play (``run_once: true``): it reads each host's ``ansible_facts.arcgis`` and conda
installs from hostvars, solves each distinct spec with py-rattler, writes explicit lockfiles on the
controller and returns a plan per host. Documentation: plugins/modules/arcgis_env_lock.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_lock import (
    Locker,
    UnsatisfiableError,
    lock_fleet,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_spec import (
    EnvSettings,
    SpecError,
    plan_fleet,
)

ARGUMENT_SPEC: dict[str, Any] = {
    "hosts": {"type": "list", "elements": "str"},
    "input_var": {"type": "str", "default": "__arcgis_env_host_input"},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "settings": {"type": "dict", "default": {}},
    "channel_mirrors": {"type": "dict", "default": {}},
    "lock_dir": {"type": "path", "default": ".cache/locks"},
    "cache_dir": {"type": "path", "default": ".cache/rattler"},
    "refresh": {"type": "bool", "default": False},
    "timeout": {"type": "float", "default": 10.0},
}


def project_path(path: str) -> Path:
    """Relative paths are relative to the ansible.cfg in use (like the fact cache), else to the cwd."""
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    base = Path(C.CONFIG_FILE).parent if C.CONFIG_FILE else Path.cwd()
    return base / candidate


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        hostvars = task_vars.get("hostvars", {})
        hosts = args["hosts"] if args["hosts"] is not None else task_vars.get("ansible_play_batch", [])
        inputs: dict[str, Any] = {}
        for host in hosts:
            data = hostvars.get(host, {}).get(args["input_var"])
            if data is None:
                raise AnsibleActionFail(
                    f"arcgis_env_lock: host {host} has no {args['input_var']}; "
                    "the role sets it for every host "
                    "before this task (run the role's validate step, or pass hosts: that ran it)"
                )
            inputs[host] = data
        try:
            settings = EnvSettings.from_mapping(args["settings"])
            fleet = plan_fleet(inputs, settings)
        except SpecError as exc:
            raise AnsibleActionFail(f"arcgis_env_lock: {exc}") from exc

        outcomes = {}
        solves = 0
        if args["state"] == "present" and fleet.specs:
            locker = Locker(project_path(args["cache_dir"]), args["channel_mirrors"], args["timeout"])
            try:
                outcomes = lock_fleet(
                    fleet.specs,
                    fleet.releases,
                    project_path(args["lock_dir"]),
                    locker,
                    refresh=args["refresh"],
                )
            except UnsatisfiableError as exc:
                raise AnsibleActionFail(f"arcgis_env_lock: {exc}") from exc
            finally:
                solves = locker.solves
                locker.close()

        plans: dict[str, list[dict[str, Any]]] = {}
        for host, host_plans in fleet.plans.items():
            plans[host] = []
            for plan in host_plans:
                data = plan.to_dict()
                outcome = outcomes.get(plan.spec_key)
                if outcome is not None:
                    data["method"] = "fallback" if outcome.status == "fallback" else "lock"
                    data["lock_path"] = outcome.path
                plans[host].append(data)

        fallback = [o.message for o in outcomes.values() if o.status == "fallback"]
        for message in fallback:
            self._display.warning(f"arcgis_env: no lock, conda will solve on the hosts: {message}")
        locks = {
            key: {
                **outcome.to_dict(),
                "releases": sorted(fleet.releases.get(key, ())),
                "hosts": len(fleet.hosts.get(key, ())),
                "platform": fleet.specs[key].platform,
                "specs": fleet.specs[key].match_specs,
            }
            for key, outcome in outcomes.items()
        }
        result.update(
            changed=False,
            plans=plans,
            locks=locks,
            solves=solves,
            fallback=fallback,
            not_served=fleet.skipped,
            msg=(
                f"{sum(len(p) for p in plans.values())} env(s) on {len(plans)} host(s); "
                f"{len(fleet.specs)} distinct stack(s), {solves} solved, "
                f"{sum(1 for o in outcomes.values() if o.status == 'reused')} reused, "
                f"{len(fallback)} without a lock"
            ),
        )
        return result
