"""Role startup_bridge: ArcGIS's Python sees the env's packages, and the env can ``import arcpy``.

Everything the fleet flow needs of this role, in one place (see ``fleet_role``): what observe reads (each
ArcGIS Python's site-packages and start-up files, each env's, the profiles' user sites in scope
``user``), the plan (the pure planner is ``startup_bridge_plan``), the changes against the snapshot (the
ArcGIS Pythons the admin run starts are secured first), what verify runs (the seed's checks, both ways),
and its judgement (``startup_bridge_verdict``). No Ansible imports.
"""

from __future__ import annotations

import ntpath
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import startup_bridge_plan as sb
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_changes import (
    STARTUP_FILES,
    TRUSTED,
    Changes,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import Read, Snapshot
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import (
    ROOT,
    Fleet,
    HostPlanError,
    Observation,
    ObserveContext,
    PlanError,
    Role,
    RoleContext,
    RolePlan,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.startup_bridge_verdict import judge_results

# The planner's arguments, as an Ansible argument spec (roles/startup_bridge/vars/plan.yml wires the
# role's public variables to them); validated for every host before planning.
STARTUP_BRIDGE_SPEC: dict[str, Any] = {
    "arcgis": {"type": "list", "elements": "dict", "required": True},
    "envs": {"type": "list", "elements": "dict", "default": []},
    "scope": {"type": "str", "choices": ["machine", "user"], "default": "machine"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "users": {"type": "list", "elements": "str", "default": []},
    "default_profile": {"type": "bool", "default": True},
    "profiles_dir": {"type": "str", "default": "C:\\Users"},
    "verify_arcpy": {"type": "bool", "default": False},
}

STARTUP_BRIDGE_SPEC["verify"] = {"type": "bool", "default": True}
STARTUP_BRIDGE_SPEC["secure_pythons"] = {"type": "bool", "default": True}


def startup_bridge_paths(
    python_prefixes: Iterable[str],
    env_roots: Iterable[str],
    scope: str,
    profiles_dir: str,
    other_profile_dirs: Iterable[str] = (),
) -> list[Read]:
    names = (sb.HOOK_NAME, sb.DATA_NAME, sb.PTH_NAME)
    reads = []
    for prefix in python_prefixes:
        site = ntpath.join(prefix, "Lib", "site-packages")
        reads.append(Read(prefix, "dir"))
        reads.append(Read(site, "dir"))
        reads += [Read(ntpath.join(site, pattern), "glob") for pattern in STARTUP_FILES]
        reads += [Read(ntpath.join(site, name)) for name in names]
    for root in env_roots:
        reads += [Read(ntpath.join(root, "*", "Lib", "site-packages", name), "glob") for name in names]
        reads += [Read(ntpath.join(root, "*", "Lib", "site-packages", p), "glob") for p in STARTUP_FILES]
        reads.append(Read(ntpath.join(root, "*", "Lib", "site-packages"), "glob"))
    # Scope user: the profiles folder, and any other folder ProfileList puts a profile in.
    for folder in (profiles_dir, *other_profile_dirs) if scope == "user" else ():
        reads.append(Read(folder, "dir"))
        user_site = ntpath.join(folder, "*", "AppData", "Roaming", "Python", "*")
        for name in (*names, sb.SHIM_NAME, sb.BACKUP_NAME):
            reads.append(Read(ntpath.join(user_site, "site-packages", name), "glob"))
        for depth in ("", "site-packages", ntpath.join("site-packages", "__pycache__")):
            reads.append(Read(ntpath.join(user_site, depth) if depth else user_site, "glob"))
        reads.append(Read(ntpath.join(folder, "*", "AppData", "Roaming", "Python"), "glob"))
        # Where a profile without a Python folder yet gets one: its AppData\Roaming must be known to exist.
        reads.append(Read(ntpath.join(folder, "*", "AppData", "Roaming"), "glob", detail=False))
    return reads


def bridge_file(name: str) -> bytes:
    return (ROOT / "roles" / "startup_bridge" / "files" / name).read_bytes()


def startup_bridge_changes(
    plan: Mapping[str, Any], snap: Snapshot, c: Changes, secure: Sequence[str] = ()
) -> None:
    for path in secure:
        c.quarantine_startup_files(path)
        c.secure(path, TRUSTED)
    for path in plan["dirs"]:
        c.mkdir(path, "user site folder for the bridge")
    for item in plan["backups"]:
        c.copy(item["src"], item["dest"], "keep the user's own usercustomize.py", force=False)
    for item in plan["copies"]:
        c.write(item["dest"], bridge_file(item["src"]), "the bridge hook")
    for item in plan["contents"]:
        c.write(
            item["dest"], item["content"], "the bridge's paths" if item["dest"].endswith(".json") else ".pth"
        )
    for item in plan["restores"]:
        c.copy(item["src"], item["dest"], "put the user's own usercustomize.py back")
    for path in plan["removes"]:
        c.delete(path, "the bridge's file")
    for path in plan["remove_if_empty"]:
        c.rmdir_empty(path, "a folder the bridge created")


def startup_bridge_verify(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    script = bridge_file("arcgis_conda_bridge_verify.py").decode("utf-8")
    return [
        {
            "id": f"bridge-{run['key']}",
            "argv": run["argv"],
            "stdin": script,
            "timeout": 300,
            # The env side runs activated (its compiled packages load their DLLs); ArcGIS's Python as is.
            # Scope user: PYTHONUSERBASE points site.py at the profile that got the shim.
            "environment": (fh.conda_activation(run["prefix"]) if run["side"] == "env" else [])
            + [f"{name}={value}" for name, value in sorted((run.get("environment") or {}).items())],
        }
        for run in plan.get("verify") or []
    ]


def startup_bridge_judge(plan: Mapping[str, Any], snap: Snapshot) -> dict[str, Any]:
    results = []
    for run in plan.get("verify") or []:
        got = snap.runs.get(f"bridge-{run['key']}")
        if got is None:
            continue
        results.append(
            {
                "item": run,
                "rc": got.get("rc"),
                "stdout": got.get("stdout") or "",
                "stderr": got.get("stderr") or "",
                "msg": got.get("error"),
            }
        )
    return judge_results(results)


def bridge_hives(profiles: Sequence[Mapping[str, Any]], scope: str, users: Sequence[str]) -> list[str]:
    """SIDs of the offline profiles whose hive observe must load for this role: with scope user, each
    listed user's (their AppData may be redirected: ``sb.profile_dirs`` leaves such a profile alone), and
    only those the first read did not read already. Scope machine needs no user's hive."""
    if scope != "user":
        return []
    sids: list[str] = []
    for user in users:
        for found in fh.match_profiles(profiles, user, full=True):
            sid = str(found.get("sid") or "")
            if sid and not found.get("hive_read") and sid not in sids:
                sids.append(sid)
    return sids


class StartupBridge(Role):
    name = "startup_bridge"
    argument_spec = STARTUP_BRIDGE_SPEC
    column = "Startup bridge"

    def observe(self, args: Mapping[str, Any], octx: ObserveContext) -> Observation:
        env_roots = [str(r) for r in octx.published.get("arcgis_env_roots") or [] if r]
        profiles_dir = str(args.get("profiles_dir"))
        profiles = [dict(p) for p in octx.first.profiles]
        return Observation(
            reads=startup_bridge_paths(
                octx.python_prefixes,
                env_roots,
                str(args.get("scope")),
                profiles_dir,
                sb.profile_parents(profiles, profiles_dir),
            ),
            hives=bridge_hives(profiles, str(args.get("scope")), list(args.get("users") or [])),
        )

    def plan(self, args: Mapping[str, Any], ctx: RoleContext, fleet: Fleet) -> RolePlan:
        snap = ctx.snapshot

        def list_dirs(folder: str) -> list[str]:
            names = snap.listing(folder) if snap is not None else []
            return [ntpath.join(folder, n) for n in names or []]

        def checksums(paths: list[str]) -> dict[str, str | None]:
            if snap is None:
                return {}
            return {p: snap.sha256(p) for p in paths if snap.exists(p)}

        try:
            plan = sb.plan_startup_bridge(
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
        except PlanError as exc:
            raise HostPlanError(f"{ctx.host}: startup_bridge: {exc}") from None
        if not args.get("verify", True):
            plan["verify"] = []
        out = RolePlan(
            warnings=[f"startup_bridge leaves {s['what']} alone: {s['why']}" for s in plan["skipped"]]
        )
        declared = [str(i.get("id")) for i in args["arcgis"] or [] if i.get("status") == "declared"]
        out.lines = (
            [f"scope {args['scope']}"]
            + [
                f"{arcgis_id}: declared (fleet_arcgis_releases), not observed yet: bridged from its first "
                "observation (site.yml or playbooks/probe.yml)"
                for arcgis_id in declared
            ]
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
            # The admin run starts these Pythons (probe, verify): whoever can write there runs code as admin.
            # Not Pro's arcgispro-py3: the fleet never changes Esri's env (audit.yml reports it if unsafe).
            secure = [
                str(i["prefix"])
                for i in args["arcgis"] or []
                if i.get("prefix") and i.get("status") == "ok" and i.get("product") != "pro"
            ]
        out.make_changes = lambda c: startup_bridge_changes(plan, c.snapshot, c, secure)
        out.verify_runs = startup_bridge_verify(plan) if args["state"] == "present" else []
        out.judge = {"plan": {"verify": plan["verify"]}}
        return out

    def judge(self, judge: Mapping[str, Any], host: str, snap: Snapshot) -> list[str]:
        return list(startup_bridge_judge(judge["plan"], snap)["problems"])
