"""The engine: every role for every host, observe → plan → changes → verify → judge. It names no role.

The roles come from ``registry.ROLES`` (apply order) and each implements ``fleet_role.Role``. The
``fleet_plan`` action (site.yml's live plan, and ``playbooks/plan.yml`` offline) gives this engine each
host's input and a way to turn the host's variables into a role's validated planner arguments; the
``fleet_observe`` action asks it what to read; ``fleet_verify`` asks it to judge. No Ansible imports.

Identical hosts (a lab of the same image, usually) are planned once under a stand-in name and each gets
its copy with its own name in the messages.
"""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_changes as fc
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_plan as fp
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import package_sources as ps
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_release import STACK_PACKAGES
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_dashboard import UNMANAGED
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import (
    NotObserved,
    Read,
    Snapshot,
    unpack_observed,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import (
    Fleet,
    FleetError,
    HostPlanError,
    HostPlanning,
    Observation,
    ObserveContext,
    Role,
    RoleContext,
    RolePlan,
)

# Turns a host's variables into one role's validated planner arguments (the fleet_plan action templates
# roles/<role>/vars/plan.yml and validates with the role's spec); raises HostPlanError for a bad value.
RoleArgsFn = Callable[[Role, Mapping[str, Any], list[dict[str, Any]], Mapping[str, Any]], dict[str, Any]]
# Checks the host's public variables against the roles' argument_specs: (errors, warnings).
CheckPublicFn = Callable[[Mapping[str, Any], list[dict[str, Any]]], tuple[list[str], list[str]]]
# Bugs in a planner are not caught: only these are a host's problem (bad input, a path observe did not
# read, a refused folder, a controller file that cannot be read).
HOST_ERRORS = (HostPlanError, fc.UntrustedPath, NotObserved, OSError)


def host_error(exc: Exception) -> str:
    if isinstance(exc, NotObserved):
        return f"observe did not read {exc}: a bug in the observe spec; please report it"
    return str(exc)


# --- observe ---------------------------------------------------------------------------------------------


def first_reads(roles: Sequence[Role], args_of: Callable[[Role], dict[str, Any] | None]) -> list[Read]:
    """What observe's first call reads for the roles (records that name what the second call reads)."""
    return [read for role in roles for read in role.first_reads(args_of(role))]


def observation(
    roles: Sequence[Role], octx: ObserveContext, args_of: Callable[[Role, Mapping[str, Any]], dict | None]
) -> Observation:
    """Every role's share of observe's second call, in apply order (each sees what earlier ones publish)."""
    total = Observation()
    for role in roles:
        args = args_of(role, octx.published)
        if args is None:
            continue  # a bad input: the plan names it
        seen = role.observe(args, octx)
        total.reads += seen.reads
        total.thumbprints += [t for t in seen.thumbprints if t not in total.thumbprints]
        total.env_names += [n for n in seen.env_names if n not in total.env_names]
        total.hives += [s for s in seen.hives if s not in total.hives]
        total.secret = total.secret or seen.secret
        octx.published.update(seen.published)
    return total


# --- plan ------------------------------------------------------------------------------------------------


@dataclass
class HostRecord:
    """One host through the plan: its input, ArcGIS, snapshot, each role's arguments and plan."""

    item: fp.HostInput
    source: str = "none"
    installs: list[dict[str, Any]] = field(default_factory=list)
    snapshot: Snapshot | None = None
    ctx: RoleContext | None = None
    args: dict[str, dict[str, Any]] = field(default_factory=dict)
    plans: dict[str, RolePlan] = field(default_factory=dict)
    published: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def live(self) -> bool:
        """Still planned: no error so far, ArcGIS found or declared, and a context."""
        return not self.error and bool(self.installs) and self.ctx is not None


# The name a group of identical hosts is planned under: a NUL can be in no path, message or value of a
# plan, so putting each member's own name in its place cannot touch anything else (a host named "arcgis"
# must not rename C:\ProgramData\arcgis-conda).
GROUP_HOST = "\u0000fleet-host\u0000"


# Offline plans of many differing hosts use this many processes at most (the plan step is CPU-bound), from
# this many distinct inputs on (below it a process costs more than it saves).
MAX_WORKERS = 8
PARALLEL_MIN_GROUPS = 64
# Distinct inputs planned together (their snapshots in memory at once).
BATCH = 256
# What a rows-only (offline) plan does not keep of each host's plan.
ROWS_ONLY_DROPS = ("verify", "judge")


def _plan_chunk(planner: FleetPlanner, chunk: list[tuple[int, list[fp.HostInput]]], conn: Any) -> None:
    """In a forked worker: one chunk's plans, the roles' summaries and the warnings they gave, sent back."""
    warnings: list[str] = []
    planner.fleet.warn = warnings.append
    planner.fleet.summary = {}
    try:
        conn.send((planner.plan_groups(chunk), planner.fleet.summary, warnings, ""))
    except Exception as exc:  # any: the parent raises it as the run's error, with this traceback
        import traceback

        conn.send(({}, {}, [], f"{exc!r}\n{traceback.format_exc()}"))
    finally:
        conn.close()


def renamed(result: Any, item: fp.HostInput) -> Any:
    """The group's plan (planned as GROUP_HOST) for ``item``: same input, same plan, its own name and lab."""
    text = json.dumps(result).replace(json.dumps(GROUP_HOST)[1:-1], json.dumps(item.host)[1:-1])
    copy = json.loads(text)
    copy["row"]["host"], copy["row"]["lab"] = item.host, item.lab
    return copy


class FleetPlanner:
    """Plans hosts role by role, in the registry's order; a role may plan the batch at once (plan_fleet)."""

    def __init__(
        self,
        roles: Sequence[Role],
        selected: Sequence[str],
        role_args: RoleArgsFn,
        check_public: CheckPublicFn,
        fleet: Fleet,
        rows_only: bool = False,
        applies: bool = True,
    ) -> None:
        self.roles = tuple(roles)
        self.rows_only = rows_only
        # False: the plan's changes are not applied before its verify runs (verify.yml): a program the
        # changes would first secure is not run.
        self.applies = applies
        self.selected = list(selected)
        # The roles that change anything this run, in the order given (uninstall: reversed).
        by_name = {role.name: role for role in self.roles}
        self.apply_order = [by_name[name] for name in self.selected if name in by_name]
        self.role_args = role_args
        self.check_public = check_public
        self.fleet = fleet
        self.memo: dict[str, str] = {}
        # (role, its inputs as JSON) -> validated arguments or the error: hosts of a lab share their
        # variables, so their arguments are templated once, however their observations differ.
        self.args_memo: dict[tuple[str, str], str | dict[str, Any] | HostPlanError] = {}
        self.public_memo: dict[str, tuple[list[str], list[str]]] = {}

    def plan(self, inputs: list[fp.HostInput]) -> dict[str, dict[str, Any]]:
        """Plan each distinct input once, then give every host its copy, with its own name in the messages.
        The planners' output holds no other host detail."""
        groups: dict[str, list[fp.HostInput]] = {}
        for item in inputs:
            key = json.dumps(
                [item.facts, item.declared, item.variables, item.observed, item.input_errors],
                sort_keys=True,
                default=repr,
            )
            groups.setdefault(key, []).append(item)
        self.memo = {key: members[0].host for key, members in groups.items()}
        chunks = self.chunks(list(groups.values()))
        out = self.plan_groups(chunks[0]) if len(chunks) == 1 else self.plan_in_processes(chunks)
        return {item.host: out[item.host] for item in inputs}

    def chunks(self, groups: list[list[fp.HostInput]]) -> list[list[tuple[int, list[fp.HostInput]]]]:
        """The groups in one chunk, or one per worker process when many differ and no lock is solved here
        (each process would solve the same stacks again: a live run locks, then plans in one process)."""
        workers = min(os.cpu_count() or 1, MAX_WORKERS)
        numbered = list(enumerate(groups))
        if workers < 2 or self.fleet.lock or len(groups) < PARALLEL_MIN_GROUPS:
            return [numbered]
        return [numbered[n::workers] for n in range(workers)]

    def plan_groups(self, groups: Sequence[tuple[int, list[fp.HostInput]]]) -> dict[str, dict[str, Any]]:
        """The groups in batches of BATCH: a batch's snapshots are let go before the next is read, so memory
        stays flat however many hosts (a fleet-wide step runs once per batch: a lock solved in one batch is
        found on disk by the next)."""
        out: dict[str, dict[str, Any]] = {}
        for first in range(0, len(groups), BATCH):
            out.update(self.plan_batch(groups[first : first + BATCH]))
        return out

    def plan_batch(self, groups: Sequence[tuple[int, list[fp.HostInput]]]) -> dict[str, dict[str, Any]]:
        """Each group planned once; a group of one host under its own name, a larger one under a stand-in
        named GROUP_HOST plus its index (unique among the stand-ins), renamed for each member."""
        records = [
            self.start(members[0] if len(members) == 1 else replace(members[0], host=f"{GROUP_HOST}{n}"))
            for n, members in groups
        ]
        for role in self.roles:
            self.plan_role(role, records)
        out: dict[str, dict[str, Any]] = {}
        for record, (_n, members) in zip(records, groups, strict=True):
            planned = self.result(record)
            if self.rows_only:  # an offline plan reports rows; the apply's and verify's data are not kept
                for name in ROWS_ONLY_DROPS:
                    planned.pop(name, None)
            if len(members) == 1:
                out[members[0].host] = planned
                continue
            text = json.dumps(planned).replace(
                json.dumps(record.item.host)[1:-1], json.dumps(GROUP_HOST)[1:-1]
            )
            for item in members:
                out[item.host] = renamed(json.loads(text), item)
        return out

    def plan_in_processes(
        self, chunks: list[list[tuple[int, list[fp.HostInput]]]]
    ) -> dict[str, dict[str, Any]]:
        """Plan the chunks in forked worker processes (they share this process's memory, copy-on-write);
        their warnings and the roles' summaries come back with the plans."""
        context = multiprocessing.get_context("fork")
        workers = []
        for chunk in chunks:
            receive, send = context.Pipe(duplex=False)
            worker = context.Process(target=_plan_chunk, args=(self, chunk, send), daemon=True)
            worker.start()
            send.close()
            workers.append((worker, receive))
        answers = []
        for worker, receive in workers:  # read before join: a large answer fills the pipe
            try:
                answers.append(receive.recv())
            except EOFError:
                answers.append(({}, {}, [], f"planning worker {worker.pid} ended without an answer"))
            worker.join()
        failed = [a[3] for a in answers if a[3]]
        if failed:
            raise FleetError(f"planning in a worker process failed: {failed[0]}")
        out: dict[str, dict[str, Any]] = {}
        stacks: set[str] = set()
        seen: set[str] = set()
        for plans, summary, warnings, _error in answers:
            out.update(plans)
            for message in warnings:
                if message not in seen:
                    seen.add(message)
                    self.fleet.warn(message)
            stacks |= set(summary.pop("stack_keys", ()))
            summary.pop("distinct_stacks", None)
            for name, value in summary.items():
                if isinstance(value, dict):
                    self.fleet.summary.setdefault(name, {}).update(value)
                else:
                    self.fleet.summary.setdefault(name, value)
        if stacks:
            self.fleet.summary["distinct_stacks"] = len(stacks)
        return out

    def start(self, item: fp.HostInput) -> HostRecord:
        record = HostRecord(item)
        try:
            record.source, record.installs = fp.host_installs(item)
            bad_release = ""
        except fp.PlanError as exc:
            record.source, bad_release = "declared", str(exc)
        # The inputs first, whatever the host has: a bad value never passes because ArcGIS is missing. The
        # installs only shape a fix (e.g. which licence choices fit the host's stacks). A lab's hosts share
        # their variables and most their installs: each distinct pair is checked once.
        public = json.dumps([item.variables, record.installs], sort_keys=True, default=repr)
        if public not in self.public_memo:
            self.public_memo[public] = self.check_public(item.variables, record.installs)
        errors, record.warnings = (list(found) for found in self.public_memo[public])
        errors = list(item.input_errors) + errors
        if errors:
            record.error = (
                f"{item.host}: {len(errors)} bad input(s), nothing was changed:\n"
                + "".join(f"- {e}\n" for e in errors)
                + "Fix them where they are set (inventory group_vars/host_vars, the play, role vars or -e), "
                "then run again."
            )
        if bad_release:
            record.error, record.installs = "; ".join(filter(None, [record.error, bad_release])), []
            return record
        # An ArcGIS Python a user made or replaced (arcgis_python_guard): never run, so the host stops here.
        refused = [p for i in record.installs if i.get("status") == "unsafe" for p in i.get("problems") or []]
        if refused:
            record.error = "; ".join(filter(None, [record.error, *refused]))
        # Not run (check mode, read-only playbooks): what needs its measurement is planned after securing.
        record.warnings += [
            f"{item.host}: {p}"
            for i in record.installs
            if i.get("status") == "unsecured"
            for p in i.get("problems") or []
        ]
        observed = unpack_observed(item.observed)  # decoded once per distinct input, not once per host
        record.snapshot = Snapshot(observed) if observed else None
        if not record.installs:
            return record
        record.ctx = RoleContext(
            item.host,
            record.installs,
            record.snapshot,
            {},
            self.fleet.read_file,
            os_bits=(observed or {}).get("os_bits"),
        )
        return record

    def plan_role(self, role: Role, records: Sequence[HostRecord]) -> None:
        """One role for every host still planned: its arguments, then its plan (per host or fleet-wide)."""
        batch: list[tuple[HostRecord, HostPlanning]] = []
        for record in records:
            if not record.live or record.ctx is None:
                continue
            try:
                args = self.args_of(role, record)
            except HostPlanError as exc:
                record.error = host_error(exc)
                continue
            record.args[role.name] = args
            batch.append((record, HostPlanning(args, record.ctx)))
        try:
            role.plan_fleet([planning for _record, planning in batch], self.fleet)
        except HOST_ERRORS as exc:  # a per-host role planned alone: its one host's problem
            if len(batch) != 1:
                raise
            batch[0][1].error = host_error(exc)
        for record, planning in batch:
            if planning.error:
                record.error = planning.error
            elif planning.plan is not None:
                record.plans[role.name] = planning.plan
                record.published.update(self.available(planning.plan.published, record, role))

    def args_of(self, role: Role, record: HostRecord) -> dict[str, Any]:
        """The role's planner arguments for this host, templated once per distinct input."""
        inputs = [record.item.variables, record.installs, record.published]
        key = (role.name, json.dumps(inputs, sort_keys=True, default=repr))
        found = self.args_memo.get(key)
        if found is None:
            try:
                args = self.role_args(role, record.item.variables, record.installs, record.published)
                # Kept as JSON: each host gets its own copy of plain data, much faster than a deepcopy.
                found = json.dumps(args)
            except HostPlanError as exc:
                found = exc
            except TypeError:  # not plain JSON data (never from an argument spec): a deep copy each time
                found = args
            self.args_memo[key] = found
        if isinstance(found, HostPlanError):
            raise found
        return json.loads(found) if isinstance(found, str) else copy.deepcopy(found)

    def available(self, published: dict[str, Any], record: HostRecord, role: Role) -> dict[str, Any]:
        """What a role publishes for the roles after it, limited, when the role does not apply in this run
        (``--tags``), to what already exists: a record with a ``prefix`` (a folder it makes on the host) is
        kept only when observe found that folder, so later roles never plan into a Miniconda or env not
        there."""
        if role.name in self.selected or record.snapshot is None:
            return published
        out = {}
        for name, records in published.items():
            kept = []
            for item in records:
                if not isinstance(item, Mapping) or "prefix" not in item:
                    kept.append(item)
                    continue
                try:
                    if record.snapshot.exists(str(item["prefix"])):
                        kept.append(item)
                except NotObserved:
                    kept.append(item)
            out[name] = kept
        return out

    def result(self, record: HostRecord) -> dict[str, Any]:
        item = record.item
        plans = record.plans
        status = "failed" if record.error else ("skipped" if not record.installs else "ok")
        if status == "skipped" and record.source == "probe":
            status = UNMANAGED  # observed: no ArcGIS installed for all users, so no role has work here
        changes: list[dict[str, Any]] | None = None
        findings: list[dict[str, Any]] = []
        if record.snapshot is not None and status == "ok" and record.ctx is not None:
            try:
                changes = host_changes(self.apply_order, plans, record.ctx)
                composed(changes, record.snapshot, item.host)
                in_use(changes, record.snapshot, item.host)
                record.warnings += session_warnings(changes, record.snapshot, item.host)
                mirror = next((p.share_mirror for p in plans.values() if p.share_mirror), "")
                ps.mark_share_reads(changes, mirror)
                findings = fc.audit(record.snapshot, record.ctx.trusted, record.installs)
            except HOST_ERRORS as exc:
                record.error, status = f"{item.host}: {host_error(exc)}", "failed"
        selected = {name: plan for name, plan in plans.items() if name in self.selected}
        reads, runs = verify_params(selected.values())
        if not self.applies and changes:  # verify.yml: nothing of this plan is applied before its checks
            runs, held = held_back(runs, changes)
            record.warnings += held
        # The licence choice in force is reported for every host, also one whose plan failed.
        sources = [line for plan in plans.values() for line in plan.sources]
        sources = sources or [ps.setting_label(item.variables)]
        # Planned, but not all of it: a declared release whose stack is unknown gets no env (the fix named).
        problems = [f"{item.host}: {p}" for plan in plans.values() for p in plan.problems]
        if status == "ok" and problems:
            status = "incomplete"
        row: dict[str, Any] = {
            "host": item.host,
            "lab": item.lab,
            "status": status,
            "error": record.error
            or "; ".join(problems)
            or (
                ""
                if record.installs or status == UNMANAGED
                else "no ArcGIS probed or declared (fleet_arcgis_releases)"
            ),
            "source": record.source,
            "arcgis": [
                f"{i['id']} python {i.get('python_major_minor')} "
                + " ".join(f"{p} {(i.get('packages') or {}).get(p)}" for p in STACK_PACKAGES)
                for i in record.installs
            ],
            "changes": summary_of(changes) if changes is not None else ["not observed yet"],
            # The plan as data (role, step, action, target, reason; no file bytes), for scripts and tests.
            "planned": [fc.brief(c) for c in changes] if changes is not None else None,
            "security": [
                f"{f['path']}: writable by {', '.join(f['writable_by']) or '-'}, owner {f['owner']}"
                for f in findings
            ],
            "sources": sources,
            "notes": fp.arcmap_notes(record.installs)
            + (
                [
                    "no ArcGIS installed for all users was found (a per-user ArcGIS Pro is its user's): "
                    "nothing managed here"
                ]
                if status == UNMANAGED
                else []
            ),
        }
        for name, plan in plans.items():
            row[name] = plan.lines + [f"warning: {w}" for w in plan.warnings]
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
                # Which role asked for each run: verify reports per role whether its checks ran and passed.
                "by_role": {
                    name: [str(r["id"]) for r in plan.verify_runs] for name, plan in selected.items()
                },
            },
            "judge": {name: plan.judge for name, plan in selected.items()},
            "published": record.published,
            "notes": row["notes"],
            "warnings": list(record.warnings)
            + [w for plan in plans.values() for w in plan.warnings]
            + [f"note: {n}" for n in row["notes"]],
        }


def host_changes(roles: Sequence[Role], plans: Mapping[str, RolePlan], ctx: RoleContext) -> list[dict]:
    """The host's change list, role by role in the order given (the apply's), then each role's retire step
    (applied by site.yml once verify passed). ``ctx`` has a snapshot."""
    changes: list[dict[str, Any]] = []
    for role in roles:
        plan = plans.get(role.name)
        made = ctx.changes(role.name)
        if plan is None or plan.make_changes is None or made is None:
            continue
        plan.make_changes(made)
        changes += made.items
    for role in roles:
        plan = plans.get(role.name)
        if plan is not None and plan.make_retire is not None:
            made = ctx.changes(f"{role.name}_retire")
            if made is not None:
                plan.make_retire(made)
                changes += made.items
    return changes


def composed(changes: Sequence[Mapping[str, Any]], snap: Snapshot, host: str) -> None:
    """Check one host's change list as a whole (each role's list is right alone; together they must be
    too): no change replaces or deletes a file an earlier change of this run wrote or moved aside, and a
    file moved aside never takes a name a file already has. Otherwise the host stops before its first
    change: the roles disagree, a bug to report."""
    made: dict[str, Mapping[str, Any]] = {}  # lower path -> the change that wrote or copied it
    aside: dict[str, Mapping[str, Any]] = {}  # lower path -> the change that moved a file there

    def under(k: str, found: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
        return next((c for p, c in found.items() if p == k or p.startswith(k + "\\")), None)

    def refuse(change: Mapping[str, Any], earlier: Mapping[str, Any], what: str) -> None:
        raise HostPlanError(
            f"{host}: {change['role']} would {change['action']} {change['target']}, which {earlier['role']} "
            f"{what} earlier in this run ({earlier['action']} {earlier['target']}): nothing is changed on "
            "this host. This is a bug in how the roles compose; please report it with the plan "
            "(playbooks/plan.yml). Fix meanwhile: run the roles one at a time (--tags <role>)."
        )

    for change in changes:
        item = change.get("item") or {}
        op = item.get("op")
        if change.get("step") != "files" or op not in ("write", "copy", "delete", "rmdir_empty"):
            continue
        k = fh.key(str(item.get("path")))
        removes = op in ("delete", "rmdir_empty")
        moved_here = under(k, aside) if removes else aside.get(k)
        if moved_here is not None:
            refuse(change, moved_here, "moved a file aside to")
        written = under(k, made) if removes else made.get(k)
        if written is not None and (removes or written["role"] != change["role"]):
            refuse(change, written, "wrote")
        if op == "copy" and item.get("exclusive"):
            try:
                there, theirs = snap.sha256(str(item["path"])), snap.sha256(str(item["src"]))
            except NotObserved:
                there = theirs = None
            if there is not None and there != theirs:
                raise HostPlanError(
                    f"{host}: {change['role']} would move {item['src']} aside onto {item['path']}, which "
                    "already holds another file: nothing is changed on this host. A bug; please report it."
                )
            aside[k] = change
        elif not removes:
            made[k] = change


def held_back(runs: Sequence[dict[str, Any]], changes: Sequence[Mapping[str, Any]]) -> tuple[list, list[str]]:
    """(the verify runs that may run now, a note for each held back): a program inside a folder the
    changes secure is writable by users until they are applied (a half-done install, a folder Windows
    left open), so running it as admin now would trust it. Its role's checks then fail: not converged."""
    secured = [fh.key(str(c["item"]["path"])) for c in changes if (c.get("item") or {}).get("op") == "secure"]
    keep, notes = [], []
    for run in runs:
        exe = str((run.get("argv") or [""])[0])
        folder = next((s for s in secured if fh.key(exe).startswith(s + "\\")), None)
        if folder is None:
            keep.append(run)
        else:
            notes.append(
                f"verify did not run {exe}: {folder} is not secured yet (users can write it until site.yml "
                "secures it), so running it as admin would trust it. Fix: run site.yml for this host."
            )
    return keep, notes


def verify_params(plans: Iterable[RolePlan]) -> tuple[list[Read], list[dict[str, Any]]]:
    reads: list[Read] = []
    runs: list[dict[str, Any]] = []
    for plan in plans:
        reads += plan.verify_reads
        runs += plan.verify_runs
    return reads, runs


def verified_roles(
    judge: Mapping[str, Any], by_role: Mapping[str, Sequence[str]], problems: Mapping[str, list[str]]
) -> dict[str, bool]:
    """Per role judged: whether its checks ran on the host (it listed runs) and all passed."""
    return {name: bool(by_role.get(name)) and not problems.get(name) for name in judge}


def judge_host(
    roles: Sequence[Role], host: str, judge: Mapping[str, Any], snap: Snapshot
) -> dict[str, list[str]]:
    """Problems per role after the apply (empty lists when all is well), by each role's own judge."""
    problems: dict[str, list[str]] = {}
    try:
        for role in roles:
            if role.name in judge:
                problems[role.name] = role.judge(judge[role.name], host, snap)
    except NotObserved as exc:
        problems.setdefault("fleet", []).append(f"{host}: verify did not read {exc}: a bug in the plan")
    return problems


# An on-host conda solve (no lock, no clone) of a large env can pass WinRM's default 1024 MB shell quota;
# Windows then ends the process mid-transaction. Below this the plan warns (a judgement, not a measurement:
# conda's solver memory grows with the channels' repodata; Pro's is several hundred MB).
SOLVE_SHELL_MB = 2048


def in_use(changes: Sequence[Mapping[str, Any]], snap: Snapshot, host: str) -> None:
    """Refuse the host's plan when a change would replace or remove a folder a running program was started
    from (a student's Spyder, Jupyter or python.exe in an env): Windows keeps the image and its DLLs open,
    so conda or the uninstaller would stop half-way. Nothing is changed on that host; the run says who."""
    for change in changes:
        item = change.get("item") or {}
        if change["step"] not in ("command", "package") and item.get("op") not in ("delete", "rmdir_empty"):
            continue
        for proc in snap.holders(str(change["target"])):
            raise HostPlanError(
                f"{host}: {change['target']} is in use by {proc.get('name')} (pid {proc.get('pid')}, "
                f"{proc.get('path')}): {change['role']} would {change['action']} it and stop half-way, so "
                "nothing is changed on this host. Fix: ask its user to close it (or sign them out), then run "
                "again for this host (the retry command below)."
            )


def solves_on_host(changes: Sequence[Mapping[str, Any]]) -> list[str]:
    """Targets of conda commands that solve on the host (no ``--file`` lock, no ``--clone``)."""
    found = []
    for change in changes:
        argv = [str(a) for a in (change.get("item") or {}).get("argv") or []]
        solves = argv[1:2] and argv[1] in ("install", "create", "update")
        if change["step"] == "command" and solves and "--file" not in argv and "--clone" not in argv:
            found.append(str(change["target"]))
    return found


def session_warnings(changes: Sequence[Mapping[str, Any]], snap: Snapshot, host: str) -> list[str]:
    quota, setting = fh.memory_quota(snap.session)  # the quota of the connection this run uses
    solves = solves_on_host(changes)
    if not quota or int(quota) >= SOLVE_SHELL_MB or not solves:
        return []
    return [
        f"{host}: WinRM's MaxMemoryPerShellMB is {quota}; conda solves on the host for {', '.join(solves)} "
        f"and may be ended mid-way above it. Fix (reversible): on the host, Set-Item {setting} "
        f"{SOLVE_SHELL_MB} and restart WinRM (set it back the same way)."
    ]


def summary_of(changes: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per change, as check mode prints it and the report shows it."""
    return [f"{c['role']}: {c['action']} {c['target']} ({c['reason']})" for c in changes]


def lock_reader(root: Path) -> Callable[[str], bytes]:
    def read(path: str) -> bytes:
        found = Path(path)
        return (found if found.is_absolute() else root / found).read_bytes()

    return read


def project_path(path: str | os.PathLike[str], config_file: str | None = None) -> Path:
    """Relative paths are relative to the ansible.cfg in use (like the fact cache), else to the cwd."""
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    base = Path(config_file).parent if config_file else Path.cwd()
    return base / candidate
