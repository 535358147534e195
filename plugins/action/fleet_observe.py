"""Action plugin arcgis_conda.fleet.fleet_observe: read everything every role needs, in two module calls.

It is the probe (``arcgis_facts``: ArcGIS installs and their Pythons) whose two ``host_read`` calls also
read the state of everything the roles manage: call 1 adds the profiles, machine environment variables
and the previous doi_cert record; call 2 adds each role's files, folders and envs (paths from the roles'
own variables, their owners and ACLs, hashes, the content of small configuration files). The answers
become ``ansible_facts.arcgis`` and ``ansible_facts.arcgis_conda_observed`` (a snapshot the
``fleet_plan`` action plans against, and the fact cache keeps for offline plans). Read-only: check mode
gives the same answer. Documentation: plugins/modules/fleet_observe.py.
"""

from __future__ import annotations

import ntpath
from collections.abc import Mapping
from typing import Any

from ansible.template import Templar
from ansible_collections.arcgis_conda.fleet.plugins.action import arcgis_facts
from ansible_collections.arcgis_conda.fleet.plugins.action.fleet_plan import ROLE_PREFIXES, RoleArgs
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_discovery as discovery
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_flow as ff
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import Snapshot, pack_observed
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import (
    ROOT,
    HostPlanError,
    ObserveContext,
    Role,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.registry import ROLES


def merge_answers(answers: list[dict[str, Any]], os_64bit: bool) -> dict[str, Any]:
    """The snapshot of both calls as one ``host_read``-shaped answer (runs left out: they are facts)."""
    merged: dict[str, Any] = {"reads": [], "env": {}, "store": {}, "profiles": [], "session": {}}
    for answer in answers:
        merged["reads"] += list(answer.get("reads") or [])
        merged["session"] = dict(answer.get("session") or merged["session"])
        merged["env"].update(answer.get("env") or {})
        merged["store"].update(answer.get("store") or {})
        merged["profiles"] = list(answer.get("profiles") or merged["profiles"])
        # The offline hives the second call loaded for a role (load_hives), into the first call's profiles.
        read = {str(h.get("sid")).lower(): h for h in answer.get("user_hives") or []}
        merged["profiles"] = [
            {
                **p,
                **{k: read[str(p.get("sid")).lower()].get(k) for k in ("appdata", "hive_error", "hive_read")},
            }
            if str(p.get("sid")).lower() in read
            else p
            for p in merged["profiles"]
        ]
    merged["os_bits"] = 64 if os_64bit else 32
    return merged


class ActionModule(arcgis_facts.ActionModule):
    """Observe a workstation for the fleet flow: the probe plus every role's current state."""

    _secret = False
    _bad_input = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        if self._secret:
            result["_ansible_no_log"] = True
        return result

    def _args(
        self, role: Role, installs: list[dict[str, Any]], published: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """A role's planner arguments here, or None when bad (the plan names the variable)."""
        try:
            return self._role_args(role, self._variables, installs, dict(published))
        except HostPlanError:
            return None

    def _first_read(self, task_vars: dict[str, Any] | None) -> dict[str, Any]:
        task_vars = task_vars or {}
        self._variables = {k: v for k, v in task_vars.items() if k.startswith(ROLE_PREFIXES)}
        for name in ("playbook_dir", "inventory_dir", "inventory_hostname", "group_names", "groups"):
            if name in task_vars:
                self._variables[name] = task_vars[name]
        # Built once for both calls: it loads every role's defaults, planner wiring and argument specs.
        self._role_args = RoleArgs(Templar(loader=self._loader, variables=task_vars), task_vars.get("omit"))
        # Bad input stops the host before any change, the securing of ArcGIS's Python included.
        errors, _warnings = self._role_args.check_public(self._variables, [])
        self._bad_input = bool(errors) or any(self._args(role, [], {}) is None for role in ROLES)
        return {
            "arcgis": True,
            "profiles": True,
            "session": True,
            "reads": ff.first_reads(ROLES, lambda role: self._args(role, [], {})),
        }

    def _hold_changes(self) -> str:
        return "this host's inputs are bad (the plan names them)" if self._bad_input else ""

    def _second_read(
        self, task_vars: dict[str, Any] | None, installs: list[discovery.Install], first: dict[str, Any]
    ) -> dict[str, Any]:
        octx = ObserveContext(
            host=str((task_vars or {}).get("inventory_hostname")),
            facts=discovery.build_facts(installs, {}, []),
            first=Snapshot(first),
            python_prefixes=[ntpath.dirname(i.python_exe) for i in installs if i.python_exe],
            pro_conda_roots=[i.pro_conda_root for i in installs if i.pro_conda_root],
            read_file=ff.lock_reader(ROOT),
        )
        seen = ff.observation(ROLES, octx, lambda role, published: self._args(role, octx.facts, published))
        self._secret = seen.secret
        return {
            "reads": seen.reads,
            "thumbprints": seen.thumbprints,
            "env_names": seen.env_names,
            "load_hives": seen.hives,
        }

    def _facts(self, facts: list[dict[str, Any]], answers: list[dict[str, Any]], dump: Any) -> dict[str, Any]:
        merged = merge_answers(answers, bool(dump.os_64bit))
        # What the fact cache keeps, and Ansible copies for every later task: each path once, ACLs as a table.
        observed = {**Snapshot(merged).to_raw(compact=True), "os_bits": merged["os_bits"]}
        observed["session"]["connection"] = self._connection.transport  # which WinRM memory quota applies
        return {"arcgis": facts, "arcgis_conda_observed": pack_observed(observed)}
