"""Action plugin arcgis_conda.fleet.startup_bridge_plan: decide the startup bridge's files for one host.

It reads only what the plan cannot know from the facts (which profile folders exist; in scope user,
the sha1 of any usercustomize.py and backup already in the target folders, through
ansible.windows.win_find) and hands everything to the pure functions in
module_utils/startup_bridge_plan.py. It changes nothing on the host.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.startup_bridge_plan import (
    PlanError,
    plan_for_host,
)

ARGUMENT_SPEC: dict[str, Any] = {
    "arcgis": {"type": "list", "elements": "dict", "required": True},
    "envs": {"type": "list", "elements": "dict", "default": []},
    "scope": {"type": "str", "choices": ["machine", "user"], "default": "machine"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "users": {"type": "list", "elements": "str", "default": []},
    "default_profile": {"type": "bool", "default": True},
    "profiles_dir": {"type": "str", "default": "C:\\Users"},
    "verify_arcpy": {"type": "bool", "default": False},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def _win_find(self, task_vars: dict[str, Any], **args: Any) -> list[dict[str, Any]]:
        found = self._execute_module(
            module_name="ansible.windows.win_find", module_args=args, task_vars=task_vars
        )
        if found.get("failed"):
            raise AnsibleActionFail(
                f"{task_vars.get('inventory_hostname')}: cannot list {args.get('paths')}: {found.get('msg')}"
            )
        return found.get("files") or []

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = task_vars.get("inventory_hostname", "this host")

        def list_dirs(root: str) -> list[str]:
            # Default is a hidden folder; junctions such as "Default User" are listed too and never chosen.
            entries = self._win_find(
                task_vars, paths=[root], file_type="directory", hidden=True, get_checksum=False
            )
            return [str(entry["path"]) for entry in entries]

        def checksums(paths: list[str]) -> dict[str, str | None]:
            folders = sorted({path.rsplit("\\", 1)[0] for path in paths})
            names = sorted({path.rsplit("\\", 1)[1] for path in paths})
            entries = self._win_find(
                task_vars,
                paths=folders,
                patterns=names,
                hidden=True,
                get_checksum=True,
                checksum_algorithm="sha1",
            )
            wanted = {path.lower() for path in paths}
            return {str(e["path"]): e.get("checksum") for e in entries if str(e["path"]).lower() in wanted}

        try:
            plan = plan_for_host(
                args["arcgis"],
                args["envs"],
                scope=args["scope"],
                state=args["state"],
                users=args["users"],
                default_profile=args["default_profile"],
                profiles_dir=args["profiles_dir"],
                verify_arcpy=args["verify_arcpy"],
                list_dirs=list_dirs,
                checksums=checksums,
            )
        except PlanError as err:
            raise AnsibleActionFail(f"{host}: {err}") from err
        except (KeyError, TypeError, ValueError) as err:
            raise AnsibleActionFail(
                f"{host}: the arcgis facts or env records do not follow their contract ({err!r}); "
                "run arcgis_conda.fleet.arcgis_facts and the arcgis_env role first"
            ) from err

        result["changed"] = False
        result["plan"] = plan.as_dict()
        result["warnings"] = [f"startup_bridge leaves {s['what']} alone: {s['why']}" for s in plan.skipped]
        return result
