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

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.template import Templar, trust_as_template
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_dashboard as dash
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_flow as ff
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_plan as fp
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_state as fs
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import package_sources as ps
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_report import (
    Column,
    lab_of,
    write_lab_reports,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import (
    ROOT,
    Fleet,
    FleetError,
    HostPlanError,
    Role,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.registry import ROLES

ROLE_NAMES = [role.name for role in ROLES]
ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "mode": {"type": "str", "default": "offline", "choices": ["offline", "live"]},
    "group": {"type": "str", "default": "windows_workstations"},
    "hosts": {"type": "list", "elements": "str"},
    "roles": {"type": "list", "elements": "str", "default": []},
    "run_tags": {"type": "list", "elements": "str", "default": ["all"]},
    "skip_tags": {"type": "list", "elements": "str", "default": []},
    "variables": {"type": "dict", "default": {}},
    # Unset: <state>/reports/plan, <state>/.cache/locks, <state>/.cache/rattler (module_utils/fleet_state.py).
    "report_dir": {"type": "path"},
    "lock": {"type": "bool", "default": False},
    "lock_dir": {"type": "path"},
    "cache_dir": {"type": "path"},
    "channel_mirrors": {"type": "dict", "default": {}},
    "timeout": {"type": "float", "default": 10.0},
    "applies": {"type": "bool", "default": True},
}
COLUMNS = (
    Column("host", "Host"),
    Column("status", "Status"),
    Column("source", "ArcGIS from"),
    Column("arcgis", "ArcGIS installs (python, numpy, matplotlib, scipy)"),
    *(Column(role.name, role.column) for role in ROLES),
    Column("changes", "Changes (against the last observation)"),
    Column("notes", "Notes"),
    Column("security", "Trusted paths users can write (before the changes)"),
    Column("sources", "Package sources (Anaconda licence)"),
    Column("error", "Problem"),
)
ROLE_PREFIXES = (*(f"{role.name}_" for role in ROLES), "fleet_")


def selected_roles(args: Mapping[str, Any], in_play: Sequence[str] = ()) -> list[str]:
    """The roles this run changes, in apply order: the given ones, else the collection's roles the play
    applies (``- role: arcgis_conda.fleet.doi_cert``: that role alone), else the registry's; limited by
    --tags/--skip-tags as each role's play step is."""
    given = list(args["roles"]) or [n for n in ROLE_NAMES if n in in_play] or ROLE_NAMES
    unknown = [name for name in given if name not in ROLE_NAMES]
    if unknown:
        raise AnsibleActionFail(
            f"fleet_plan_roles: {unknown} are not roles of this collection. Fix: use names among "
            f"{ROLE_NAMES}."
        )
    wanted = given if "all" in args["run_tags"] else [n for n in given if n in args["run_tags"]]
    return [name for name in wanted if name not in args["skip_tags"]]


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
        raise HostPlanError(f"{where}: " + "; ".join(result.error_messages))
    return result.validated_parameters


# fleet_* variables the playbooks read outside any role (play keywords, plan.yml's options, inventories).
PLAYBOOK_VARIABLES = frozenset(
    {
        "fleet_serial",
        "fleet_max_fail_percentage",
        "fleet_arcgis_releases",
        "fleet_plan_live",
        "fleet_plan_group",
        "fleet_plan_lock",
        "fleet_plan_applies",
        "fleet_mirror_ca_file",
        "fleet_confirm",
        # Set by the playbooks and roles themselves (facts, registered results, include vars).
        "fleet_host_plan",
        "fleet_apply_role",
        "fleet_plan_result",
        "fleet_mirror_result",
        "fleet_selftest_result",
        # Published by the roles for the next ones (README: each role's contract).
        "miniconda_installs",
        "arcgis_env_envs",
        "startup_bridge_verified",
    }
)


def public_specs() -> dict[str, dict[str, Any]]:
    """Each role's public variables as its meta/argument_specs.yml declares them (the contract of record)."""
    out = {}
    for role in (*ROLE_NAMES, "fleet"):
        path = ROOT / "roles" / role / "meta" / "argument_specs.yml"
        out[role] = yaml.safe_load(path.read_text(encoding="utf-8"))["argument_specs"]["main"]["options"]
    return out


class RoleArgs:
    """Templates and validates each role's planner arguments for one host's variables."""

    def __init__(self, templar: Templar, omit: Any) -> None:
        self.templar = templar
        self.omit = omit
        self.templates = {role: plan_args_template(role) for role in ROLE_NAMES}
        self.defaults: dict[str, Any] = {}
        for role in (*ROLE_NAMES, "fleet"):  # fleet: the organisation-wide fleet_* choices the planners read
            self.defaults.update(role_defaults(role))
        self.public = public_specs()
        self.declared = {name for options in self.public.values() for name in options} | PLAYBOOK_VARIABLES

    def check_public(self, variables: Mapping[str, Any], installs: list[dict[str, Any]]) -> tuple[list, list]:
        """(errors, warnings) for the host's role variables against the roles' argument_specs: every bad
        value at once, each naming the public variable, its value and the fix; an unknown ``<role>_*`` or
        ``fleet_*`` name is an error with the nearest declared one (unless fleet_allow_unknown_variables
        lists it)."""
        allowed = variables.get("fleet_allow_unknown_variables") or []
        allowed = allowed if isinstance(allowed, list) else []
        errors = fp.unknown_variable_errors(variables, self.declared, allowed, ROLE_PREFIXES)
        if variables.get(ps.VARIABLE) in (None, ""):
            # The licence is the organisation's decision: no default, the choices that fit this host's stacks.
            errors.append(ps.choice_needed(installs))
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
            strict = {k: fp.strict_type_errors(k, v, options[k]) for k, v in values.items()}
            errors += [e for found in strict.values() for e in found]
            # Ansible's own messages for the rest (theirs would repeat the strict ones, less clearly).
            values = {k: v for k, v in values.items() if not strict[k]}
            spec = {
                k: {key: v for key, v in o.items() if key not in ("description", "required")}
                for k, o in options.items()
                if k in values
            }
            result = ArgumentSpecValidator(spec).validate(values)
            errors += [
                f"{msg}. Fix: a value roles/{role}/meta/argument_specs.yml allows"
                for msg in result.error_messages
            ]
        return errors, []

    def __call__(
        self, role: Role, variables: Mapping[str, Any], installs: list[dict[str, Any]], published: Mapping
    ) -> dict[str, Any]:
        self.templar.available_variables = {
            **self.defaults,
            **variables,
            **published,
            "ansible_facts": {"arcgis": installs},
            "omit": self.omit,
        }
        try:
            args = self.templar.template(self.templates[role.name])
        except AnsibleError as exc:
            raise HostPlanError(f"cannot template the {role.name} variables: {exc}") from None
        args = self._drop_omit(args)
        return role.validate(args, lambda spec, values: validated(spec, values, role.name))

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
        state = fs.state_dir(task_vars.get(fs.STATE_VARIABLE), C.CONFIG_FILE)
        args["report_dir"] = args["report_dir"] or str(fs.reports_dir(state) / "plan")
        args["lock_dir"] = args["lock_dir"] or str(fs.locks_dir(state))
        args["cache_dir"] = args["cache_dir"] or str(fs.solver_dir(state))
        awx = fs.awx_job(task_vars)
        if not live and awx is not None:
            _error, warning = fs.fact_cache_problem(
                str(C.config.get_config_value("CACHE_PLUGIN") or ""),
                C.config.get_config_value("CACHE_PLUGIN_CONNECTION"),
                state,
                state,
                awx,
            )
            if warning:
                self._display.warning(warning)
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
        role_args = RoleArgs(Templar(loader=self._loader), task_vars.get("omit"))
        fleet = Fleet(
            live=live,
            options=args,
            read_file=ff.lock_reader(ROOT),
            project_path=lambda path: ff.project_path(path, C.CONFIG_FILE),
            warn=self._display.warning,
            lock=live or args["lock"],
        )
        selected = selected_roles(args, self._play_roles())
        planner = ff.FleetPlanner(
            ROLES,
            selected,
            role_args,
            role_args.check_public,
            fleet,
            rows_only=not live,
            applies=args["applies"],
        )
        hostvars = task_vars["hostvars"]
        self._defaults = role_args.defaults
        inputs = [self._host_input(h, hostvars, task_vars) for h in hosts]
        for item in inputs:
            item.variables.update(args["variables"])
        self._check_mirrors(inputs, args["timeout"])
        ungrouped = sorted(i.host for i in inputs if i.lab == "ungrouped" and not i.input_errors)
        if ungrouped:
            self._display.warning(
                f"{len(ungrouped)} host(s) are in no lab_* group ({', '.join(ungrouped[:5])}"
                f"{', ...' if len(ungrouped) > 5 else ''}): reports and progress list them as 'ungrouped'. "
                "Fix: put them in a group named lab_<name> under windows_workstations."
            )
        try:
            plans = planner.plan(inputs)
        except FleetError as exc:
            raise AnsibleActionFail(f"fleet_plan: {exc}") from exc
        self._check_mirror_downloads(inputs, plans, args["timeout"])
        for plan in plans.values():  # the one outcome the console, the pages and the JSON show
            plan["row"]["outcome"] = dash.outcome(plan["row"], dash.PLAN)
        summary = fp.summarize([p["row"] for p in plans.values()])
        summary["seconds"] = round(time.perf_counter() - started, 2)
        summary["distinct_stacks"] = fleet.summary.get("distinct_stacks", 0)
        if fleet.summary.get("locks"):
            summary["locks"] = fleet.summary["locks"]
        if live:
            secret = any(c.get("secret") for p in plans.values() for c in p["changes"] or [])
            if secret:
                result["_ansible_no_log"] = True  # a planned file holds a password (the proxy's)
            result.update(
                no_log=secret,
                changed=False,
                # Each host's plan names the roles it changes: a role of the play not among them plans again.
                hosts={
                    h: {**{k: v for k, v in p.items() if k != "row"}, "roles": selected}
                    for h, p in plans.items()
                },
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
            msg=self._message(summary, plans),
        )
        return result

    def _host_vars(self, host: str, hostvars: Any, task_vars: Mapping[str, Any]) -> tuple[dict, dict]:
        """(the host's untemplated variables, its ``<role>_*``/``fleet_*`` ones templated) from every source
        Ansible has at this task: inventory, play vars, role vars and params (``- role:
        arcgis_conda.fleet.doi_cert`` with ``vars:``), include vars and ``-e``, with Ansible's precedence.
        One lookup per host, and never through ``hostvars[host]``, which would template the host's facts
        (its observation) on every access."""
        manager = getattr(hostvars, "_variable_manager", None)
        inventory = getattr(hostvars, "_inventory", None)
        found = inventory.get_host(host) if inventory is not None else None
        if manager is None or found is None:  # a unit test's plain dict
            one = hostvars[host]
            return dict(one), {k: one[k] for k in one if k.startswith(ROLE_PREFIXES)}
        every = manager.get_vars(
            play=self._task.get_play(), host=found, task=self._task, include_hostvars=False
        )
        scope = {**every, "hostvars": hostvars, "groups": task_vars.get("groups", {})}
        templar = Templar(loader=self._loader, variables=scope)
        out = {}
        for name in every:
            if not name.startswith(ROLE_PREFIXES):
                continue
            if name in self._defaults and every[name] == self._defaults[name]:
                continue  # a role default, left to the plan's own wiring (it may name what a role publishes)
            try:
                out[name] = templar.template(every[name])
            except AnsibleError:
                out[name] = every[name]  # e.g. it names what a role publishes: the plan templates it then
        return every, out

    def _host_input(self, host: str, hostvars: Any, task_vars: Mapping[str, Any]) -> fp.HostInput:
        one, variables = self._host_vars(host, hostvars, task_vars)
        facts = (one.get("ansible_facts") or {}).get("arcgis")
        # Packed (fleet_host.pack_observed): decoded by the planner once per distinct observation.
        observed = (one.get("ansible_facts") or {}).get("arcgis_conda_observed")
        groups = list(one.get("group_names", []))
        return fp.HostInput(
            host=host,
            lab=lab_of(groups),
            facts=list(facts) if isinstance(facts, list) else None,
            declared=list(variables.get("fleet_arcgis_releases") or one.get("fleet_arcgis_releases") or []),
            variables=variables,
            observed=dict(observed) if isinstance(observed, Mapping) else None,
            input_errors=[e for e in [fp.lab_group_error(groups)] if e],
        )

    def _play_roles(self) -> list[str]:
        """The collection's roles this play applies (roles:, import_role, include_role so far)."""
        play = self._task.get_play() if hasattr(self._task, "get_play") else None
        names = [str(role.get_name()).rsplit(".", 1)[-1] for role in getattr(play, "roles", None) or []]
        return [n for n in names if n in ROLE_NAMES]

    @staticmethod
    def _mirror_of(item: fp.HostInput) -> str:
        check = item.variables.get("fleet_mirror_check", True)
        mirror = item.variables.get("fleet_package_mirror") or ""
        return str(mirror) if isinstance(mirror, str) and check not in (False, "false", "no") else ""

    def _check_mirrors(self, inputs: list[fp.HostInput], timeout: float) -> None:
        """The mirror each host names, reached once per distinct value from the controller."""
        why = {m: fp.mirror_unreachable(m, timeout) for m in {self._mirror_of(i) for i in inputs} if m}
        for item in inputs:
            if why.get(self._mirror_of(item)):
                item.input_errors.append(why[self._mirror_of(item)])

    def _check_mirror_downloads(
        self, inputs: list[fp.HostInput], plans: dict[str, Any], timeout: float
    ) -> None:
        """Each installer a host would download from the mirror, asked for once: a 404 stops its hosts now,
        before their first change, instead of after it."""
        status: dict[str, int] = {}
        for item in inputs:
            mirror, plan = self._mirror_of(item), plans[item.host]
            if not mirror or plan["status"] == "failed" or not mirror.lower().startswith("http"):
                continue
            for change in plan["changes"] or []:
                url = str((change.get("item") or {}).get("url") or "")
                if change.get("step") != "download" or not url.startswith(mirror.rstrip("/")):
                    continue
                if url not in status:
                    status[url] = fp.url_problem(url, timeout, "HEAD")[1]
                if not 200 <= status[url] < 400:
                    error = f"{item.host}: {fp.missing_on_mirror(url, mirror, status[url])}"
                    plan.update(status="failed", error=error)
                    plan["row"].update(status="failed", error=error)
                    break

    @staticmethod
    def _live_message(plans: Mapping[str, Any]) -> str:
        failed = [h for h, p in plans.items() if p["status"] == "failed"]
        changes = sum(len(p["changes"] or []) for p in plans.values())
        return f"planned {len(plans)} host(s): {changes} change(s)" + (
            f"; {len(failed)} cannot be planned: {', '.join(failed)}" if failed else ""
        )

    @staticmethod
    def _message(summary: dict[str, Any], plans: Mapping[str, Any]) -> str:
        """What plan.yml prints: per lab its counts, then each reason a host cannot be (fully) planned and
        each warning, once per distinct text with the hosts it concerns, then where the reports are."""
        locks = summary.get("locks") or {}
        locked = f", {sum(1 for v in locks.values() if v['status'] != 'fallback')} locked" if locks else ""
        lines = [
            f"planned {summary['hosts']} hosts in {summary['seconds']} s; "
            f"{summary['distinct_stacks']} distinct conda stack(s){locked}",
            *(f"{lab}: {dash.count_line(counts)}" for lab, counts in summary["labs"].items()),
        ]
        rows = [p["row"] for p in plans.values()]
        sections = (
            ("cannot be planned", lambda r: [r["error"]] if r["status"] == "failed" else []),
            ("planned in part", lambda r: [r["error"]] if r["status"] == "incomplete" and r["error"] else []),
            ("warnings", lambda r: [w for w in plans[r["host"]]["warnings"] if not w.startswith("note: ")]),
            ("notes", lambda r: list(r.get("notes") or [])),
            # The licence choice in force (fleet_anaconda_channels), as each host's sources state it.
            (
                "package sources",
                lambda r: [x for x in r.get("sources") or [] if x.startswith("Anaconda licence")],
            ),
        )
        for title, texts in sections:
            found = fp.grouped(rows, texts)
            if found:
                lines += [f"{title}:", *(f"  {line}" for line in found)]
        lines.append(f"reports: {summary['index']}")
        return "\n".join(lines)
