"""Action plugin arcgis_conda.fleet.fleet_files: apply a role's planned file changes in one module call.

The changes come from ``fleet_plan`` (``step: files``): mkdir, write, copy, delete, rmdir_empty, secure.
They are sent as one ``apply_files`` script (module_utils/fleet_host.py) through
ansible.windows.win_powershell, so a role's small files cost one WinRM round trip, not one each. Never
contacts the host in check mode: the plan is the prediction. Each written configuration file's
before/after comes from the plan (``diff``, against what observe read) and is returned as Ansible's diff
callback shows it with ``--diff``, in check mode and in the apply; a secret file never has one.
Documentation: plugins/modules/fleet_files.py.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh

ARGUMENT_SPEC: dict[str, Any] = {"changes": {"type": "list", "elements": "dict", "required": True}}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        _spec, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = (task_vars or {}).get("inventory_hostname", "this host")
        items = []
        for change in args["changes"]:
            item = change.get("item") or {}
            if item.get("op") not in fh.FILE_OPS:
                raise AnsibleActionFail(f"{host}: fleet_files: {change!r} is not a planned file change")
            items.append(item)
        diffs = [
            c["diff"] for c in args["changes"] if isinstance(c.get("diff"), dict) and not c.get("secret")
        ]
        if diffs:
            result["diff"] = diffs
        if self._task.check_mode:
            result.update(
                changed=bool(items),
                skipped=False,
                module_calls=0,
                msg=f"{len(items)} file change(s) would be applied",
            )
            return result
        answer = self._execute_module(
            module_name="ansible.windows.win_powershell",
            module_args={"script": fh.APPLY_FILES_SCRIPT, "parameters": {"Items": items}, "depth": 4},
            task_vars=task_vars,
        )
        done = (answer.get("result") or {}).get("applied") or []
        result["module_calls"] = 1
        if answer.get("failed"):
            raise AnsibleActionFail(
                f"{host}: {fh.module_error(answer)} ({len(done)} of {len(items)} file change(s) applied "
                "before it). Fix the cause and run again: the plan only redoes what is still missing."
            )
        result.update(
            module_calls=1,
            changed=any(bool(d.get("changed")) for d in done),
            applied=[
                {k: d.get(k) for k in ("op", "path", "changed", "backup_file", "skipped", "moved")}
                for d in done
            ],
            msg=f"{sum(1 for d in done if d.get('changed'))} of {len(items)} file change(s) applied",
        )
        skipped = skipped_warnings(host, done)
        if skipped:
            result["warnings"] = skipped
        return result


def skipped_warnings(host: str, done: list[dict[str, Any]]) -> list[str]:
    """One warning per item the host skipped inside a tree it secured (a junction, an item it could not
    list, move aside or change, each icacls failure), with its reason and the fix, and one per item no
    administrator owned, moved aside."""
    warnings = []
    for d in done:
        failed = [*(d.get("skipped") or [])]
        for command in d.get("commands") or []:
            failed += fh.icacls_failures(command)
        warnings += [
            f"{host}: {d.get('op')} {d.get('path')}: skipped {s.get('path')} ({s.get('why')}). It keeps its "
            "own owner and ACL: inspect it, take ownership (takeown /f <path> /r) or delete it, and run "
            "again; playbooks/audit.yml lists what stays writable."
            for s in failed
        ]
        warnings += [
            f"{host}: {d.get('op')} {d.get('path')}: {m.get('path')} was owned by {m.get('owner')}, not an "
            f"administrator: moved aside to {m.get('aside')}, never trusted. Inspect it, then delete it."
            for m in d.get("moved") or []
        ]
    return warnings
