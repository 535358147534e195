"""Role miniconda: Miniconda beside ArcGIS, matched to each ArcGIS Python, and the system condarc.

Everything the fleet flow needs of this role, in one place (see ``fleet_role``): what observe reads, the
plan (the pure planner is ``miniconda_plan``), the changes against the snapshot, what verify runs and
reads, and its judgement. No Ansible imports.
"""

from __future__ import annotations

import json
import ntpath
from collections.abc import Mapping
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_plan as mp
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import package_sources as ps
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_changes import (
    ISOLATED,
    TRUSTED,
    Changes,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import Read, Snapshot
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import (
    Fleet,
    HostPlanError,
    Observation,
    ObserveContext,
    PlanError,
    Role,
    RoleContext,
    RolePlan,
)

# What a Miniconda (constructor) install lays out; conda envs get the same but envs/, pkgs/ and Scripts/.
MINICONDA_DIRS = ("Lib", "Lib\\site-packages", "conda-meta", "envs", "pkgs", "Scripts", "condabin", "DLLs")


# The planner's arguments, as an Ansible argument spec (roles/miniconda/vars/plan.yml wires the role's
# public variables to them); validated for every host before planning, as Ansible validates a module's.
MINICONDA_SPEC: dict[str, Any] = {
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "arcgis": {"type": "raw"},
    "flavours": {"type": "list", "elements": "str", "default": []},
    "flavour_overrides": {"type": "dict", "default": {}},
    "versions": {"type": "dict", "default": {}},
    "installer_files": {"type": "dict", "default": {}},
    "checksums": {"type": "dict", "default": {}},
    "prefixes": {"type": "dict", "default": {}},
    "source": {"type": "str", "default": mp.OFFICIAL_ARCHIVE},
    "controller_fetch_url": {"type": "str", "default": ""},
    "download_dir": {"type": "str", "default": mp.DEFAULT_DOWNLOAD_DIR},
    "manage_condarc": {"type": "bool", "default": True},
    "channels": {"type": "list", "elements": "str", "default": ["defaults"]},
    "channel_mirror": {"type": "str", "default": ""},
    "free_channel": {"type": "bool", "default": True},
    "default_channels": {"type": "list", "elements": "str", "default": []},
    "proxy": {"type": "str", "default": ""},
    "proxy_password_readable_by_users": {"type": "bool", "default": False},
    "remote_max_retries": {"type": "int", "default": 5},
    "remote_connect_timeout_secs": {"type": "float", "default": 30.0},
    "remote_read_timeout_secs": {"type": "float", "default": 120.0},
    "condarc_extra": {"type": "dict", "default": {}},
    # The source policy (package_sources.py), from fleet_anaconda_channels and fleet_package_mirror.
    "anaconda": {"type": "str", "choices": list(ps.LICENCES)},  # no default: the organisation decides
    "mirror": {"type": "str", "default": ""},
    "conda_forge_channel": {"type": "str", "default": "https://conda.anaconda.org/conda-forge"},
}


def miniconda_reads(inputs: mp.PlanInputs) -> list[Read]:
    """The system condarc, the installer folder and each Miniconda prefix with what it should hold."""
    prefixes, _rest = mp.resolve_prefixes(inputs.prefixes)
    download_dir = mp.check_download_dir(inputs.download_dir)
    reads = [
        Read(mp.CONDARC_PATH, content=True),
        Read(mp.CONDARC_ORIGINAL),
        Read(ntpath.dirname(mp.CONDARC_PATH), "dir"),
        Read(download_dir, "dir"),
        Read(ntpath.dirname(download_dir), "dir"),
    ]
    for name, prefix in prefixes.items():
        reads.append(Read(prefix, "dir"))
        product = mp.installer_product(name, inputs.installer_files.get(name))  # Miniforge3's uninstaller
        reads += [Read(path) for path in mp.expected_files(name, prefix, product)]
        reads.append(Read(ntpath.join(prefix, mp.INSTALL_MARKER_NAME)))
        reads.append(Read(mp.started_record(download_dir, name)))
    return reads


def render_system_condarc(marker: str, settings: Mapping[str, Any]) -> str:
    """The system-wide condarc: CRLF line ends (a Windows file, as win_template wrote it), scalars as
    JSON, which YAML reads back exactly."""
    lines = [
        f"{marker} Local edits are overwritten on the next run.",
        "# Decided by arcgis_conda.fleet (role miniconda). SSL settings are not here: role doi_cert keeps "
        "them in",
        "# C:\\ProgramData\\conda\\condarc.d\\. CRLF line ends, which YAML and conda read as line breaks.",
    ]
    for name, value in settings.items():
        if isinstance(value, Mapping) and value:
            lines.append(f"{name}:")
            lines += [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()]
        elif isinstance(value, list | tuple) and value:
            lines.append(f"{name}:")
            lines += [f"  - {json.dumps(v)}" for v in value]
        else:
            lines.append(f"{name}: {json.dumps(value)}")
    return "\r\n".join(lines) + "\r\n"


def marker_of(install: Mapping[str, Any]) -> str:
    """What the marker in the prefix (and the record written before the installer) holds."""
    installer = install["installer"]
    content = {"flavour": install["flavour"], "installer": installer["file"], "sha256": installer["sha256"]}
    return json.dumps(content, indent=4, sort_keys=True)


def started(snap: Snapshot, install: Mapping[str, Any]) -> bool:
    """Whether this fleet started the install: its record, written before the installer ran, is there and
    only administrators could have written it."""
    entry = snap.entry(install["started"])
    return entry.type == "file" and entry.trusted()


def not_removed(plan: Mapping[str, Any], snap: Snapshot, host: str) -> list[str]:
    """Uninstall never skips silently: a Miniconda at a managed prefix with neither marker nor record."""
    return [
        f"{host}: {r['prefix']} is not removed: it has neither this role's marker ({mp.INSTALL_MARKER_NAME}) "
        "nor its install record, so it was not installed by this fleet. Fix: if it is yours, remove it by "
        "hand (its Uninstall-*.exe), or leave it"
        for r in plan.get("removals") or []
        if snap.exists(r["prefix"]) and not snap.exists(r["marker"]) and not started(snap, r)
    ]


def miniconda_changes(plan: Mapping[str, Any], snap: Snapshot, c: Changes) -> None:
    """Install, secure and configure what the plan says, against what observe read."""
    condarc = plan["condarc"]
    if plan["state"] == "absent":
        for removal in plan["removals"]:
            if not snap.exists(removal["marker"]) and not started(snap, removal):
                continue  # not ours: the plan warns when a Miniconda is there
            # A marker or uninstaller any user could have put there is never believed, nor run as admin.
            for path in (removal["prefix"], removal["marker"], removal["uninstaller"]):
                c.refuse_untrusted_folder(path, f"removing {removal['label']}")
            if snap.exists(removal["uninstaller"]):
                c.other(
                    "package",
                    "uninstall",
                    removal["prefix"],
                    f"remove {removal['label']}",
                    {
                        "path": removal["uninstaller"],
                        "arguments": removal["uninstall_arguments"],
                        "creates_path": removal["uninstaller"],
                        "expected_return_code": [0],
                        "state": "absent",
                    },
                )
            c.other(
                "files",
                "delete",
                removal["prefix"],
                "what the uninstaller leaves",
                {"op": "delete", "path": removal["prefix"]},
            )
            c.forget(removal["prefix"])
        c.delete(plan["download_dir"], "the installer folder this role owns")
        text = snap.text(condarc["path"])
        ours = text is None or mp.condarc_is_managed(text)
        if text is not None and ours:
            c.delete(condarc["path"], "the system-wide condarc this role wrote")
        if ours and snap.exists(condarc["original"]):
            c.copy(condarc["original"], condarc["path"], "put back the condarc from before this role")
            c.delete(condarc["original"], "the kept copy, now back in place")
        elif ours:
            c.rmdir_empty(
                condarc["dir"], "the system-wide conda folder, empty once this role's files are gone"
            )
        root = ntpath.dirname(plan["download_dir"])
        if root.count("\\") >= 2:  # never C:\ProgramData itself
            c.rmdir_empty(root, "the fleet's own folder, empty once every role's files are gone")
        return

    if plan["installs"]:
        c.mkdir(plan["download_dir"], "installer folder")
        root = ntpath.dirname(plan["download_dir"])
        c.secure(root if root.count("\\") >= 2 else plan["download_dir"], TRUSTED)
    to_install = []
    for install in plan["installs"]:
        marker = marker_of(install)
        if snap.exists(install["conda_exe"]):
            # Found there, it is run as admin: only when an administrator made it (never adopted).
            for path in (install["prefix"], install["conda_exe"]):
                c.refuse_untrusted_folder(path, f"running {install['label']}'s conda")
            if not snap.exists(install["marker"]) and started(snap, install):
                # This fleet ran the installer and lost the host before securing and marking the prefix.
                c.secure(install["prefix"], TRUSTED)
                c.write(install["marker"], marker, "finish the install an earlier run started (no marker)")
            continue
        c.refuse_untrusted_folder(install["prefix"], f"installing {install['label']}")
        if started(snap, install) and snap.exists(install["prefix"]):
            # The installer this fleet started stopped before conda.exe: start again from an empty folder.
            c.delete(install["prefix"], "repair: the half-done install an earlier run started (no conda.exe)")
            c.forget(install["prefix"])
        # Before any installer runs, in the same batched call as the installer folder (no extra round trip).
        c.write(
            install["started"], marker, "record that this fleet starts the installer (finds a half-done one)"
        )
        to_install.append(install)
    for install in to_install:
        marker = marker_of(install)
        installer = install["installer"]
        dest = installer["dest"]
        have = snap.exists(dest)
        if not have:
            kind = installer["source_kind"]
            if kind == "url":
                c.other(
                    "download",
                    "download",
                    dest,
                    f"installer {installer['file']} from {installer['source']}",
                    {
                        "url": installer["source"],
                        "dest": dest,
                        "checksum": installer["sha256"],
                        "checksum_algorithm": "sha256",
                        "force": False,
                        **({"proxy_url": plan["download_proxy"]} if plan.get("download_proxy") else {}),
                    },
                )
            elif kind == "host_path":
                c.other(
                    "host_copy",
                    "copy",
                    dest,
                    f"installer {installer['file']} from {installer['source']}",
                    {"src": installer["source"], "dest": dest, "remote_src": True},
                )
            else:
                if installer.get("fetch_url"):
                    c.other(
                        "fetch",
                        "download to the controller",
                        installer["source"],
                        f"installer {installer['file']}",
                        {
                            "url": installer["fetch_url"],
                            "dest": installer["source"],
                            "checksum": f"sha256:{installer['sha256']}",
                            "mode": "0644",
                        },
                    )
                c.other(
                    "upload",
                    "upload",
                    dest,
                    f"installer {installer['file']} from the controller",
                    {"src": installer["source"], "dest": dest},
                )
        c.other(
            "package",
            "install",
            install["prefix"],
            install["label"],
            {
                "path": dest,
                "arguments": install["arguments_string"],
                "creates_path": install["conda_exe"],
                "checksum": installer["sha256"],
                "checksum_algorithm": "sha256",
                "expected_return_code": [0, 3010],
                "state": "present",
            },
        )
        c.creates(install["prefix"], MINICONDA_DIRS)
        c.secure(install["prefix"], TRUSTED)
        c.write(install["marker"], marker, "mark the folder as installed by this role")

    for install in plan["installs"]:
        c.secure(install["prefix"], TRUSTED)  # an install found there, or made earlier: conda runs from it
    if condarc.get("manage"):
        entry = snap.entry(condarc["path"])
        text = snap.text(condarc["path"]) if entry.trusted() else None
        c.mkdir(condarc["dir"], "system-wide conda settings")
        c.secure(condarc["dir"], TRUSTED)
        if text is not None and not mp.condarc_is_managed(text):
            c.copy(
                condarc["path"], condarc["original"], "keep the condarc from before this role", force=False
            )
        c.write(
            condarc["path"],
            render_system_condarc(condarc["marker"], condarc.get("settings") or {}),
            "channels, mirror, proxy and timeouts for every conda",
            # A copy of a file holding a password would keep it after the password changes: none is made.
            backup=not condarc.get("secret"),
            secret=bool(condarc.get("secret")),
        )


def miniconda_verify(plan: Mapping[str, Any]) -> tuple[list[Read], list[dict[str, Any]]]:
    if plan["state"] != "present":
        return [], []
    reads = [Read(path) for install in plan["installs"] for path in install["expected_files"]]
    runs = [
        {"id": f"miniconda-{i['flavour']}", "argv": [i["conda_exe"], "--version"], "timeout": 120}
        for i in plan["installs"]
    ]
    runs += [
        {"id": f"arcgis-{p['id']}", "argv": [p["python_exe"], *ISOLATED, "-c", "import sys"], "timeout": 120}
        for p in plan["arcgis_pythons"]
    ]
    return reads, runs


def miniconda_judge(plan: Mapping[str, Any], snap: Snapshot, host: str) -> list[str]:
    problems = []
    for install in plan["installs"] if plan["state"] == "present" else []:
        run = snap.runs.get(f"miniconda-{install['flavour']}") or {}
        present = {path: snap.exists(path) for path in install["expected_files"]}
        rc = run.get("rc") if not run.get("error") else None
        judged = mp.judge_install(install, present, rc, fh.run_output(run), host)
        if not judged["ok"]:
            problems.append(judged["message"])
    for python in plan["arcgis_pythons"] if plan["state"] == "present" else []:
        run = snap.runs.get(f"arcgis-{python['id']}") or {}
        if run.get("rc") != 0:
            problems.append(
                f"{host}: ArcGIS Python {python['python_exe']} ({python['id']}) no longer starts "
                f"(rc {run.get('rc')}, {run.get('error') or str(run.get('stderr') or '')[:200]!r}). Fix: "
                "repair ArcGIS; the miniconda role never touches its Python."
            )
    return problems


class Miniconda(Role):
    name = "miniconda"
    argument_spec = MINICONDA_SPEC
    column = "Miniconda"

    def observe(self, args: Mapping[str, Any], octx: ObserveContext) -> Observation:
        try:
            inputs = mp.inputs_from_args(args)
            reads = miniconda_reads(inputs)
            prefixes = list(mp.resolve_prefixes(inputs.prefixes)[0].values())
        except PlanError:
            return Observation()  # the plan reports the bad input
        # Every Miniconda prefix may hold a conda that reads condarc.d (doi_cert) and owns envs (arcgis_env).
        readers = [{"flavour": ntpath.basename(p), "prefix": p} for p in prefixes]
        return Observation(
            reads=reads,
            # The system condarc read back holds the proxy's password when it has one: hide the result.
            secret=mp.proxy_has_credentials(args.get("proxy") or None),
            published={"miniconda_installs": readers},
        )

    def plan(self, args: Mapping[str, Any], ctx: RoleContext, fleet: Fleet) -> RolePlan:
        inputs = mp.inputs_from_args(args)
        try:
            plan = mp.plan_miniconda(inputs, ctx.os_bits)
        except PlanError as exc:
            raise HostPlanError(f"{ctx.host}: {exc}") from None
        out = RolePlan(published={"miniconda_installs": plan["published"]}, warnings=list(plan["warnings"]))
        if ctx.snapshot is not None:
            out.warnings += not_removed(plan, ctx.snapshot, ctx.host)
        out.lines = [i["label"] + f" (installer {i['installer']['file']})" for i in plan.get("installs", [])]
        if plan["condarc"].get("manage"):
            out.lines.append(f"manage {plan['condarc']['path']}")
        out.make_changes = lambda c: miniconda_changes(plan, c.snapshot, c)
        out.verify_reads, out.verify_runs = miniconda_verify(plan)
        out.judge = {"plan": {k: plan[k] for k in ("state", "installs", "arcgis_pythons")}}
        try:
            out.sources = ps.installer_sources_lines(mp.policy_of(inputs), plan.get("installs") or [])
        except ps.SourceError:
            out.sources = []
        return out

    def judge(self, judge: Mapping[str, Any], host: str, snap: Snapshot) -> list[str]:
        return miniconda_judge(judge["plan"], snap, host)
