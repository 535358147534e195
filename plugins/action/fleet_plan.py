"""Action plugin arcgis_conda.fleet.fleet_plan: what every role does on every host, decided on the controller.

Two modes, one planning path (``module_utils/fleet_flow.py``):

- ``live`` (site.yml, ``run_once``): for each host of the play batch, the facts and snapshot the
  ``fleet_observe`` task just read; returns each host's exact change list, the verify spec and the
  variables the roles publish (``miniconda_installs``, ``arcgis_env_envs``). A host whose inputs are bad
  gets ``status: failed`` and its error; the other hosts are planned all the same.
- ``offline`` (playbooks/plan.yml): every host of a group, from the fact cache (facts and the last
  snapshot) or from the releases the inventory declares (``fleet_arcgis_releases``); writes a report per
  lab. A host never observed gets its desired state, and no change list.

Each role's planner arguments come from ``roles/<role>/vars/plan.yml``, templated with the role's
defaults and the host's variables, then validated with the role's action argument spec, so the live run
and the offline plan decide from the same inputs.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.template import Templar, trust_as_template
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_changes as fc
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_flow as ff
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_plan as fp
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import package_sources as ps
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import NotObserved, Snapshot
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_report import (
    Column,
    lab_of,
    write_lab_reports,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_specs import SPECS, project_path

ROOT = Path(__file__).resolve().parents[2]
ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "mode": {"type": "str", "default": "offline", "choices": ["offline", "live"]},
    "group": {"type": "str", "default": "windows_workstations"},
    "hosts": {"type": "list", "elements": "str"},
    "roles": {"type": "list", "elements": "str", "default": list(fc.ROLES), "choices": list(fc.ROLES)},
    "variables": {"type": "dict", "default": {}},
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
    Column("changes", "Changes (against the last observation)"),
    Column("notes", "Notes"),
    Column("security", "Trusted paths users can write (before the changes)"),
    Column("sources", "Package sources (Anaconda licence)"),
    Column("error", "Problem"),
)
ROLE_PREFIXES = ("miniconda_", "startup_bridge_", "doi_cert_", "arcgis_env_", "fleet_")


def trusted(data: Any) -> Any:
    """Mark the strings of our own role files as templates, as Ansible does when it loads a role."""
    if isinstance(data, dict):
        return {k: trusted(v) for k, v in data.items()}
    if isinstance(data, list):
        return [trusted(v) for v in data]
    return trust_as_template(data) if isinstance(data, str) else data


def _yaml(path: Path) -> dict[str, Any]:
    return trusted(yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


def plan_args_template(role: str) -> Any:
    """``__<role>_plan_args`` from ``roles/<role>/vars/plan.yml`` (templates, untemplated)."""
    data = _yaml(ROOT / "roles" / role / "vars" / "plan.yml")
    name = f"__{role}_plan_args"
    if name not in data:
        raise AnsibleActionFail(f"roles/{role}/vars/plan.yml has no {name}")
    return data[name]


def role_defaults(role: str) -> dict[str, Any]:
    """The role's defaults and its internal vars/main.yml."""
    base = ROOT / "roles" / role
    return {**_yaml(base / "defaults" / "main.yml"), **_yaml(base / "vars" / "main.yml")}


def validated(spec: Mapping[str, Any], args: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Apply the role action's own argument spec, as Ansible would before running it."""
    result = ArgumentSpecValidator(dict(spec)).validate(dict(args))
    if result.error_messages:
        raise ff.HostPlanError(f"{where}: " + "; ".join(result.error_messages))
    return result.validated_parameters


# fleet_* variables the playbooks read outside any role (play keywords, plan.yml's options, inventories).
PLAYBOOK_VARIABLES = frozenset(
    {
        "fleet_serial",
        "fleet_max_fail_percentage",
        "fleet_arcgis_releases",
        "fleet_plan_live",
        "fleet_plan_group",
        "fleet_plan_report_dir",
        "fleet_plan_lock",
        "fleet_plan_lock_dir",
        "fleet_plan_cache_dir",
        "fleet_mirror_ca_file",
    }
)


def public_specs() -> dict[str, dict[str, Any]]:
    """Each role's public variables as its meta/argument_specs.yml declares them (the contract of record)."""
    out = {}
    for role in (*fc.ROLES, "fleet"):
        path = ROOT / "roles" / role / "meta" / "argument_specs.yml"
        out[role] = yaml.safe_load(path.read_text(encoding="utf-8"))["argument_specs"]["main"]["options"]
    return out


class RoleArgs:
    """Templates and validates each role's planner arguments for one host's variables."""

    def __init__(self, templar: Templar, omit: Any) -> None:
        self.templar = templar
        self.omit = omit
        self.templates = {role: plan_args_template(role) for role in fc.ROLES}
        self.defaults: dict[str, Any] = {}
        for role in (*fc.ROLES, "fleet"):  # fleet: the organisation-wide fleet_* choices the planners read
            self.defaults.update(role_defaults(role))
        self.specs = SPECS
        self.public = public_specs()
        self.declared = {name for options in self.public.values() for name in options} | PLAYBOOK_VARIABLES

    def check_public(self, variables: Mapping[str, Any], installs: list[dict[str, Any]]) -> tuple[list, list]:
        """(errors, warnings) for the host's role variables against the roles' argument_specs: every bad
        value at once, each naming the public variable; an unknown ``<role>_*`` name gets the nearest one."""
        import difflib

        warnings = []
        for name in sorted(variables):
            if name.startswith("__") or name in self.declared:
                continue
            near = difflib.get_close_matches(name, sorted(self.declared), n=1, cutoff=0.75)
            warnings.append(
                f"{name} is not a variable of any role (ignored)"
                + (f": did you mean {near[0]}?" if near else "")
            )
        errors = []
        self.templar.available_variables = {
            **self.defaults,
            **variables,
            "ansible_facts": {"arcgis": installs},
            "omit": self.omit,
        }
        for role, options in self.public.items():
            given = {k: variables[k] for k in options if k in variables}
            if not given:
                continue
            try:
                values = self.templar.template(given)
            except AnsibleError as exc:
                errors.append(f"cannot template the {role} variables: {exc}")
                continue
            spec = {k: {key: v for key, v in o.items() if key != "description"} for k, o in options.items()}
            result = ArgumentSpecValidator(spec).validate(values)
            errors += [f"{msg} (role {role})" for msg in result.error_messages]
        return errors, warnings

    def __call__(
        self, role: str, variables: Mapping[str, Any], installs: list[dict[str, Any]], published: Mapping
    ) -> dict[str, Any]:
        self.templar.available_variables = {
            **self.defaults,
            **variables,
            **published,
            "ansible_facts": {"arcgis": installs},
            "omit": self.omit,
        }
        try:
            args = self.templar.template(self.templates[role])
        except AnsibleError as exc:
            raise ff.HostPlanError(f"cannot template the {role} variables: {exc}") from None
        args = self._drop_omit(args)
        if role == "doi_cert":
            return {
                "bundle": validated(self.specs["doi_cert.bundle"], args["bundle"], "doi_cert"),
                "plan": validated(self.specs["doi_cert.plan"], args["plan"], "doi_cert"),
            }
        return validated(self.specs[role], args, role)

    def _drop_omit(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._drop_omit(v) for k, v in value.items() if v != self.omit}
        return value


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result = super().run(tmp, task_vars)
        started = time.perf_counter()
        live = args["mode"] == "live"
        if args["hosts"] is not None:
            hosts = list(args["hosts"])
        elif live:
            hosts = list(task_vars.get("ansible_play_batch") or [])
        else:
            hosts = sorted(task_vars.get("groups", {}).get(args["group"], []))
        if not hosts:
            raise AnsibleActionFail(
                f"group {args['group']!r} has no hosts in this inventory. Fix: pass -i inventory/<agency> "
                "or set fleet_plan_group to the group holding your workstations."
            )
        planner = FleetPlanner(
            RoleArgs(Templar(loader=self._loader), task_vars.get("omit")),
            args,
            roles=args["roles"],
            lock=live or args["lock"],
            display=self._display,
        )
        hostvars = task_vars["hostvars"]
        inputs = [self._host_input(h, hostvars[h]) for h in hosts]
        for item in inputs:
            item.variables.update(args["variables"])
        plans = planner.plan(inputs)
        summary = fp.summarize([p["row"] for p in plans.values()])
        summary["seconds"] = round(time.perf_counter() - started, 2)
        summary["distinct_stacks"] = len(planner.fleet_specs)
        if planner.lock_outcomes:
            summary["locks"] = planner.lock_outcomes
        if live:
            secret = any(c.get("secret") for p in plans.values() for c in p["changes"] or [])
            if secret:
                result["_ansible_no_log"] = True  # a planned file holds a password (the proxy's)
            result.update(
                no_log=secret,
                changed=False,
                hosts={h: {k: v for k, v in p.items() if k != "row"} for h, p in plans.items()},
                summary=summary,
                msg=self._live_message(plans),
            )
            return result
        reports = write_lab_reports(
            Path(args["report_dir"]),
            "arcgis-conda fleet plan",
            [p["row"] for p in plans.values()],
            COLUMNS,
            kind="plan",
            meta={
                "inventory": ", ".join(task_vars.get("ansible_inventory_sources") or []),
                "playbook": "playbooks/plan.yml",
                "mode": "offline (last observation or declared releases)",
            },
        )
        summary["distinct_plans"] = len(planner.memo)
        summary["reports"] = [r.files["html"] for r in reports]
        summary["index"] = str(Path(args["report_dir"]) / "index.html")
        result.update(
            changed=False,
            summary=summary,
            hosts=[p["row"] for p in plans.values()],
            msg=self._message(summary),
        )
        return result

    @staticmethod
    def _host_input(host: str, hostvars: Any) -> fp.HostInput:
        facts = (hostvars.get("ansible_facts") or {}).get("arcgis")
        observed = (hostvars.get("ansible_facts") or {}).get("arcgis_conda_observed")
        return fp.HostInput(
            host=host,
            lab=lab_of(hostvars.get("group_names", [])),
            facts=list(facts) if isinstance(facts, list) else None,
            declared=list(hostvars.get("fleet_arcgis_releases") or []),
            variables={k: hostvars[k] for k in hostvars if k.startswith(ROLE_PREFIXES)},
            observed=observed if isinstance(observed, dict) else None,
        )

    @staticmethod
    def _live_message(plans: Mapping[str, Any]) -> str:
        failed = [h for h, p in plans.items() if p["status"] == "failed"]
        changes = sum(len(p["changes"] or []) for p in plans.values())
        return f"planned {len(plans)} host(s): {changes} change(s)" + (
            f"; {len(failed)} cannot be planned: {', '.join(failed)}" if failed else ""
        )

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


# The name a group of identical hosts is planned under: a NUL can be in no path, message or value of a
# plan, so putting each member's own name in its place cannot touch anything else (a host named "arcgis"
# must not rename C:\ProgramData\arcgis-conda).
GROUP_HOST = "\u0000fleet-host\u0000"


def renamed(result: Any, item: fp.HostInput) -> Any:
    """The group's plan (planned as GROUP_HOST) for ``item``: same input, same plan, its own name and lab."""
    text = json.dumps(result).replace(json.dumps(GROUP_HOST)[1:-1], json.dumps(item.host)[1:-1])
    copy = json.loads(text)
    copy["row"]["host"], copy["row"]["lab"] = item.host, item.lab
    return copy


class FleetPlanner:
    """Plans hosts role by role, in site.yml's order; arcgis_env fleet-wide (one lock per stack)."""

    def __init__(
        self, role_args: RoleArgs, args: Mapping[str, Any], roles: list[str], lock: bool, display: Any
    ) -> None:
        self.role_args = role_args
        self.args = args
        self.roles = roles
        self.lock = lock
        self.display = display
        self.memo: dict[str, Any] = {}
        self.bundles: dict[str, dict[str, Any]] = {}
        self.fleet_specs: dict[str, Any] = {}
        self.lock_outcomes: dict[str, Any] = {}
        # Host channel -> upstream channel, for the channels a mirror copies (package_sources.env_source).
        self.controller_map: dict[str, str] = {}
        self.read_file = ff.lock_reader(ROOT)

    def plan(self, inputs: list[fp.HostInput]) -> dict[str, dict[str, Any]]:
        """Plan each distinct input once (a lab of identical workstations, usually), then give every host
        its copy, with its own name in the messages. The planners' output holds no other host detail."""
        groups: dict[str, list[fp.HostInput]] = {}
        for item in inputs:
            key = json.dumps(
                [item.facts, item.declared, item.variables, item.observed], sort_keys=True, default=repr
            )
            groups.setdefault(key, []).append(item)
        self.memo = {key: members[0].host for key, members in groups.items()}
        # One stand-in per group, named GROUP_HOST plus its index (unique among the stand-ins).
        firsts = [
            dataclasses.replace(members[0], host=f"{GROUP_HOST}{n}")
            for n, members in enumerate(groups.values())
        ]
        state: dict[str, dict[str, Any]] = {}
        for item in firsts:
            state[item.host] = self._start(item)
        self._arcgis_env(firsts, state)
        for item in firsts:
            self._finish(item, state[item.host])
        out: dict[str, dict[str, Any]] = {}
        for stand_in, members in zip(firsts, groups.values(), strict=True):
            planned = self._result(stand_in, state[stand_in.host])
            text = json.dumps(planned).replace(json.dumps(stand_in.host)[1:-1], json.dumps(GROUP_HOST)[1:-1])
            for item in members:
                out[item.host] = renamed(json.loads(text), item)
        return {item.host: out[item.host] for item in inputs}

    def _start(self, item: fp.HostInput) -> dict[str, Any]:
        host: dict[str, Any] = {"results": {}, "published": {}, "error": "", "planned": {}}
        try:
            host["source"], host["installs"] = fp.host_installs(item)
        except fp.PlanError as exc:
            host.update(error=str(exc), source="declared", installs=[])
            return host
        observed = item.observed
        host["snapshot"] = Snapshot(observed) if observed else None
        host["os_bits"] = (observed or {}).get("os_bits")
        if not host["installs"]:
            return host
        ctx = ff.RoleContext(item.host, host["installs"], host["snapshot"], host["planned"], self.read_file)
        host["ctx"] = ctx
        errors, host["warnings"] = self.role_args.check_public(item.variables, host["installs"])
        if errors:
            host["error"] = (
                f"{item.host}: {len(errors)} bad variable value(s): "
                + "; ".join(errors)
                + ". Fix them in the "
                "inventory (group_vars/host_vars) or on the command line (-e), then run again."
                + "".join(f" Also: {w}." for w in host["warnings"])
            )
            return host
        try:
            args = self.role_args("miniconda", item.variables, host["installs"], host["published"])
            host["results"]["miniconda"] = ff.plan_miniconda(args, ctx, host["os_bits"])
            host["published"].update(
                self._available(host["results"]["miniconda"].published, ctx, "miniconda")
            )
            doi = self.role_args("doi_cert", item.variables, host["installs"], host["published"])
            key = json.dumps(doi["bundle"], sort_keys=True, default=str)
            if doi["plan"]["state"] == "present" and key not in self.bundles:
                try:
                    self.bundles[key] = ff.build_bundle(doi["bundle"], self.read_file)
                except (ValueError, OSError) as exc:
                    self.bundles[key] = {"error": str(exc)}
            bundle = self.bundles.get(key) if doi["plan"]["state"] == "present" else None
            if bundle and "error" in bundle:
                raise ff.HostPlanError(f"{item.host}: doi_cert_certificates: {bundle['error']}")
            host["results"]["doi_cert"] = ff.plan_doi_cert(doi["bundle"], doi["plan"], ctx, bundle)
            env_args = self.role_args("arcgis_env", item.variables, host["installs"], host["published"])
            host["env_args"] = env_args
        except (ff.HostPlanError, ValueError, KeyError, TypeError, NotObserved) as exc:
            host["error"] = self._error(exc)
        return host

    def _arcgis_env(self, inputs: list[fp.HostInput], state: dict[str, dict[str, Any]]) -> None:
        from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_spec import (
            EnvSettings,
            SpecError,
            plan_host,
        )

        pending: dict[str, set[str]] = {}
        lock_args: Mapping[str, Any] = {}
        for item in inputs:
            host = state[item.host]
            if host["error"] or "env_args" not in host:
                continue
            args = host["env_args"]
            lock_args = lock_args or args
            facts, lines = ff.arcgis_env_facts(args["facts"] or [])
            try:
                settings = EnvSettings.from_mapping(args["settings"])
                planned, skipped = plan_host(item.host, facts, args["conda_installs"] or [], settings)
            except SpecError as exc:
                host["error"] = f"{item.host}: arcgis_env: {exc}"
                continue
            host["env_planned"] = planned
            host["env_skipped"] = lines + skipped
            if args.get("state", "present") == "present":
                host["problems"] = ff.unknown_stack_problems(
                    item.host, args["facts"] or [], settings.products
                )
            for _plan, _spec in planned:
                self.controller_map.update(
                    {h: u for h, u in zip(_plan.channels, _plan.upstream_channels, strict=False) if h != u}
                )
            for _plan, spec in planned:
                if spec is not None:
                    self.fleet_specs.setdefault(spec.key, spec)
                    pending.setdefault(spec.key, set()).add(f"ArcGIS {_plan.product} {_plan.version}")
        # The lock settings are fleet-wide (arcgis_env_lock_dir, _cache_dir, _channel_mirrors, ...): the first
        # planned host's are used; plan.yml's own fleet_plan_* options apply when it locks offline.
        outcomes = self._lock(pending, lock_args) if self.lock and pending else {}
        for item in inputs:
            host = state[item.host]
            if "env_planned" not in host:
                continue
            plans = []
            for plan, _spec in host["env_planned"]:
                data = plan.to_dict()
                outcome = outcomes.get(plan.spec_key)
                if outcome is not None:
                    data["method"] = "fallback" if outcome.status == "fallback" else "lock"
                    data["lock_path"] = outcome.path
                elif data["kind"] == "conda":
                    data["method"] = "fallback"
                plans.append(data)
            locks = {k: {"packages": o.packages} for k, o in outcomes.items() if o.packages}
            try:
                result = ff.plan_arcgis_env(host["env_args"], host["ctx"], plans, locks, host["env_skipped"])
            except (ff.HostPlanError, ValueError, KeyError, TypeError, NotObserved, OSError) as exc:
                host["error"] = self._error(exc)
                continue
            host["results"]["arcgis_env"] = result
            host["published"].update(self._available(result.published, host["ctx"], "arcgis_env"))

    def _lock(self, pending: Mapping[str, set[str]], env_args: Mapping[str, Any]) -> dict[str, Any]:
        from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_lock import (
            Locker,
            UnsatisfiableError,
            lock_fleet,
        )

        live = self.args["mode"] == "live"
        opts = {
            k: (env_args.get(k) if live else None) or self.args[k]
            for k in ("cache_dir", "lock_dir", "timeout")
        }
        given = (env_args.get("channel_mirrors") if live else None) or self.args["channel_mirrors"]
        # A mirror channel is solved against its upstream (or the admin's controller copy of that upstream).
        mirrors = {h: given.get(u, u) for h, u in self.controller_map.items()}
        mirrors.update(given)
        config = C.CONFIG_FILE
        locker = Locker(project_path(opts["cache_dir"], config), mirrors, float(opts["timeout"]))
        try:
            outcomes = lock_fleet(
                {k: self.fleet_specs[k] for k in pending},
                dict(pending),
                project_path(opts["lock_dir"], config),
                locker,
                refresh=bool(env_args.get("refresh")) if live else False,
            )
        except UnsatisfiableError as exc:
            raise AnsibleActionFail(f"fleet_plan: {exc}") from exc
        finally:
            locker.close()
        for key, o in outcomes.items():
            self.lock_outcomes[key] = {"status": o.status, "path": o.path, "message": o.message}
            if o.status == "fallback":
                self.display.warning(f"arcgis_env: no lock, conda will solve on the hosts: {o.message}")
        return outcomes

    def _finish(self, item: fp.HostInput, host: dict[str, Any]) -> None:
        if host["error"] or not host["installs"] or "ctx" not in host:
            return
        try:
            args = self.role_args("startup_bridge", item.variables, host["installs"], host["published"])
            host["results"]["startup_bridge"] = ff.plan_startup_bridge(args, host["ctx"])
        except (ff.HostPlanError, ValueError, KeyError, TypeError, NotObserved) as exc:
            host["error"] = self._error(exc)

    def _available(self, published: dict[str, Any], ctx: ff.RoleContext, role: str) -> dict[str, Any]:
        """What a role publishes for the roles after it, limited, when the role does not apply in this run
        (``--tags``), to what already exists: later roles never plan into a Miniconda or env not there."""
        if role in self.roles or ctx.snapshot is None:
            return published
        out = {}
        for name, records in published.items():
            kept = []
            for record in records:
                try:
                    if ctx.snapshot.exists(str(record["prefix"])):
                        kept.append(record)
                except NotObserved:
                    kept.append(record)
            out[name] = kept
        return out

    @staticmethod
    def _mirror(host: Mapping[str, Any]) -> str:
        try:
            return ps.mirror_url(((host.get("env_args") or {}).get("settings") or {}).get("mirror"))
        except ps.SourceError:
            return ""

    @staticmethod
    def _sources(host: Mapping[str, Any], results: Mapping[str, ff.RoleResult]) -> list[str]:
        """Per host: the licence choice, then where each installer and env comes from."""
        settings = (host.get("env_args") or {}).get("settings") or {}
        try:
            policy = ps.Policy.from_args(settings.get("anaconda"), settings.get("mirror"))
        except ps.SourceError:
            return []
        miniconda = results.get("miniconda")
        env = results.get("arcgis_env")
        installs = (miniconda.judge.get("plan") or {}).get("installs") or [] if miniconda else []
        plans = env.judge.get("plans") or [] if env else []
        return ps.sources_lines(policy, installs, plans)

    @staticmethod
    def _error(exc: Exception) -> str:
        if isinstance(exc, NotObserved):
            return f"observe did not read {exc}: a bug in the observe spec; please report it"
        return str(exc)

    def _result(self, item: fp.HostInput, host: dict[str, Any]) -> dict[str, Any]:
        results: dict[str, ff.RoleResult] = host["results"]
        status = "failed" if host["error"] else ("skipped" if not host["installs"] else "ok")
        observed = host.get("snapshot") is not None
        changes: list[dict[str, Any]] | None = None
        findings: list[dict[str, Any]] = []
        if observed and status == "ok":
            try:
                changes = ff.host_changes(results, host["ctx"], self.roles)
                ff.in_use(changes, host["snapshot"], item.host)
                host.setdefault("warnings", []).extend(
                    ff.session_warnings(changes, host["snapshot"], item.host)
                )
                ps.mark_share_reads(changes, self._mirror(host))
                findings = fc.audit(host["snapshot"], host["ctx"].trusted)
            except (ff.HostPlanError, ValueError, KeyError, TypeError, NotObserved, OSError) as exc:
                host["error"], status = f"{item.host}: {self._error(exc)}", "failed"
        reads, runs = ff.verify_params({r: v for r, v in results.items() if r in self.roles})
        sources = self._sources(host, results)
        # Planned, but not all of it: a declared release whose stack is unknown gets no env (the fix named).
        problems = [f"{item.host}: {p}" for p in host.get("problems") or []]
        if status == "ok" and problems:
            status = "incomplete"
        row: dict[str, Any] = {
            "host": item.host,
            "lab": item.lab,
            "status": status,
            "error": host["error"]
            or "; ".join(problems)
            or ("" if host["installs"] else "no ArcGIS probed or declared (fleet_arcgis_releases)"),
            "source": host.get("source", "none"),
            "arcgis": [
                f"{i['id']} python {i.get('python_major_minor')} "
                + " ".join(f"{p} {(i.get('packages') or {}).get(p)}" for p in fp.STACK_PACKAGES)
                for i in host["installs"]
            ],
            "changes": ff.summary_of(changes) if changes is not None else ["not observed yet"],
            # The plan as data (role, step, action, target, reason; no file bytes), for scripts and tests.
            "planned": [fc.brief(c) for c in changes] if changes is not None else None,
            "security": [
                f"{f['path']}: writable by {', '.join(f['writable_by']) or '-'}, owner {f['owner']}"
                for f in findings
            ],
            "sources": sources,
            "notes": fp.arcmap_notes(host["installs"]),
        }
        for role, result in results.items():
            row[role] = result.lines + [f"warning: {w}" for w in result.warnings]
        return {
            "row": row,
            "status": status,
            "error": row["error"] if status == "failed" else "",
            "changes": changes,
            "planned": row["planned"] or [],
            # Paths the run trusts that a non-admin owns or can write, as observed before this run's changes.
            "audit": findings,
            "steps": fc.group_steps(changes or []),
            "sources": sources,
            "summary": row["changes"],
            "verify": {
                "reads": [r.as_param() for r in reads],
                "runs": runs,
            },
            "judge": {role: results[role].judge for role in results if role in self.roles},
            "published": host["published"],
            "notes": row["notes"],
            "warnings": list(host.get("warnings") or [])
            + [w for r in results.values() for w in r.warnings]
            + [f"note: {n}" for n in row["notes"]],
        }
