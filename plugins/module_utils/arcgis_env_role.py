"""Role arcgis_env: a conda env pinned to each ArcGIS Python's stack, with IPython, Jupyter and Spyder.

Everything the fleet flow needs of this role, in one place (see ``fleet_role``): what observe reads (every
env under each Miniconda and the Pro clone root, their records and locks), the fleet-wide step (the pure
planner ``arcgis_env_spec`` plans each host, then one solve per distinct stack in ``arcgis_env_lock``),
each host's share (drift against the env records, ``arcgis_env_drift``), the changes against the
snapshot (``arcgis_env_host`` decides each env's conda command), what verify runs, and its judgement; the
retire step that site.yml applies after verify passed. No Ansible imports.
"""

from __future__ import annotations

import ntpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_env_drift as ad
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_env_students as st
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import package_sources as ps
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_host import (
    env_change,
    published_envs,
    verify_env,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_spec import (
    EnvSettings,
    SpecError,
    plan_arcgis_env,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_release import (
    RELEASE_PRODUCTS,
    STACK_PACKAGES,
    UnknownRelease,
    lookup_release,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_changes import (
    ISOLATED,
    TRUSTED,
    Changes,
    sha256,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import (
    PROGRAMDATA_CONDA,
    NotObserved,
    Read,
    Snapshot,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import (
    ROOT,
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

# What conda lays out in a new env before later changes of this run write into it.
ENV_DIRS = ("Lib", "Lib\\site-packages", "conda-meta")

# The planner's arguments, as an Ansible argument spec (roles/arcgis_env/vars/plan.yml wires the role's
# public variables to them); validated for every host before planning, as Ansible validates a module's.
ARCGIS_ENV_SPEC: dict[str, Any] = {
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "facts": {"type": "list", "elements": "dict", "default": []},
    "conda_installs": {"type": "list", "elements": "dict", "default": []},
    "host_dir": {"type": "str", "required": True},
    "settings": {"type": "dict", "default": {}},
    "channel_mirrors": {"type": "dict", "default": {}},
    "refresh": {"type": "bool", "default": False},
    "timeout": {"type": "float", "default": 10.0},
    "repair": {"type": "bool", "default": False},
    "keep_previous": {"type": "bool", "default": False},
}


def arcgis_env_reads(
    settings: Any, conda_prefixes: Iterable[str], pro_roots: Iterable[str], host_dir: str
) -> list[Read]:
    """Every env this role may own: under each Miniconda's envs\\ and under the Pro clone root."""
    reads = [
        Read(host_dir, "dir"),
        Read(ntpath.dirname(host_dir), "dir"),
        Read(settings.host_lock_dir, "dir"),
    ]
    reads.append(Read(ntpath.join(settings.host_lock_dir, "*.txt"), "glob"))
    # What each env was built from (arcgis_env_drift), with owners: only an administrator's record counts.
    records = ntpath.join(host_dir, "records")
    reads += [Read(records, "dir"), Read(ntpath.join(records, "*.json"), "glob", content=True)]
    conda_prefixes = list(conda_prefixes)
    for prefix in conda_prefixes:  # each Miniconda's own configuration: the pins of the one stack it serves
        reads += [
            Read(ntpath.join(prefix, "condarc.d"), "dir"),
            Read(ntpath.join(prefix, st.ROOT_CONDARC), content=True),
        ]
    roots = [ntpath.join(p, "envs") for p in conda_prefixes] + [settings.prefix_root]
    for root in roots:
        reads.append(Read(root, "dir"))
        reads.append(Read(ntpath.join(root, "*", "conda-meta"), "glob"))
        reads.append(Read(ntpath.join(root, "*", "conda-meta", "history"), "glob"))
        reads.append(Read(ntpath.join(root, "*", "conda-meta", "*.json"), "glob", detail=False))
        reads.append(Read(ntpath.join(root, "*", "conda-meta", "pinned"), "glob", True))
        # What each env carries for its students (arcgis_env_students), rewritten when it differs.
        reads += [Read(ntpath.join(root, "*", n), "glob") for n in (st.PIP_INI, st.CONSTRAINTS, st.README)]
    reads.append(Read(ntpath.dirname(settings.prefix_root), "dir"))
    reads += [Read(PROGRAMDATA_CONDA, "dir"), Read(ENVS_CONDARC_DIR, "dir"), Read(ENVS_CONDARC, content=True)]
    for root in pro_roots:
        source = ntpath.join(root, "envs", "arcgispro-py3", "conda-meta")
        reads += [
            Read(ntpath.join(source, "pinned"), content=True),
            Read(ntpath.join(source, "*.json"), "glob", detail=False),
        ]
    return reads


# Every conda on Windows reads C:\ProgramData\conda\condarc.d\*.yml for every account (conda >= 4.6.9,
# conda/conda#8272; the path is hard-coded). Its envs_dirs puts each account's own ~\.conda\envs first, so a
# student's `conda create -n NAME` lands in their profile, then the lab's clone folders, which makes the
# clones named envs of every user's conda, Pro's included (`conda env list`, `activate <name>`); pkgs_dirs
# puts each account's own package cache first (arcgis_env_students, with the sources).
ENVS_CONDARC_DIR = ntpath.join(PROGRAMDATA_CONDA, "condarc.d")


ENVS_CONDARC = ntpath.join(ENVS_CONDARC_DIR, "arcgis_env.yml")


def lab_envs_changes(plans: Sequence[Mapping[str, Any]], c: Changes, state: str, host_dir: str) -> None:
    """The system condarc: each account's own envs folder and package cache first, then the lab's clone
    folders and the machine caches (state absent, or no env: removed)."""
    folders = list(dict.fromkeys(ntpath.dirname(p["prefix"]) for p in plans if p["kind"] == "pro_clone"))
    roots = list(dict.fromkeys(st.conda_root(str(p["conda_exe"])) for p in plans))
    caches = list(dict.fromkeys(pkgs_dir(p, host_dir) for p in plans))
    if state == "present" and plans:
        c.mkdir(ENVS_CONDARC_DIR, "system-wide conda settings")
        c.secure(PROGRAMDATA_CONDA, TRUSTED)
        c.write(
            ENVS_CONDARC,
            st.machine_condarc(folders, roots, caches),
            "every account's conda: own envs and package cache first, the lab's envs listed",
        )
        return
    c.delete(ENVS_CONDARC, "no lab env to list")
    if state == "absent":
        c.rmdir_empty(ENVS_CONDARC_DIR, "empty once the role's file is gone")
        c.rmdir_empty(PROGRAMDATA_CONDA, "empty once the role's file is gone")


def served_stacks(plans: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Each Miniconda root -> the lab envs (one per ArcGIS stack) its conda builds on this host."""
    served: dict[str, list[Mapping[str, Any]]] = {}
    for plan in plans:
        if plan["kind"] == "conda":
            served.setdefault(st.conda_root(str(plan["conda_exe"])), []).append(plan)
    return served


def root_condarc_lines(plans: Sequence[Mapping[str, Any]]) -> list[str]:
    """Plan lines: which Miniconda holds its stack's pins for every env, and why one does not."""
    lines = []
    for root, served in served_stacks(plans).items():
        if len(served) == 1:
            lines.append(
                f"{ntpath.join(root, st.ROOT_CONDARC)}: every env of this conda keeps "
                f"{served[0]['name']}'s pins"
            )
        else:
            names = ", ".join(str(p["name"]) for p in served)
            lines.append(
                f"{root} serves {len(served)} ArcGIS stacks ({names}): no conda-wide pins (they would "
                "contradict each other); each lab env keeps its own conda-meta\\pinned, a student's clone of "
                "it keeps none (conda's --clone does not copy it) and pip's constraints only"
            )
    return lines


def root_condarc_changes(plans: Sequence[Mapping[str, Any]], snap: Snapshot, c: Changes, state: str) -> None:
    """``<Miniconda>\\condarc.d\\arcgis_env.yml``: the pins of the one ArcGIS stack that Miniconda serves,
    read by its conda for every account and every env (arcgis_env_students.root_condarc); removed when the
    Miniconda serves none or several."""
    served = served_stacks(plans) if state == "present" else {}
    for root, listed in served.items():
        if len(listed) == 1:
            c.mkdir(ntpath.join(root, "condarc.d"), "this Miniconda's own settings")
            c.write(ntpath.join(root, st.ROOT_CONDARC), st.root_condarc(listed[0]), "pins for every env")
    for plan in plans:
        root = st.conda_root(str(plan["conda_exe"]))
        if plan["kind"] == "conda" and len(served.get(root, [])) != 1:
            try:
                c.delete(ntpath.join(root, st.ROOT_CONDARC), "this conda serves no single ArcGIS stack")
                c.rmdir_empty(ntpath.join(root, "condarc.d"), "empty once the role's file is gone")
            except NotObserved:
                pass  # a Miniconda observe did not read (not served now): nothing of ours is known there


def pkgs_dir(plan: Mapping[str, Any], host_dir: str) -> str:
    """Where the admin's conda downloads for this env: a Miniconda's own ``<root>\\pkgs`` (gone with that
    Miniconda), or, for a clone by ArcGIS Pro's conda, the role's admin-only folder (gone with the role's
    state absent; Pro's own folder is Esri's)."""
    if plan["kind"] == "conda":
        return ntpath.join(st.conda_root(str(plan["conda_exe"])), "pkgs")
    return ntpath.join(host_dir, "pkgs")


def conda_item(plan: Mapping[str, Any], argv: Sequence[str], host_dir: str) -> dict[str, Any]:
    """A conda command of the admin's run: its downloads go to the machine's package cache
    (CONDA_PKGS_DIRS comes before every condarc's pkgs_dirs: conda/common/configuration.py reads the
    environment variables after the files of the search path, and a SequenceParameter puts later sources
    first), never the service account's ~\\.conda\\pkgs that the students' condarc lists first."""
    return {"argv": list(argv), "environment": {"CONDA_PKGS_DIRS": pkgs_dir(plan, host_dir)}}


def student_files_changes(plan: Mapping[str, Any], c: Changes, snap: Snapshot | None = None) -> None:
    """What a lab env carries for its students, in its sys.prefix (a clone copies them, see
    arcgis_env_students): pip's site configuration with ArcGIS's versions as constraints, and a README;
    a Miniconda env's conda-meta\\pinned (a Pro clone's is written with Esri's, _pro_clone_changes)."""
    prefix = str(plan["prefix"])
    if plan["kind"] == "conda" and snap is not None:
        pinned = ntpath.join(prefix, "conda-meta", "pinned")
        current = snap.text(pinned) if env_meta(snap, prefix, "pinned") else None
        c.write(pinned, merge_pinned(current, st.conda_pin_lines(plan)), "hold ArcGIS's Python and stack")
    c.write(ntpath.join(prefix, st.CONSTRAINTS), st.constraints_text(plan), "ArcGIS's versions, for pip")
    c.write(
        ntpath.join(prefix, st.PIP_INI),
        st.pip_ini_text(prefix),
        "pip's site configuration: every install keeps ArcGIS's versions",
    )
    c.write(ntpath.join(prefix, st.README), st.readme_text(plan), "how students use this env")


def env_meta(snap: Snapshot, prefix: str, name: str) -> list[str]:
    """Observed ``conda-meta\\<name>`` paths (a glob pattern) of the env at ``prefix``, one of the envs
    observe globbed together under the same root (``<root>\\*\\conda-meta\\...``)."""
    pattern = ntpath.join(ntpath.dirname(prefix), "*", "conda-meta", name)
    return [p for p in snap.glob(pattern) if fh.key(ntpath.dirname(ntpath.dirname(p))) == fh.key(prefix)]


def installed_from_meta(snap: Snapshot, prefix: str) -> dict[str, tuple[str, str]]:
    """The env's packages, name -> (version, build), from its ``conda-meta`` records."""
    return fh.conda_packages(env_meta(snap, prefix, "*.json"))


def source_packages(snap: Snapshot, clone_source: str) -> dict[str, tuple[str, str]]:
    """arcgispro-py3's packages (observe globs its conda-meta on its own)."""
    return fh.conda_packages(snap.glob(ntpath.join(clone_source, "conda-meta", "*.json")))


def merge_pinned(text: str | None, lines: Sequence[str]) -> str:
    """Esri's pinned file with each of our pins replacing its package's line (or appended), LF ends."""
    out = (text or "").replace("\r\n", "\n").splitlines()
    for line in lines:
        name = line.split(" ")[0]
        pattern = re.compile(rf"^{re.escape(name)}( |=|$)")
        hits = [i for i, old in enumerate(out) if pattern.match(old)]
        if hits:
            out[hits[-1]] = line
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def env_exists(snap: Snapshot, prefix: str) -> bool:
    """conda writes ``conda-meta\\history`` with an env's first transaction: conda's own test of an env."""
    return bool(env_meta(snap, prefix, "history"))


def arcgis_env_changes(
    plans: Sequence[Mapping[str, Any]],
    locks: Mapping[str, Mapping[str, Any]],
    snap: Snapshot,
    c: Changes,
    state: str,
    host_dir: str,
    read_lock: Callable[[str], bytes],
    drift: Mapping[str, Any] | None = None,
) -> None:
    if state == "absent":
        roots: list[str] = []
        for plan in plans:
            if env_exists(snap, plan["prefix"]):
                argv = [plan["conda_exe"], "remove", "--prefix", plan["prefix"], "--all", "--yes", "--quiet"]
                c.other(
                    "command",
                    "remove env",
                    plan["prefix"],
                    f"env {plan['name']}",
                    conda_item(plan, argv, host_dir),
                )
                # conda removes the prefix; anything it leaves is deleted by the next run (no history).
                c.forget(plan["prefix"])
            elif snap.exists(plan["prefix"]):
                c.delete(plan["prefix"], "an env folder without conda-meta\\history (what conda left)")
            if plan["kind"] == "pro_clone" and ntpath.dirname(plan["prefix"]) not in roots:
                roots.append(ntpath.dirname(plan["prefix"]))
        c.delete(host_dir, "the role's own folder (lock copies)")
        for root in roots:
            c.rmdir_empty(root, "the clone folder, empty once the clones are gone")
        lab_envs_changes(plans, c, state, host_dir)
        root_condarc_changes(plans, snap, c, state)
        return

    # First, with the lock copies: one batched files call (envs_dirs may name a folder not made yet).
    lab_envs_changes(plans, c, state, host_dir)
    root_condarc_changes(plans, snap, c, state)
    conda_plans = [p for p in plans if p["kind"] == "conda"]
    if any(p["kind"] == "pro_clone" for p in plans):
        c.mkdir(ntpath.join(host_dir, "pkgs"), "the package cache of the admin's Pro clones")
        c.secure(host_dir, TRUSTED)
    if any(p["method"] == "lock" for p in conda_plans):
        c.mkdir(ntpath.dirname(conda_plans[0]["host_lock_path"]), "lock copies")
        c.secure(host_dir, TRUSTED)
    for plan in conda_plans:
        if plan["method"] == "lock":
            c.write(
                plan["host_lock_path"],
                read_lock(plan["lock_path"]),
                f"lock {plan['spec_key']} for {plan['name']}",
            )
    drift = drift or {}
    built = []
    for plan in plans:
        drifted = drift.get(plan["name"])
        if drifted is not None and (
            drifted.state == "ArcGIS upgraded" or (drifted.details and not drifted.repair)
        ):
            continue  # reported by the plan: left as it is (see arcgis_env_drift)
        built.append(plan)
        exists = env_exists(snap, plan["prefix"])
        if plan["kind"] == "pro_clone":
            _pro_clone_changes(plan, snap, c, exists, host_dir)
            if drifted is not None and drifted.repair:
                # conda-meta\pinned holds Esri's builds; the pins changed by hand are put back explicitly.
                specs = [f"{n}=={v}" for n, v in sorted(plan["pins"].items())]
                channels = [a for ch in plan["channels"] for a in ("--channel", ch)]
                argv = [plan["conda_exe"], "install", "--prefix", plan["prefix"], "--override-channels"]
                c.other(
                    "command",
                    "repair env",
                    plan["prefix"],
                    f"changed by hand, arcgis_env_repair: {'; '.join(drifted.details)}",
                    conda_item(plan, [*argv, *channels, *specs, "--yes", "--quiet"], host_dir),
                )
            student_files_changes(plan, c)
            continue
        lock_packages = (locks.get(plan["spec_key"]) or {}).get("packages") or []
        installed = installed_from_meta(snap, plan["prefix"]) if exists else None
        decided = env_change(plan, lock_packages, installed, exists)
        if decided["action"] == "none":
            student_files_changes(plan, c, snap)
            continue
        if decided["update_text"]:
            c.write(
                decided["update_path"],
                decided["update_text"],
                f"what differs from the lock in {plan['name']}",
            )
        if decided["action"] == "create":
            c.creates(plan["prefix"], ENV_DIRS)
        c.other(
            "command",
            "create env" if decided["action"] == "create" else "update env",
            plan["prefix"],
            decided["summary"],
            conda_item(plan, decided["argv"], host_dir),
        )
        student_files_changes(plan, c, snap)
    # Last, once the envs are built: what each one is built from, in the role's admin-only folder.
    if built:
        c.mkdir(ad.records_dir(host_dir), "what each env is built from")
        c.secure(host_dir, TRUSTED)
    for plan in built:
        record = ad.make_record(plan, lock_sha256(plan, read_lock))
        c.write(
            ad.record_path(host_dir, plan["name"]),
            ad.record_text(record),
            f"the record of env {plan['name']}",
        )


def lock_sha256(plan: Mapping[str, Any], read_lock: Callable[[str], bytes]) -> str | None:
    """The SHA-256 of the lock an env is installed from (None: a clone, or conda solving on the host)."""
    if plan["kind"] != "conda" or plan["method"] != "lock" or not plan.get("lock_path"):
        return None
    return sha256(read_lock(plan["lock_path"]))


def hand_changes(
    plan: Mapping[str, Any], snap: Snapshot, locks: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """How an existing env differs from its plan, in words (empty when it matches): its pins and, for a
    locked env, every package of the lock; packages added beyond the lock are named too."""
    installed = installed_from_meta(snap, plan["prefix"])
    found = []
    got_python = ".".join((installed.get("python") or ("", ""))[0].split(".")[:2])
    if got_python and got_python != plan["python_major_minor"]:
        found.append(f"python {got_python} (ArcGIS ships {plan['python_major_minor']})")
    for name, want in sorted(plan["pins"].items()):
        got = (installed.get(name) or ("", ""))[0]
        if want and got != want:
            found.append(f"{name} {got or 'removed'} (ArcGIS ships {want})")
    lock_packages = (locks.get(plan.get("spec_key") or "") or {}).get("packages") or []
    if plan["kind"] == "conda" and plan["method"] == "lock" and lock_packages:
        decided = env_change(plan, lock_packages, installed, True)
        pinned = {n.split(" ")[0] for n in found}
        found += [f"{n} removed (in the lock)" for n in decided["missing"] if n not in pinned]
        found += [
            f"{n} {'-'.join(installed[n])} (not the lock's build)"
            for n in decided["different"]
            if n not in pinned
        ]
        found += [f"{n} added (not in the lock)" for n in decided["extra"]]
    return found


def _pro_clone_changes(
    plan: Mapping[str, Any], snap: Snapshot, c: Changes, exists: bool, host_dir: str
) -> None:
    source_pinned = snap.text(ntpath.join(plan["clone_source"], "conda-meta", "pinned"))
    # Create secure, then fill: the clone root is admin-only before conda copies anything into it (else,
    # for the minutes a clone takes, it would inherit ProgramData's Users create rights).
    c.mkdir(ntpath.dirname(plan["prefix"]), "the lab's Pro clone folder", secure=True)
    c.secure(ntpath.dirname(plan["prefix"]), TRUSTED)
    if not exists:
        decided = env_change(plan, [], None, False)
        c.other(
            "command",
            "clone",
            plan["prefix"],
            decided["summary"],
            conda_item(plan, decided["argv"], host_dir),
        )
        c.creates(ntpath.dirname(plan["prefix"]))
        c.creates(plan["prefix"], ENV_DIRS)
        current = source_pinned if plan.get("clone_pinned_flag") else None
        # The clone has what arcgispro-py3 has: the tools it lacks are decided from the source's packages.
        installed = source_packages(snap, plan["clone_source"])
    else:
        pinned = ntpath.join(plan["prefix"], "conda-meta", "pinned")
        current = snap.text(pinned) if snap.exists(pinned) else None
        installed = installed_from_meta(snap, plan["prefix"])
    base = current if current is not None else source_pinned
    c.write(
        ntpath.join(plan["prefix"], "conda-meta", "pinned"),
        merge_pinned(base, plan["pinned_lines"]),
        "hold Esri's builds and ArcGIS's Python, numpy, matplotlib and scipy",
    )
    decided = env_change(plan, [], installed, True)
    if decided["action"] == "update":
        c.other(
            "command",
            "add tools",
            plan["prefix"],
            decided["summary"],
            conda_item(plan, decided["argv"], host_dir),
        )


def arcgis_env_verify(plans: Sequence[Mapping[str, Any]], state: str) -> list[dict[str, Any]]:
    if state != "present":
        return []
    script = (ROOT / "roles" / "arcgis_env" / "files" / "arcgis_env_versions.py").read_text(encoding="utf-8")
    return [
        {
            "id": f"env-{p['name']}",
            "argv": [p["python_exe"], *ISOLATED, "{script}"],
            "script": script,
            "timeout": 300,
            # Run as `conda activate` would: a Miniconda env's numpy needs its Library\bin on PATH.
            "environment": fh.conda_activation(p["prefix"]),
        }
        for p in plans
    ]


def arcgis_env_judge(plans: Sequence[Mapping[str, Any]], snap: Snapshot, state: str) -> list[str]:
    if state != "present":
        return []
    problems = []
    for plan in plans:
        run = snap.runs.get(f"env-{plan['name']}") or {}
        problems += verify_env(plan, str(run.get("stdout") or "")) + (
            [f"{plan['name']}: {run['error']}"] if run.get("error") else []
        )
    return problems


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


def probe_only_pins(installs: Sequence[Mapping[str, Any]], plans: Sequence[Mapping[str, Any]]) -> list[str]:
    """A warning per env whose ArcGIS release is not in the release table: its pins come from the probe of
    this host alone (a release newer than the table, or a patch Esri never listed), unchecked against what
    Esri shipped for it."""
    by_id = {str(i.get("id")): i for i in installs}
    out = []
    for plan in plans:
        fact = by_id.get(str(plan.get("arcgis_id"))) or {}
        product, version = str(fact.get("product")), str(fact.get("version"))
        if fact.get("status") != "ok" or product not in RELEASE_PRODUCTS:
            continue
        try:
            lookup_release(version, product)
        except UnknownRelease:
            pins = " ".join(f"{n}=={v}" for n, v in (plan.get("pins") or {}).items())
            out.append(
                f"env {plan.get('name')}: ArcGIS {product} {version} ({fact.get('id')}) is not in the "
                f"release table (Esri's arcgis-dist.json), so its pins ({pins}) come from this host's probe "
                "alone, unchecked against what Esri shipped. Fix: if the probe read a changed ArcGIS Python, "
                "repair ArcGIS first; else add the release to the table (arcgis_release.py) when Esri does"
            )
    return out


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


def arcgis_env_host_plan(
    args: Mapping[str, Any],
    ctx: RoleContext,
    plans: list[dict[str, Any]],
    locks: Mapping[str, Mapping[str, Any]],
    skipped: Sequence[str],
) -> RolePlan:
    """This host's share of the fleet-wide env plan (``plans``, with each lock's path filled in)."""
    out = RolePlan(published={"arcgis_env_envs": published_envs(plans)})
    for plan in plans:
        pins = " ".join(f"{n}=={v}" for n, v in plan["pins"].items())
        kind = f"{plan['kind']}, {plan['platform']}, python {plan['python_major_minor']}"
        out.lines.append(f"{plan['name']} ({kind}): {pins}")
    out.lines += [s if s.startswith("skipped:") else f"skipped: {s}" for s in skipped]
    out.warnings += probe_only_pins(ctx.installs, plans)
    if args["state"] == "present":
        out.lines += root_condarc_lines(plans)
    drifts, notes = arcgis_env_drift(args, ctx, plans, locks) if args["state"] == "present" else ([], [])
    out.lines += [f"drift: {d.line()}" for d in drifts]
    out.warnings += notes + [d.line() for d in drifts if d.state in NOTABLE_DRIFT]
    by_name = {d.name: d for d in drifts}
    out.make_changes = lambda c: arcgis_env_changes(
        plans, locks, c.snapshot, c, args["state"], args["host_dir"], ctx.read_file, by_name
    )
    if any(d.retire for d in drifts):
        out.make_retire = lambda c: retire_unless_in_use(drifts, c, out.warnings)
    out.verify_runs = arcgis_env_verify(plans, args["state"])
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
            return env_exists(snap, prefix)
        except NotObserved:
            return None  # under a root observe did not read (its Miniconda is not served now)

    observed = {}
    for name, record in records.items():
        if exists(str(record.get("prefix") or "")) is None:
            warnings.append(f"env {name} ({record.get('prefix')}): its folder was not observed; left alone")
        else:
            observed[name] = record
    files = {name: ad.record_path(host_dir, name) for name in observed}
    shas = {str(p["name"]): lock_sha256(p, ctx.read_file) for p in plans}
    drifts = ad.classify(
        plans,
        observed,
        files,
        lambda prefix: bool(exists(prefix)),
        lambda plan: hand_changes(plan, snap, locks) if exists(str(plan["prefix"])) else [],
        shas,
        repair=bool(args.get("repair")),
        keep_previous=bool(args.get("keep_previous")),
    )
    return drifts, warnings


def retire_unless_in_use(drifts: Sequence[Any], c: Changes, warnings: list[str]) -> None:
    """The retire pass, but an env a running program was started from stays for a later run (said so)."""
    ready = []
    for drift in drifts:
        holders = c.snapshot.holders(drift.prefix) if drift.retire and drift.prefix else []
        if holders:
            names = ", ".join(f"{p.get('name')} (pid {p.get('pid')})" for p in holders)
            warnings.append(f"{drift.name}: not retired this run, in use by {names}; a later run retires it")
            continue
        ready.append(drift)
    ad.retire_changes(ready, c)


class ArcgisEnv(Role):
    name = "arcgis_env"
    argument_spec = ARCGIS_ENV_SPEC
    column = "Conda envs (pins, stack)"

    def observe(self, args: Mapping[str, Any], octx: ObserveContext) -> Observation:
        try:
            settings = EnvSettings.from_mapping(args["settings"])
        except SpecError:
            return Observation(published={"arcgis_env_envs": []})  # the plan reports the bad input
        prefixes = [str(r["prefix"]) for r in octx.published.get("miniconda_installs") or []]
        return Observation(
            reads=arcgis_env_reads(settings, prefixes, octx.pro_conda_roots, str(args["host_dir"])),
            published={
                "arcgis_env_envs": [],
                # Where envs live (the bridge reads their site-packages).
                "arcgis_env_roots": [ntpath.join(p, "envs") for p in prefixes] + [settings.prefix_root],
            },
        )

    def plan(self, args: Mapping[str, Any], ctx: RoleContext, fleet: Fleet) -> RolePlan:
        one = HostPlanning(dict(args), ctx)
        self.plan_fleet([one], fleet)
        if one.error or one.plan is None:
            raise HostPlanError(one.error or f"{ctx.host}: arcgis_env: nothing was planned")
        return one.plan

    def plan_fleet(self, hosts: Sequence[HostPlanning], fleet: Fleet) -> None:
        """Each host's envs, then one lock per distinct stack for the whole batch, then each host's share."""
        from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_lock import (
            Locker,
            UnsatisfiableError,
            lock_fleet,
        )

        pending: dict[str, set[str]] = {}
        specs: dict[str, Any] = {}
        controller_map: dict[str, str] = {}
        lock_args: Mapping[str, Any] = {}
        planned: dict[int, tuple[list[Any], list[str], list[str]]] = {}
        for index, host in enumerate(hosts):
            args = host.args
            lock_args = lock_args or args
            facts, lines = arcgis_env_facts(args["facts"] or [])
            try:
                settings = EnvSettings.from_mapping(args["settings"])
                envs, skipped = plan_arcgis_env(host.ctx.host, facts, args["conda_installs"] or [], settings)
            except SpecError as exc:
                host.error = f"{host.ctx.host}: arcgis_env: {exc}"
                continue
            problems = []
            if args.get("state", "present") == "present":
                problems = unknown_stack_problems(host.ctx.host, args["facts"] or [], settings.products)
            planned[index] = (envs, lines + skipped, problems)
            for plan, _spec in envs:
                controller_map.update(
                    {h: u for h, u in zip(plan.channels, plan.upstream_channels, strict=False) if h != u}
                )
            for plan, spec in envs:
                if spec is not None:
                    specs.setdefault(spec.key, spec)
                    pending.setdefault(spec.key, set()).add(f"ArcGIS {plan.product} {plan.version}")
        outcomes: dict[str, Any] = {}
        if fleet.lock and pending:
            # The lock settings are fleet-wide: the lock and solver folders are the fleet state's (the action
            # resolves fleet_state_dir into its options); the first planned host gives timeout and mirrors.
            opts = {
                "cache_dir": fleet.options["cache_dir"],
                "lock_dir": fleet.options["lock_dir"],
                "timeout": (lock_args.get("timeout") if fleet.live else None) or fleet.options["timeout"],
            }
            mine = lock_args.get("channel_mirrors") if fleet.live else None
            given = mine or fleet.options["channel_mirrors"]
            # A mirror channel is solved against its upstream (or the admin's controller copy of it).
            mirrors = {h: given.get(u, u) for h, u in controller_map.items()}
            mirrors.update(given)
            locker = Locker(fleet.project_path(opts["cache_dir"]), mirrors, float(opts["timeout"]))
            try:
                outcomes = lock_fleet(
                    {k: specs[k] for k in pending},
                    dict(pending),
                    fleet.project_path(opts["lock_dir"]),
                    locker,
                    refresh=bool(lock_args.get("refresh")) if fleet.live else False,
                )
            except UnsatisfiableError as exc:
                raise FleetError(str(exc)) from exc
            finally:
                locker.close()
            locks_summary = fleet.summary.setdefault("locks", {})
            for key, o in outcomes.items():
                locks_summary[key] = {"status": o.status, "path": o.path, "message": o.message}
                if o.status == "fallback":
                    fleet.warn(f"arcgis_env: no lock, conda will solve on the hosts: {o.message}")
        fleet.summary["distinct_stacks"] = fleet.summary.get("distinct_stacks", 0) + len(specs)
        fleet.summary.setdefault("stack_keys", set()).update(specs)  # planned in processes: counted once
        # Host channel -> upstream channel, for the channels a mirror copies (fleet_mirror fetches upstream).
        fleet.summary.setdefault("controller_map", {}).update(controller_map)
        for index, (envs, skipped, problems) in planned.items():
            host = hosts[index]
            plans = []
            for plan, _spec in envs:
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
                result = arcgis_env_host_plan(host.args, host.ctx, plans, locks, skipped)
            except (NotObserved, OSError) as exc:
                host.error = f"{host.ctx.host}: arcgis_env: {exc}"
                continue
            result.problems = problems
            result.sources = ps.env_sources_lines(plans)
            try:
                result.share_mirror = ps.mirror_url((host.args.get("settings") or {}).get("mirror"))
            except ps.SourceError:
                result.share_mirror = ""
            host.plan = result

    def judge(self, judge: Mapping[str, Any], host: str, snap: Snapshot) -> list[str]:
        return arcgis_env_judge(judge["plans"], snap, judge["state"])
