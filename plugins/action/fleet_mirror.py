"""Action plugin arcgis_conda.fleet.fleet_mirror: the fleet's exact-subset conda mirror, on the controller.

Plans every host of a group offline with locking on (the planning path of ``fleet_plan``; with
``fleet_package_mirror`` set, every lock already names the mirror's URLs), then hands the locks and the
chosen installers to ``module_utils/fleet_mirror.py``, which downloads each needed file once, verifies it
and indexes each channel with py-rattler. Documentation: plugins/modules/fleet_mirror.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible.template import Templar
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_state as fs
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import package_sources as ps
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_flow import project_path

try:  # py-rattler solves, reads repodata and indexes; pinned in requirements.txt
    import rattler  # noqa: F401  # pylint: disable=unused-import

    HAS_RATTLER = True
except ImportError:
    HAS_RATTLER = False

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "group": {"type": "str", "default": "windows_workstations"},
    "hosts": {"type": "list", "elements": "str"},
    "dest": {"type": "path", "required": True},
    "variables": {"type": "dict", "default": {}},
    # Unset: <state>/.cache/locks and <state>/.cache/rattler (module_utils/fleet_state.py), as site.yml's.
    "lock_dir": {"type": "path"},
    "cache_dir": {"type": "path"},
    "channel_mirrors": {"type": "dict", "default": {}},
    "timeout": {"type": "float", "default": 60.0},
    "ca_file": {"type": "path"},
    "prune": {"type": "bool", "default": True},
}
# Anaconda's Windows default channels, as the miniconda role's condarc names them (miniconda_plan.py).
CONDARC_ANACONDA = ("pkgs/main", "pkgs/free", "pkgs/r", "pkgs/msys2")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result = super().run(tmp, task_vars)
        state = fs.state_dir(task_vars.get(fs.STATE_VARIABLE), C.CONFIG_FILE)
        args["lock_dir"] = args["lock_dir"] or str(fs.locks_dir(state))
        args["cache_dir"] = args["cache_dir"] or str(fs.solver_dir(state))
        if not HAS_RATTLER:
            raise AnsibleActionFail(
                "fleet_mirror needs py-rattler on the controller. Fix: run `make setup` (it is pinned in "
                "requirements.txt)."
            )
        from ansible_collections.arcgis_conda.fleet.plugins.action.fleet_plan import (
            ARGUMENT_SPEC as PLAN_SPEC,
        )
        from ansible_collections.arcgis_conda.fleet.plugins.action.fleet_plan import (
            ActionModule as PlanAction,
        )
        from ansible_collections.arcgis_conda.fleet.plugins.action.fleet_plan import RoleArgs
        from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_flow as ff
        from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_mirror as fm
        from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_lock import Locker
        from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import (
            ROOT,
            Fleet,
            FleetError,
        )
        from ansible_collections.arcgis_conda.fleet.plugins.module_utils.registry import ROLES

        hosts = (
            list(args["hosts"]) if args["hosts"] is not None else sorted(task_vars["groups"][args["group"]])
        )
        if not hosts:
            raise AnsibleActionFail(f"group {args['group']!r} has no hosts: nothing to mirror")
        plan_args = {k: v.get("default") for k, v in PLAN_SPEC.items()}
        plan_args.update(
            mode="offline",
            lock=True,
            lock_dir=args["lock_dir"],
            cache_dir=args["cache_dir"],
            channel_mirrors=args["channel_mirrors"],
            timeout=args["timeout"],
        )
        role_args = RoleArgs(Templar(loader=self._loader), task_vars.get("omit"))
        fleet = Fleet(
            live=False,
            options=plan_args,
            read_file=ff.lock_reader(ROOT),
            project_path=lambda path: project_path(path, C.CONFIG_FILE),
            warn=self._display.warning,
            lock=True,
        )
        names = [role.name for role in ROLES]
        planner = ff.FleetPlanner(ROLES, names, role_args, role_args.check_public, fleet)
        # The hosts' variables as the plan reads them (every source Ansible has at this task).
        reader = PlanAction(
            self._task,
            self._connection,
            self._play_context,
            self._loader,
            self._templar,
            self._shared_loader_obj,
        )
        reader._defaults = role_args.defaults
        inputs = [reader._host_input(h, task_vars["hostvars"], task_vars) for h in hosts]
        for item in inputs:
            item.variables.update(args["variables"])
        try:
            plans = planner.plan(inputs)
        except FleetError as exc:
            raise AnsibleActionFail(f"fleet_plan: {exc}") from exc
        outcomes = fleet.summary.get("locks") or {}
        failed = {h: p["error"] for h, p in plans.items() if p["status"] == "failed"}
        if failed:
            raise AnsibleActionFail(
                f"{len(failed)} host(s) cannot be planned, so their packages cannot be mirrored: "
                + " | ".join(list(failed.values())[:3])
                + (f" (and {len(failed) - 3} more: see playbooks/plan.yml)" if len(failed) > 3 else "")
            )
        mirror = self._mirror(role_args, inputs)
        fallback = [o["message"] for o in outcomes.values() if o["status"] == "fallback"]
        if fallback:
            raise AnsibleActionFail("cannot lock, so cannot mirror: " + " | ".join(fallback))
        locks = {Path(o["path"]).name: Path(o["path"]).read_text() for o in outcomes.values()}
        given = args["channel_mirrors"]  # upstream channel -> the controller's copy of it
        try:
            wanted = fm.wanted_from_locks(locks, mirror, fleet.summary.get("controller_map") or {})
            installs = [
                i
                for p in plans.values()
                for i in ((p.get("judge") or {}).get("miniconda") or {}).get("plan", {}).get("installs") or []
            ]
            installers = fm.wanted_installers(installs)
            locker = Locker(project_path(args["cache_dir"], C.CONFIG_FILE), given, args["timeout"])
            try:
                wanted = fm.with_repodata(wanted, fm.repodata_lookup(locker))
            finally:
                locker.close()
        except (fm.MirrorError, ValueError, OSError) as exc:
            raise AnsibleActionFail(f"fleet_mirror: {exc}") from exc
        fetch_upstream = fm.url_fetcher(args["timeout"], args["ca_file"])

        def fetch(url: str) -> bytes:
            return fetch_upstream(ps.upstream_url(url, given))

        channels = {ps.channel_path(u) for u in (fleet.summary.get("controller_map") or {}).values()}
        channels |= set(self._condarc_channels(role_args, inputs))
        todo = {**wanted, **installers}
        dest = project_path(args["dest"], C.CONFIG_FILE)
        if self._task.check_mode:
            missing = [rel for rel, w in todo.items() if not fm.verified(dest / rel, w)]
            result.update(
                changed=bool(missing), would_fetch=sorted(missing), msg=f"would fetch {len(missing)}"
            )
            return result
        built = fm.build_mirror(dest, todo, fetch, sorted(channels), prune=args["prune"])
        summary = built.to_dict()
        summary.update(mirror=mirror, dest=str(dest), locks=sorted(locks), installers=sorted(installers))
        result.update(changed=bool(built.fetched or built.removed), mirror=summary)
        result["msg"] = (
            f"mirror {dest} (hosts read {mirror}): fetched {summary['fetched']} file(s), "
            f"{summary['fetched_bytes']} bytes; kept {summary['kept']}; {summary['files']} files, "
            f"{summary['size']} bytes in {len(built.channels)} channel(s), {summary['seconds']} s"
        )
        if built.refused:
            result.update(failed=True, msg=result["msg"] + "; REFUSED: " + " | ".join(built.refused))
        return result

    @staticmethod
    def _value(role_args: Any, item: Any, name: str) -> Any:
        role_args.templar.available_variables = {**role_args.defaults, **item.variables}
        try:
            return role_args.templar.template(item.variables.get(name, role_args.defaults.get(name)))
        except AnsibleError as exc:
            raise AnsibleActionFail(f"{item.host}: cannot template {name}: {exc}") from exc

    def _mirror(self, role_args: Any, inputs: list[Any]) -> str:
        """The one mirror every host reads (fleet_package_mirror), as a channel URL."""
        found: dict[str, list[str]] = {}
        for item in inputs:
            try:
                url = ps.mirror_url(self._value(role_args, item, "fleet_package_mirror"))
            except ps.SourceError as exc:
                raise AnsibleActionFail(f"{item.host}: {exc}") from exc
            found.setdefault(url, []).append(item.host)
        if "" in found:
            raise AnsibleActionFail(
                f"fleet_package_mirror is empty for {', '.join(found[''][:5])}"
                f"{' ...' if len(found['']) > 5 else ''}. Fix: set it (group_vars/windows_workstations) to "
                "where the hosts will read the mirror, e.g. https://conda-mirror.agency.example/conda or "
                "\\\\fileserver\\conda-mirror, then run playbooks/mirror.yml again."
            )
        if len(found) > 1:
            raise AnsibleActionFail(
                "the hosts name different mirrors ("
                + "; ".join(f"{m}: {len(h)} host(s)" for m, h in found.items())
                + "). Fix: run playbooks/mirror.yml once per mirror, with --limit to its hosts."
            )
        return next(iter(found))

    def _condarc_channels(self, role_args: Any, inputs: list[Any]) -> list[str]:
        """Channels the hosts' condarc names on the mirror: they must exist there, even empty."""
        out: set[str] = set()
        for item in inputs:
            if str(self._value(role_args, item, "fleet_anaconda_channels")) == "not_licensed":
                out.add(ps.channel_path(str(self._value(role_args, item, "fleet_conda_forge_channel"))))
            else:
                out.update(CONDARC_ANACONDA)
        return sorted(out)
