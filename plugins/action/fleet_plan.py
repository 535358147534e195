"""Action plugin arcgis_conda.fleet.fleet_plan: what every role would do on every host, offline.

Runs on the controller only. For each host of a group it takes the probe's facts from the fact cache
(or the inventory's ``fleet_arcgis_releases``), gives each role the same arguments the role's own plan
task would (read from ``roles/<role>/tasks/plan.yml`` and templated with the role's defaults and the
host's variables), runs the role's pure planning code, and writes a report per lab.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.template import Templar, trust_as_template
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_plan as fp
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_report import (
    Column,
    lab_of,
    write_lab_reports,
)

ROOT = Path(__file__).resolve().parents[2]
ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "group": {"type": "str", "default": "windows_workstations"},
    "report_dir": {"type": "path", "default": "reports/plan"},
    "lock": {"type": "bool", "default": False},
    "lock_dir": {"type": "path", "default": ".cache/locks"},
    "cache_dir": {"type": "path", "default": ".cache/rattler"},
    "channel_mirrors": {"type": "dict", "default": {}},
    "timeout": {"type": "float", "default": 10.0},
}
COLUMNS = (
    Column("host", "Host"),
    Column("status", "Status"),
    Column("source", "ArcGIS from"),
    Column("arcgis", "ArcGIS installs (python, numpy, matplotlib, scipy)"),
    Column("miniconda", "Miniconda"),
    Column("doi_cert", "Trusted root CAs"),
    Column("arcgis_env", "Conda envs (pins, stack)"),
    Column("startup_bridge", "Startup bridge"),
    Column("error", "Problem"),
)
ROLE_PREFIXES = ("miniconda_", "startup_bridge_", "doi_cert_", "arcgis_env_")
# A role's runner: (host, its templated plan arguments, context) -> (report lines, published variables).
RoleRunner = Callable[[str, dict[str, Any], dict[str, Any]], tuple[list[str], dict[str, Any]]]


def trusted(data: Any) -> Any:
    """Mark the strings of our own role files as templates, as Ansible does when it loads a role."""
    if isinstance(data, dict):
        return {k: trusted(v) for k, v in data.items()}
    if isinstance(data, list):
        return [trusted(v) for v in data]
    return trust_as_template(data) if isinstance(data, str) else data


def plan_task_args(role: str, action: str) -> dict[str, Any]:
    """The arguments the role's own task passes to its controller-side action (templates, untemplated)."""
    for path in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")):
        for task in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            if isinstance(task, dict) and action in task:
                return trusted(dict(task[action]))
    raise AnsibleActionFail(f"roles/{role}/tasks/ has no {action} task")


def role_defaults(role: str) -> dict[str, Any]:
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    return trusted(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def validated(spec: Mapping[str, Any], args: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Apply the plan action's own argument spec, as Ansible would before running it."""
    result = ArgumentSpecValidator(dict(spec)).validate(dict(args))
    if result.error_messages:
        raise ValueError(f"{where}: " + "; ".join(result.error_messages))
    return result.validated_parameters


def run_miniconda(host: str, args: dict[str, Any], _ctx: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    from ansible_collections.arcgis_conda.fleet.plugins.action.miniconda_plan import (
        ARGUMENT_SPEC as SPEC,
    )
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.miniconda_plan import (
        build_plan,
        inputs_from_args,
    )

    plan = build_plan(inputs_from_args(validated(SPEC, args, "miniconda")), os_bits=None)
    lines = [i["label"] + f" (installer {i['installer']['file']})" for i in plan["installs"]]
    if plan["condarc"].get("manage"):
        lines.append(f"manage {plan['condarc']['path']}")
    return lines + [f"warning: {w}" for w in plan["warnings"]], {"miniconda_installs": plan["published"]}


def run_startup_bridge(
    host: str, args: dict[str, Any], ctx: dict[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    from ansible_collections.arcgis_conda.fleet.plugins.action.startup_bridge_plan import (
        ARGUMENT_SPEC as SPEC,
    )
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.startup_bridge_plan import (
        plan_for_host,
    )

    params = validated(SPEC, args, "startup_bridge")
    if ctx["source"] != "probe":
        return [f"scope {params['scope']}: files are placed once the probe has measured each Python"], {}
    plan = plan_for_host(
        params["arcgis"] or [],
        params["envs"] or [],
        scope=params["scope"],
        state=params["state"],
        users=params["users"],
        default_profile=params["default_profile"],
        profiles_dir=params["profiles_dir"],
        verify_arcpy=params["verify_arcpy"],
        # Offline: profile folders and existing files are only known on the host.
        list_dirs=lambda _folder: [],
        checksums=lambda _files: {},
    ).as_dict()
    files = [c["dest"] for c in plan.get("copies", [])] + [c["dest"] for c in plan.get("contents", [])]
    skipped = [f"skipped: {s.get('what', s)}: {s.get('why', '')}" for s in plan.get("skipped", [])]
    return [f"scope {params['scope']}", *files, *skipped], {}


def run_doi_cert(host: str, args: dict[str, Any], _ctx: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    import datetime as dt

    from ansible_collections.arcgis_conda.fleet.plugins.action.doi_cert_bundle import (
        ARGUMENT_SPEC as SPEC,
    )
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_bundle import bundle_from_args

    def read(path: str, _what: str) -> bytes:
        found = Path(path)
        return (found if found.is_absolute() else ROOT / found).read_bytes()

    params = validated(SPEC, args, "doi_cert")
    bundle = bundle_from_args(params, read, dt.datetime.now(dt.UTC)).as_dict()
    roots = [
        f"trust {r['subject']} (sha256 {r['sha256'][:16]}..., until {r['not_after']})"
        for r in bundle["certificates"]
    ]
    summary = f"bundle: {bundle['public_roots_count']} public + {len(roots)} organisation roots"
    return [*roots, summary, *(f"warning: {w}" for w in bundle["warnings"])], {}


def run_arcgis_env(host: str, args: dict[str, Any], ctx: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    from ansible_collections.arcgis_conda.fleet.plugins.action.arcgis_env_lock import (
        ARGUMENT_SPEC as SPEC,
    )
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_host import published_envs
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_spec import (
        EnvSettings,
        plan_host,
    )

    params = validated(SPEC, args, "arcgis_env")
    settings = EnvSettings.from_mapping(params["settings"])
    conda_installs = ctx["variables"].get("miniconda_installs") or []
    facts, lines = [], []
    for install in ctx["installs"]:
        if install.get("status") == "declared":
            # A declared release is planned from the release table; a pin it cannot source stays unknown.
            unknown = [p for p in fp.STACK_PACKAGES if p in (install.get("unverified") or [])]
            if unknown:
                lines.append(
                    f"skipped: {install['id']}: {', '.join(unknown)} unknown for this release (unverified in "
                    "the release table); probe the host (playbooks/probe.yml) to measure them"
                )
                continue
            install = {**install, "status": "ok"}
        facts.append(install)
    planned, skipped = plan_host(host, facts, conda_installs, settings)
    for plan, spec in planned:
        pins = " ".join(f"{n}=={v}" for n, v in plan.pins.items())
        lines.append(f"{plan.name} ({plan.kind}, {plan.platform}, python {plan.python_major_minor}): {pins}")
        if spec is not None:
            ctx["specs"].setdefault(spec.key, spec)
            ctx["who"].setdefault(spec.key, set()).add(f"ArcGIS {plan.product} {plan.version}")
            lines.append(f"  stack {spec.key}: {' '.join(spec.match_specs)}")
    envs = published_envs([plan.to_dict() for plan, _ in planned])
    return lines + [f"skipped: {s}" for s in skipped], {"arcgis_env_envs": envs}


# Role name -> (its controller-side action, the pure planner). Order = site.yml's order.
ROLES: dict[str, tuple[str, RoleRunner]] = {
    "miniconda": ("arcgis_conda.fleet.miniconda_plan", run_miniconda),
    "doi_cert": ("arcgis_conda.fleet.doi_cert_bundle", run_doi_cert),
    "arcgis_env": ("arcgis_conda.fleet.arcgis_env_lock", run_arcgis_env),
    "startup_bridge": ("arcgis_conda.fleet.startup_bridge_plan", run_startup_bridge),
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result = super().run(tmp, task_vars)
        started = time.perf_counter()
        hosts = sorted(task_vars.get("groups", {}).get(args["group"], []))
        if not hosts:
            raise AnsibleActionFail(
                f"group {args['group']!r} has no hosts in this inventory. Fix: pass -i inventory/<agency> "
                "or set fleet_plan_group to the group holding your workstations."
            )
        templates = {role: plan_task_args(role, action) for role, (action, _) in ROLES.items()}
        defaults: dict[str, Any] = {}
        for role in ROLES:
            defaults.update(role_defaults(role))
        # Hosts with the same installs and role variables (a lab, usually) get the same plan: plan each
        # distinct input once. Our planners never see the host name, so the memo cannot mix hosts up.
        memo: dict[str, tuple[list[str], dict[str, Any]] | ValueError] = {}
        fleet: dict[str, Any] = {"specs": {}, "who": {}}  # distinct conda stacks, and who needs each
        templar = Templar(loader=self._loader)
        omit = task_vars.get("omit")
        planners = {
            role: self._planner(role, runner, templates[role], defaults, templar, omit, memo, fleet)
            for role, (_action, runner) in ROLES.items()
        }
        hostvars = task_vars["hostvars"]
        rows = [fp.plan_host(self._host_input(h, hostvars[h]), planners) for h in hosts]
        distinct = len(memo)
        reports = write_lab_reports(Path(args["report_dir"]), "arcgis-conda fleet plan", rows, COLUMNS)
        summary = fp.summarize(rows)
        summary["seconds"] = round(time.perf_counter() - started, 2)
        summary["distinct_plans"] = distinct
        summary["distinct_stacks"] = len(fleet["specs"])
        if args["lock"] and fleet["specs"]:
            summary["locks"] = self._lock(fleet, args)
        summary["reports"] = [r.files["html"] for r in reports]
        result.update(changed=False, summary=summary, hosts=rows, msg=self._message(summary))
        return result

    @staticmethod
    def _host_input(host: str, hostvars: Any) -> fp.HostInput:
        facts = (hostvars.get("ansible_facts") or {}).get("arcgis")
        return fp.HostInput(
            host=host,
            lab=lab_of(hostvars.get("group_names", [])),
            facts=list(facts) if isinstance(facts, list) else None,
            declared=list(hostvars.get("fleet_arcgis_releases") or []),
            variables={k: hostvars[k] for k in hostvars if k.startswith(ROLE_PREFIXES)},
        )

    @staticmethod
    def _planner(
        role: str,
        runner: RoleRunner,
        template: dict[str, Any],
        defaults: dict[str, Any],
        templar: Templar,
        omit: Any,
        memo: dict[str, tuple[list[str], dict[str, Any]] | ValueError],
        fleet: dict[str, Any],
    ) -> fp.Planner:
        def planner(
            host: str, installs: list[dict[str, Any]], variables: Mapping[str, Any]
        ) -> tuple[list[str], dict[str, Any]]:
            source = "probe" if all(i.get("status") != "declared" for i in installs) else "declared"
            key = json.dumps([role, source, installs, variables], sort_keys=True, default=repr)
            if key not in memo:
                templar.available_variables = {
                    **defaults,
                    **variables,
                    "ansible_facts": {"arcgis": installs},
                    "omit": omit,
                }
                try:
                    args = templar.template(template)
                    args = {k: v for k, v in args.items() if v != omit}
                    ctx = {"source": source, "installs": installs, "variables": variables, **fleet}
                    memo[key] = runner(host, args, ctx)
                except AnsibleError as exc:
                    memo[key] = ValueError(f"cannot template the {role} plan arguments: {exc}")
                except ValueError as exc:
                    memo[key] = exc
            found = memo[key]
            if isinstance(found, ValueError):
                raise found
            return found

        return planner

    @staticmethod
    def _lock(fleet: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        """Lock each distinct conda stack once, exactly as the arcgis_env role's lock step does."""
        from ansible_collections.arcgis_conda.fleet.plugins.action.arcgis_env_lock import project_path
        from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_lock import (
            Locker,
            UnsatisfiableError,
            lock_fleet,
        )

        locker = Locker(project_path(args["cache_dir"]), args["channel_mirrors"], args["timeout"])
        try:
            outcomes = lock_fleet(fleet["specs"], fleet["who"], project_path(args["lock_dir"]), locker)
        except UnsatisfiableError as exc:
            raise AnsibleActionFail(f"fleet_plan: {exc}") from exc
        finally:
            locker.close()
        return {
            key: {"status": o.status, "path": o.path, "message": o.message, "solves": locker.solves}
            for key, o in outcomes.items()
        }

    @staticmethod
    def _message(summary: dict[str, Any]) -> str:
        labs = "; ".join(
            f"{lab}: " + ", ".join(f"{n} {status}" for status, n in counts.items())
            for lab, counts in summary["labs"].items()
        )
        locks = summary.get("locks") or {}
        locked = f", {sum(1 for v in locks.values() if v['status'] != 'fallback')} locked" if locks else ""
        return (
            f"planned {summary['hosts']} hosts in {summary['seconds']} s ({labs}); "
            f"{summary['distinct_stacks']} distinct conda stack(s){locked}; reports: "
            + ", ".join(summary["reports"])
        )
