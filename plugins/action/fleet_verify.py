"""Action plugin arcgis_conda.fleet.fleet_verify: every role's checks on a workstation, in one module call.

One read-only ``host_read`` call (module_utils/fleet_host.py) runs what the plan's verify spec lists (each
Miniconda's ``conda --version``, each ArcGIS Python, each env's version check, each bridged Python with
the seed's checks) and reads back the files that must be there; every role's own judge
(``Role.judge``, through module_utils/fleet_flow.py) then decides on the controller. Fails naming every
problem and its fix.
Documentation: plugins/modules/fleet_verify.py.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_flow as ff
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.registry import ROLES

ARGUMENT_SPEC: dict[str, Any] = {
    "verify": {"type": "dict", "required": True},
    "judge": {"type": "dict", "required": True},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        _spec, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = str((task_vars or {}).get("inventory_hostname", "this host"))
        reads = [
            fh.Read(r["path"], r.get("kind", "file"), bool(r.get("content"))) for r in args["verify"]["reads"]
        ]
        runs = list(args["verify"].get("runs") or [])
        if not reads and not runs:
            result.update(changed=False, msg=f"{host}: nothing to verify", verified={}, module_calls=0)
            return result
        answer = self._execute_module(
            module_name="ansible.windows.win_powershell",
            module_args=fh.host_read_params(reads, runs),
            task_vars=task_vars,
        )
        if answer.get("failed"):
            raise AnsibleActionFail(f"{host}: the verify read failed: {fh.module_error(answer)}")
        snapshot = fh.Snapshot(answer.get("result") or {})
        problems = ff.judge_host(ROLES, host, args["judge"], snapshot)
        flat = [p for role in problems.values() for p in role]
        verified = ff.verified_roles(args["judge"], args["verify"].get("by_role") or {}, problems)
        result.update(
            changed=False,
            module_calls=1,
            problems=problems,
            verified=verified,
            msg=f"{host}: verified {len(runs)} run(s) and {len(reads)} file(s)"
            + (f"; {len(flat)} problem(s)" if flat else ": all good"),
        )
        if flat:
            result["failed"] = True
            result["msg"] = "; ".join(flat)
        return result
