"""Plan one host through every role: desired state from the roles' planners, changes against what
observe read, and what verify will run. Used by the ``fleet_plan`` action for the live run (site.yml,
with a snapshot) and for the offline plan (playbooks/plan.yml, with the last cached snapshot or none).

Each ``plan_<role>`` takes the role's templated, validated arguments and a :class:`RoleContext`, and
returns a :class:`RoleResult`. Without a snapshot (a host never observed) the desired state is planned
and reported, and ``changes`` is None: nothing can be said about what differs. No Ansible imports.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ntpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_changes as fc
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import NotObserved, Read, Snapshot

STACK_PACKAGES = ("numpy", "matplotlib", "scipy")
# SHA-256 of files/demo-lab-root-ca.crt, the example inventory's throw-away CA (its key was discarded).
DEMO_CA_SHA256 = "cc433e11eb2fcadc815385a27f3c69ca33d35b26a80af3e9e3b9ef0fb22538f4"


@dataclass
class RoleResult:
    lines: list[str] = field(default_factory=list)
    published: dict[str, Any] = field(default_factory=dict)
    verify_reads: list[Read] = field(default_factory=list)
    verify_runs: list[dict[str, Any]] = field(default_factory=list)
    # What judging the verify answers needs, kept with the host's plan (plain data).
    judge: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Compares the role's desired state with the snapshot; called in the order the playbook applies the
    # roles (uninstall: reversed), so what one role deletes is known to the next (folders left empty).
    make_changes: Callable[[fc.Changes], None] | None = None
    # Changes applied after verify passed (site.yml's retire step): envs an upgrade replaced or orphaned.
    make_retire: Callable[[fc.Changes], None] | None = None


@dataclass
class RoleContext:
    host: str
    installs: list[dict[str, Any]]
    snapshot: Snapshot | None
    planned: dict[str, str]  # paths planned by earlier roles on this host (see fleet_changes.Changes)
    read_file: Callable[[str], bytes]  # a controller file (certificates, locks)
    gone: set[str] = field(default_factory=set)  # paths this run deletes, all roles together
    trusted: list[str] = field(default_factory=list)  # paths the run trusts, all roles together (audit)

    def changes(self, role: str) -> fc.Changes | None:
        if self.snapshot is None:
            return None
        return fc.Changes(role, self.snapshot, self.planned, self.gone, self.trusted)


class HostPlanError(ValueError):
    """The host's inputs cannot be planned; the message names host, variable, value and fix."""


# --- miniconda ----------------------------------------------------------------------------------------


def plan_miniconda(args: Mapping[str, Any], ctx: RoleContext, os_bits: int | None) -> RoleResult:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_plan as mp

    inputs = mp.inputs_from_args(args)
    try:
        plan = mp.build_plan(inputs, os_bits)
    except mp.PlanError as exc:
        raise HostPlanError(f"{ctx.host}: {exc}") from None
    out = RoleResult(published={"miniconda_installs": plan["published"]}, warnings=list(plan["warnings"]))
    out.lines = [i["label"] + f" (installer {i['installer']['file']})" for i in plan.get("installs", [])]
    if plan["condarc"].get("manage"):
        out.lines.append(f"manage {plan['condarc']['path']}")
    out.make_changes = lambda c: fc.miniconda_changes(plan, c.snapshot, c)
    out.verify_reads, out.verify_runs = fc.miniconda_verify(plan)
    out.judge = {"plan": {k: plan[k] for k in ("state", "installs", "arcgis_pythons")}}
    return out


def miniconda_reads(args: Mapping[str, Any]) -> list[Read]:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_plan as mp

    try:
        return fc.miniconda_reads(mp.inputs_from_args(args))
    except mp.PlanError:
        return []  # the plan reports the bad input


# --- doi_cert ------------------------------------------------------------------------------------------


def doi_cert_settings(args: Mapping[str, Any], host: str) -> Any:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_plan import settings_from_args

    return settings_from_args(args, host)


def build_bundle(args: Mapping[str, Any], read: Callable[[str], bytes]) -> dict[str, Any]:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_bundle import bundle_from_args

    return bundle_from_args(args, lambda path, _what: read(path), dt.datetime.now(dt.UTC)).as_dict()


def plan_doi_cert(
    bundle_args: Mapping[str, Any], args: Mapping[str, Any], ctx: RoleContext, bundle: dict[str, Any] | None
) -> RoleResult:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import doi_cert_plan as dp

    settings = doi_cert_settings(args, ctx.host)
    present = settings.state == "present"
    try:
        warnings = dp.validate_settings(settings)
        if present and bundle is None:
            bundle = build_bundle(bundle_args, ctx.read_file)
    except (dp.PlanError, ValueError) as exc:
        raise HostPlanError(f"{ctx.host}: doi_cert: {exc}") from None
    out = RoleResult(warnings=list(warnings) + list((bundle or {}).get("warnings") or []))
    if present and any(
        str(c.get("sha256", "")).lower() == DEMO_CA_SHA256 for c in (bundle or {}).get("certificates") or []
    ):
        out.warnings.append(
            "doi_cert trusts the example inventory's DEMO CA (files/demo-lab-root-ca.crt), not your "
            "organisation's: set doi_cert_certificates (and doi_cert_fingerprints) to your root CA"
        )
    if present and bundle:
        out.lines = [
            f"trust {r['subject']} (sha256 {r['sha256'][:16]}..., until {r['not_after']})"
            for r in bundle["certificates"]
        ]
        out.lines.append(
            f"bundle: {bundle['public_roots_count']} public + {len(bundle['certificates'])} roots"
        )
    if ctx.snapshot is None:
        return out
    roots = dp.scan_parameters(settings, [])["CondaRoots"]
    settings = dp.with_conda_versions(settings, fc.conda_versions(ctx.snapshot, roots))
    thumbprints = [str(c["sha1"]) for c in (bundle or {}).get("certificates") or []]
    params = dp.scan_parameters(settings, thumbprints)
    try:
        raw = fc.doi_cert_scan(params, ctx.snapshot)
        untrusted = raw.pop("untrusted")
        plan = dp.make_plan(settings, raw, bundle if present else None).as_dict()
    except dp.PlanError as exc:
        raise HostPlanError(str(exc)) from None
    if not args.get("harden_acl", True):
        plan["harden_dirs"] = []
    if present and args.get("fail_on_override") and plan["overrides"]:
        raise HostPlanError(
            f"host {ctx.host}: after this run {len(plan['overrides'])} conda set-up(s) would use another "
            f"ssl_verify: {plan['overrides']}. Fix: keep doi_cert_condarc_final true, set "
            "doi_cert_manage_user_condarc true, or fix the named files."
        )
    out.warnings += list(plan["warnings"]) + list(plan["report"])
    out.warnings += [
        f"{p}: not an administrator's file, so not trusted; moved aside to {p}.untrusted" for p in untrusted
    ]
    out.make_changes = lambda c: fc.doi_cert_changes(plan, c.snapshot, c, settings.manifest_path, untrusted)
    out.verify_reads = fc.doi_cert_verify(plan, settings)
    out.judge = {
        "plan": {"condarc_files": plan["condarc_files"], "reader_files": plan["reader_files"]},
        "args": dict(args),
        "bundle_sha256": fc.sha256(str(bundle["bundle_pem"])) if present and bundle else None,
    }
    return out


def doi_cert_reads(args: Mapping[str, Any], host: str, manifest: str | None, profiles: Sequence) -> list:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import doi_cert_plan as dp

    settings = doi_cert_settings(args, host)
    try:
        dp.validate_settings(settings)
    except dp.PlanError:
        return []
    # Thumbprints are looked up in the store in call 2 by the plan's own list; paths do not depend on them.
    reads = fc.doi_cert_reads(dp.scan_parameters(settings, []), manifest, profiles)
    # What it writes there, with owners and ACLs: a file a user put in its place is never trusted.
    return [*reads, Read(ntpath.join(settings.cert_dir, "*"), "glob")]


def doi_cert_thumbprints(args: Mapping[str, Any], manifest: str | None, read: Callable[[str], bytes]) -> list:
    """The Root-store thumbprints the plan asks about: the organisation roots now, and those an earlier run
    imported (its record). A bad certificate input yields none here; the plan reports it."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_plan import Manifest

    found: list[str] = []
    if args["plan"].get("state") == "present":
        with contextlib.suppress(ValueError, OSError):
            found += [str(c["sha1"]).upper() for c in build_bundle(args["bundle"], read)["certificates"]]
    prev, _rest = Manifest.parse(manifest)
    found += [str(t).upper() for t in sorted(prev.store)]
    return list(dict.fromkeys(found))


def judge_doi_cert(judge: Mapping[str, Any], host: str, snap: Snapshot) -> list[str]:
    return _judge_doi(judge, doi_cert_settings(judge["args"], host), snap)


def _judge_doi(judge: Mapping[str, Any], settings: Any, snap: Snapshot) -> list[str]:
    import yaml

    if settings.state != "present":
        return []
    problems = []
    if snap.sha256(settings.bundle_path) != judge["bundle_sha256"]:
        problems.append(
            f"host {settings.host}: {settings.bundle_path} is missing or differs from the bundle built on "
            "the controller. Fix: look for another process rewriting it, then run again."
        )
    for path in judge["plan"]["condarc_files"]:
        text = snap.text(path)
        value = (yaml.safe_load(text) or {}).get("ssl_verify") if text else None
        if value != settings.ssl_verify_value:
            problems.append(
                f"host {settings.host}: {path} does not set ssl_verify to {settings.ssl_verify_value}"
            )
    problems += _judge_readers(judge["plan"].get("reader_files") or [], settings, snap)
    if settings.pip and f"cert = {settings.bundle_path}" not in (snap.text(settings.pip_ini) or ""):
        problems.append(f"host {settings.host}: {settings.pip_ini} has no 'cert = {settings.bundle_path}'")
    return problems


def _judge_readers(readers: Sequence[Mapping[str, Any]], settings: Any, snap: Snapshot) -> list[str]:
    """Each conda's machine-scope result (Miniconda's and ArcGIS Pro's own conda): the value its files end
    with, by conda's precedence (last wins, first ``#!final`` wins)."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import doi_cert_plan as dp

    problems = []
    ours = str(settings.ssl_verify_value)
    for reader in readers:
        found = []
        for path in reader["files"]:
            text = snap.text(path)
            setting = dp.read_ssl_verify(path, text)[0] if text else None
            if setting:
                found.append(setting)
        winner = dp.effective_ssl_verify(found)
        value = winner.value if winner else True
        if not (isinstance(value, str) and value.lower() == ours.lower()):
            where = winner.path if winner else "no file sets it (conda's default: True)"
            problems.append(
                f"host {settings.host}: {reader['label']}'s conda ends with ssl_verify={value!r} ({where}), "
                f"not {ours}: it does not trust the organisation's CA. Fix: remove ssl_verify from that "
                "file, or keep doi_cert_condarc_final true and programdata in doi_cert_condarc_locations."
            )
    return problems


# --- arcgis_env ----------------------------------------------------------------------------------------


def arcgis_env_facts(installs: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Installs the env planner can serve; a declared release whose pins are unverified is skipped."""
    facts, lines = [], []
    for install in installs:
        if install.get("status") == "declared":
            unknown = [p for p in STACK_PACKAGES if p in (install.get("unverified") or [])]
            if unknown:
                lines.append(
                    f"skipped: {install['id']}: {', '.join(unknown)} unknown for this release (unverified in "
                    "the release table); probe the host (playbooks/probe.yml) to measure them"
                )
                continue
            install = {**install, "status": "ok"}
        facts.append(dict(install))
    return facts, lines


def unknown_stack_problems(
    host: str, installs: Sequence[Mapping[str, Any]], products: Sequence[str]
) -> list[str]:
    """The host's problem for each declared release whose pins the table cannot give: no env is planned for
    it, so the host is not ``ok``; the message names the two fixes (measure it, or declare it)."""
    problems = []
    for install in installs:
        unknown = [p for p in STACK_PACKAGES if p in (install.get("unverified") or [])]
        if install.get("status") != "declared" or not unknown or install.get("product") not in products:
            continue
        product, version = install.get("product"), install.get("version")
        declared = ", ".join(f"{p}: '<version>'" for p in unknown)
        problems.append(
            f"ArcGIS {product} {version} ({install['id']}): {', '.join(unknown)} unknown for this release "
            "(unverified in the release table), so no env is planned for it. Fix: probe the host "
            f"(ansible-playbook playbooks/probe.yml --limit {host}) to measure them, or declare them in its "
            f"fleet_arcgis_releases entry: {{product: {product}, version: '{version}', {declared}}}"
        )
    return problems


def plan_arcgis_env(
    args: Mapping[str, Any],
    ctx: RoleContext,
    plans: list[dict[str, Any]],
    locks: Mapping[str, Mapping[str, Any]],
    skipped: Sequence[str],
) -> RoleResult:
    """This host's share of the fleet-wide env plan (``plans``, with each lock's path filled in)."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_host import published_envs

    out = RoleResult(published={"arcgis_env_envs": published_envs(plans)})
    for plan in plans:
        pins = " ".join(f"{n}=={v}" for n, v in plan["pins"].items())
        kind = f"{plan['kind']}, {plan['platform']}, python {plan['python_major_minor']}"
        out.lines.append(f"{plan['name']} ({kind}): {pins}")
    out.lines += [s if s.startswith("skipped:") else f"skipped: {s}" for s in skipped]
    drifts, notes = arcgis_env_drift(args, ctx, plans, locks) if args["state"] == "present" else ([], [])
    out.lines += [f"drift: {d.line()}" for d in drifts]
    out.warnings += notes + [d.line() for d in drifts if d.state in NOTABLE_DRIFT]
    by_name = {d.name: d for d in drifts}
    out.make_changes = lambda c: fc.arcgis_env_changes(
        plans, locks, c.snapshot, c, args["state"], args["host_dir"], ctx.read_file, by_name
    )
    if any(d.retire for d in drifts):
        out.make_retire = lambda c: retire_unless_in_use(drifts, c, out.warnings)
    out.verify_runs = fc.arcgis_env_verify(plans, args["state"])
    out.judge = {"plans": plans, "state": args["state"]}
    return out


NOTABLE_DRIFT = ("ArcGIS upgraded", "changed by hand", "ArcGIS removed")


def arcgis_env_drift(
    args: Mapping[str, Any],
    ctx: RoleContext,
    plans: Sequence[Mapping[str, Any]],
    locks: Mapping[str, Mapping[str, Any]],
) -> tuple[list[Any], list[str]]:
    """Each env against its record (arcgis_env_drift), and warnings; none without a snapshot."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_env_drift as ad

    snap = ctx.snapshot
    if snap is None:
        return [], []
    host_dir = str(args["host_dir"])
    try:
        paths = snap.glob(ntpath.join(ad.records_dir(host_dir), "*.json"))
    except NotObserved:  # an observation cached before env records existed (plan.yml offline)
        return [], [
            "env records were not observed (an older observation): drift is planned after the next run"
        ]
    # A record decides what a retire deletes: one an administrator did not write is never believed (the
    # role's own write of that env's record moves it aside first, as any untrusted file).
    records, warnings = ad.observed_records(
        {p: snap.text(p) for p in paths}, lambda p: snap.entry(p).trusted()
    )

    def exists(prefix: str) -> bool | None:
        try:
            return fc.env_exists(snap, prefix)
        except NotObserved:
            return None  # under a root observe did not read (its Miniconda is not served now)

    observed = {}
    for name, record in records.items():
        if exists(str(record.get("prefix") or "")) is None:
            warnings.append(f"env {name} ({record.get('prefix')}): its folder was not observed; left alone")
        else:
            observed[name] = record
    files = {name: ad.record_path(host_dir, name) for name in observed}
    shas = {str(p["name"]): fc.lock_sha256(p, ctx.read_file) for p in plans}
    drifts = ad.classify(
        plans,
        observed,
        files,
        lambda prefix: bool(exists(prefix)),
        lambda plan: fc.hand_changes(plan, snap, locks) if exists(str(plan["prefix"])) else [],
        shas,
        repair=bool(args.get("repair")),
        keep_previous=bool(args.get("keep_previous")),
    )
    return drifts, warnings


def retire_unless_in_use(drifts: Sequence[Any], c: fc.Changes, warnings: list[str]) -> None:
    """The retire pass, but an env a running program was started from stays for a later run (said so)."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_env_drift as ad

    ready = []
    for drift in drifts:
        holders = c.snapshot.holders(drift.prefix) if drift.retire and drift.prefix else []
        if holders:
            names = ", ".join(f"{p.get('name')} (pid {p.get('pid')})" for p in holders)
            warnings.append(f"{drift.name}: not retired this run, in use by {names}; a later run retires it")
            continue
        ready.append(drift)
    ad.retire_changes(ready, c)


def arcgis_env_reads(
    args: Mapping[str, Any], conda_prefixes: Sequence[str], pro_roots: Sequence[str]
) -> list:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_spec import (
        EnvSettings,
        SpecError,
    )

    try:
        settings = EnvSettings.from_mapping(args["settings"])
    except (SpecError, KeyError, TypeError, ValueError):
        return []
    return fc.arcgis_env_reads(settings, conda_prefixes, pro_roots, str(args["host_dir"]))


# --- startup_bridge ------------------------------------------------------------------------------------


def plan_startup_bridge(args: Mapping[str, Any], ctx: RoleContext) -> RoleResult:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import startup_bridge_plan as sb

    snap = ctx.snapshot

    def list_dirs(folder: str) -> list[str]:
        names = snap.listing(folder) if snap is not None else []
        return [ntpath.join(folder, n) for n in names or []]

    def checksums(paths: list[str]) -> dict[str, str | None]:
        if snap is None:
            return {}
        return {p: snap.sha256(p) for p in paths if snap.exists(p)}

    try:
        plan = sb.plan_for_host(
            list(args["arcgis"] or []),
            list(args["envs"] or []),
            scope=args["scope"],
            state=args["state"],
            users=list(args["users"]),
            default_profile=args["default_profile"],
            profiles_dir=args["profiles_dir"],
            verify_arcpy=args["verify_arcpy"],
            list_dirs=list_dirs,
            checksums=checksums,
            records=list(snap.profiles) if snap is not None else None,
        ).as_dict()
    except sb.PlanError as exc:
        raise HostPlanError(f"{ctx.host}: startup_bridge: {exc}") from None
    if not args.get("verify", True):
        plan["verify"] = []
    out = RoleResult(
        warnings=[f"startup_bridge leaves {s['what']} alone: {s['why']}" for s in plan["skipped"]]
    )
    out.lines = (
        [f"scope {args['scope']}"]
        + [c["dest"] for c in plan["copies"]]
        + [c["dest"] for c in plan["contents"]]
        + [
            f"verify only: {v['label']} (a clone of arcgispro-py3 imports arcpy itself)"
            for v in plan["verify"]
            if v.get("verify_only")
        ]
    )
    secure = []
    if args["state"] == "present" and args.get("secure_pythons", True):
        # The admin run starts these Pythons (probe, verify): a user who can write there runs code as admin.
        # Not Pro's arcgispro-py3: the fleet never changes Esri's env (audit.yml reports it if unsafe).
        secure = [
            str(i["prefix"])
            for i in args["arcgis"] or []
            if i.get("prefix") and i.get("status") == "ok" and i.get("product") != "pro"
        ]
    out.make_changes = lambda c: fc.startup_bridge_changes(plan, c.snapshot, c, secure)
    out.verify_runs = fc.startup_bridge_verify(plan) if args["state"] == "present" else []
    out.judge = {"plan": {"verify": plan["verify"]}}
    return out


def startup_bridge_reads(
    args: Mapping[str, Any],
    python_prefixes: Sequence[str],
    env_roots: Sequence[str],
    profiles: Sequence[Mapping[str, Any]] = (),
) -> list[Read]:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import startup_bridge_plan as sb

    profiles_dir = str(args.get("profiles_dir"))
    return fc.startup_bridge_reads(
        python_prefixes,
        env_roots,
        str(args.get("scope")),
        profiles_dir,
        sb.profile_parents([dict(p) for p in profiles], profiles_dir),
    )


# --- the host as a whole -------------------------------------------------------------------------------


def host_changes(results: Mapping[str, RoleResult], ctx: RoleContext, roles: Sequence[str]) -> list[dict]:
    """The host's change list, role by role in apply order (None-free: ctx has a snapshot)."""
    changes: list[dict[str, Any]] = []
    for role in roles:
        result = results.get(role)
        made = ctx.changes(role)
        if result is None or result.make_changes is None or made is None:
            continue
        result.make_changes(made)
        changes += made.items
    for role in roles:  # after every role: applied by site.yml once verify passed
        result = results.get(role)
        if result is not None and result.make_retire is not None and ctx.snapshot is not None:
            made = ctx.changes(f"{role}_retire")
            if made is not None:
                result.make_retire(made)
                changes += made.items
    return changes


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


def verify_params(results: Mapping[str, RoleResult]) -> tuple[list[Read], list[dict[str, Any]]]:
    reads: list[Read] = []
    runs: list[dict[str, Any]] = []
    for result in results.values():
        reads += result.verify_reads
        runs += result.verify_runs
    return reads, runs


def judge_host(host: str, judge: Mapping[str, Any], snap: Snapshot) -> dict[str, list[str]]:
    """Problems per role after the apply (empty lists when all is well)."""
    problems: dict[str, list[str]] = {}
    try:
        if "miniconda" in judge:
            problems["miniconda"] = fc.judge_miniconda(judge["miniconda"]["plan"], snap, host)
        if judge.get("doi_cert"):
            problems["doi_cert"] = judge_doi_cert(judge["doi_cert"], host, snap)
        if "arcgis_env" in judge:
            problems["arcgis_env"] = fc.judge_arcgis_env(
                judge["arcgis_env"]["plans"], snap, judge["arcgis_env"]["state"]
            )
        if "startup_bridge" in judge:
            verdict = fc.judge_startup_bridge(judge["startup_bridge"]["plan"], snap)
            problems["startup_bridge"] = list(verdict["problems"])
    except NotObserved as exc:
        problems.setdefault("fleet", []).append(f"{host}: verify did not read {exc}: a bug in the plan")
    return problems


def lock_reader(root: Path) -> Callable[[str], bytes]:
    def read(path: str) -> bytes:
        found = Path(path)
        return (found if found.is_absolute() else root / found).read_bytes()

    return read
