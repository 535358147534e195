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
from pathlib import Path
from typing import Any

from ansible.template import Templar
from ansible_collections.arcgis_conda.fleet.plugins.action import arcgis_facts
from ansible_collections.arcgis_conda.fleet.plugins.action.fleet_plan import ROLE_PREFIXES, RoleArgs
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_discovery as discovery
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_flow as ff
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_plan as mp
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_plan import WATCHED_ENV
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import Read, Snapshot

MANIFEST_DEFAULT = "C:\\ProgramData\\arcgis-conda\\doi_cert-state.json"
ROOT = Path(__file__).resolve().parents[2]


def python_prefix(install: discovery.Install) -> str | None:
    return ntpath.dirname(install.python_exe) if install.python_exe else None


def merge_answers(answers: list[dict[str, Any]], os_64bit: bool) -> dict[str, Any]:
    """The snapshot of both calls as one ``host_read``-shaped answer (runs left out: they are facts)."""
    merged: dict[str, Any] = {"reads": [], "env": {}, "store": {}, "profiles": [], "session": {}}
    for answer in answers:
        merged["reads"] += list(answer.get("reads") or [])
        merged["session"] = dict(answer.get("session") or merged["session"])
        merged["env"].update(answer.get("env") or {})
        merged["store"].update(answer.get("store") or {})
        merged["profiles"] = list(answer.get("profiles") or merged["profiles"])
    merged["os_bits"] = 64 if os_64bit else 32
    return merged


class ActionModule(arcgis_facts.ActionModule):
    """Observe a workstation for the fleet flow: the probe plus every role's current state."""

    _secret = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        if self._secret:
            result["_ansible_no_log"] = True
        return result

    def _args(
        self, role: str, installs: list[dict[str, Any]], published: dict[str, Any]
    ) -> dict[str, Any] | None:
        """A role's planner arguments here, or None when bad (the plan names the variable)."""
        try:
            return self._role_args(role, self._variables, installs, published)
        except (ff.HostPlanError, ValueError, KeyError, TypeError):
            return None

    def _first_read(self, task_vars: dict[str, Any] | None) -> dict[str, Any]:
        task_vars = task_vars or {}
        self._variables = {k: v for k, v in task_vars.items() if k.startswith(ROLE_PREFIXES)}
        for name in ("playbook_dir", "inventory_dir", "inventory_hostname", "group_names", "groups"):
            if name in task_vars:
                self._variables[name] = task_vars[name]
        # Built once for both calls: it loads every role's defaults, planner wiring and argument specs.
        self._role_args = RoleArgs(Templar(loader=self._loader, variables=task_vars), task_vars.get("omit"))
        doi = self._args("doi_cert", [], {"miniconda_installs": []})
        manifest = (doi or {}).get("plan", {}).get("manifest_path") or MANIFEST_DEFAULT
        self.__manifest = manifest
        return {
            "arcgis": True,
            "profiles": True,
            "session": True,
            "env_names": list(WATCHED_ENV),
            "reads": [Read(manifest, content=True)],
        }

    def _second_read(
        self, task_vars: dict[str, Any] | None, installs: list[discovery.Install], first: dict[str, Any]
    ) -> dict[str, Any]:
        facts = discovery.build_facts(installs, {}, [])
        reads: list[Read] = []
        mini = self._args("miniconda", facts, {})
        prefixes: list[str] = []
        # The system condarc read back holds the proxy's password when it has one: hide this task's result.
        self._secret = bool(mini and mp.proxy_has_credentials(mini.get("proxy") or None))
        if mini is not None:
            reads += ff.miniconda_reads(mini)
            try:
                prefixes = list(mp.resolve_prefixes(mp.inputs_from_args(mini).prefixes)[0].values())
            except mp.PlanError:
                prefixes = []
        # Every Miniconda prefix may hold a conda that reads condarc.d, as may Pro's own conda root.
        readers = [{"flavour": ntpath.basename(p), "prefix": p} for p in prefixes]
        pro_roots = [i.pro_conda_root for i in installs if i.pro_conda_root]
        doi = self._args("doi_cert", facts, {"miniconda_installs": readers})
        thumbprints: list[str] = []
        if doi is not None:
            manifest = Snapshot(first).text(self.__manifest) if self.__manifest else None
            host = str((task_vars or {}).get("inventory_hostname"))
            reads += ff.doi_cert_reads(doi["plan"], host, manifest, first.get("profiles") or [])
            # The organisation roots' and an earlier run's Root-store entries: the plan imports or removes.
            thumbprints = ff.doi_cert_thumbprints(doi, manifest, ff.lock_reader(ROOT))
        env = self._args("arcgis_env", facts, {"miniconda_installs": readers})
        env_roots = [ntpath.join(p, "envs") for p in prefixes]
        if env is not None:
            reads += ff.arcgis_env_reads(env, prefixes, pro_roots)
            env_roots.append(str(env["settings"].get("prefix_root") or ""))
        bridge = self._args("startup_bridge", facts, {"arcgis_env_envs": []})
        if bridge is not None:
            pythons = [p for p in (python_prefix(i) for i in installs) if p]
            reads += ff.startup_bridge_reads(
                bridge, pythons, [r for r in env_roots if r], first.get("profiles") or []
            )
        return {"reads": reads, "thumbprints": thumbprints}

    def _facts(self, facts: list[dict[str, Any]], answers: list[dict[str, Any]], dump: Any) -> dict[str, Any]:
        observed = merge_answers(answers, bool(dump.os_64bit))
        observed["session"]["connection"] = self._connection.transport  # which WinRM memory quota applies
        return {"arcgis": facts, "arcgis_conda_observed": observed}
