"""``ansible.windows.win_powershell`` on the simulated host: our host scripts, recognised, imitated.

Dispatch: a script whose first non-empty line is ``# arcgis_conda.fleet host script: <name>``
(``host_read``, ``apply_files``), or one byte-equal to a constant the repository sends today
(``arcgis_facts.REGISTRY_SCRIPT``, ``arcgis_facts.RUN_PROBE_SCRIPT``; read
from the current source files at call time, skipped when a constant is gone). Anything else fails with
"simwin: not modelled". Check mode as win_powershell does it: a script without ``SupportsShouldProcess``
is skipped with ``changed: true`` and "skipped, running in check mode".
"""

from __future__ import annotations

import ast
import base64
import fnmatch
import json
import ntpath
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import host as H
from . import invariant, programs

if TYPE_CHECKING:
    from .modules import Ctx

REPO = Path(__file__).resolve().parents[2]
HEADER = re.compile(r"^\s*#\s*arcgis_conda\.fleet host script:\s*([A-Za-z0-9_]+)\s*$")
SHOULD_PROCESS = re.compile(
    r"\[CmdletBinding\([^)]*\bSupportsShouldProcess\b(?!\s*=\s*\$false)[^)]*\)\]", re.I
)
CONSTANTS = {
    "registry_dump": ("plugins/action/arcgis_facts.py", "REGISTRY_SCRIPT"),
    "run_probe": ("plugins/action/arcgis_facts.py", "RUN_PROBE_SCRIPT"),
}
ESRI_PUBLISHER = "Environmental Systems Research Institute, Inc."
UNINSTALL = "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall"
UNINSTALL_VALUES = ("DisplayName", "DisplayVersion", "InstallLocation", "Publisher")
POWERSHELL = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
INHERIT_OUT = {"none": "none", "container": "container", "object": "object", "both": "both"}


class ScriptFail(Exception):
    def __init__(self, msg: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(msg)
        self.result = result or {}


def _constant(rel: str, name: str) -> str | None:
    path = REPO / rel
    if not path.exists():
        return None
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        named = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        )
        if named and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node.value.value
    return None


def identify(script: str) -> str | None:
    for line in script.splitlines():
        if line.strip():
            match = HEADER.match(line)
            if match:
                return match.group(1)
            break
    text = script.replace("\r\n", "\n")
    for name, (rel, const) in CONSTANTS.items():
        value = _constant(rel, const)
        if value is not None and value.replace("\r\n", "\n") == text:
            return name
    return None


def _base() -> dict[str, Any]:
    return {
        "changed": False,
        "result": {},
        "host_out": "",
        "host_err": "",
        "output": [],
        "error": [],
        "warning": [],
        "verbose": [],
        "debug": [],
        "information": [],
    }


def run_powershell(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    script = str(args.get("script") or "")
    result = _base()
    if ctx.check and not SHOULD_PROCESS.search(script):
        result.update(changed=True, msg="skipped, running in check mode")
        return result
    name = identify(script)
    params = args.get("parameters") or {}
    handler = SCRIPTS.get(name or "")
    if handler is None:
        first = next((line.strip() for line in script.splitlines() if line.strip()), "")
        result.update(failed=True, msg=f"simwin: not modelled: win_powershell script {name or first[:80]!r}")
        return result
    try:
        value, changed = handler(ctx, params)
    except ScriptFail as err:
        result.update(failed=True, msg=str(err), result=err.result)
        result["error"] = [
            {"output": str(err), "exception": {"message": str(err), "type": "System.Exception"}}
        ]
        return result
    result.update(result=value, changed=changed)
    return result


# --- shared readers ---------------------------------------------------------------------------------------


def registry_dump(
    ctx: Ctx, python_reads: list[str] | None = None, hives: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """What host_read's Arcgis pass returns (``python_dirs`` with their ``security`` entries; ``user_keys``
    from the hive pass, ``hives``, run here when not given)."""
    host = ctx.host
    esri_keys, uninstall = [], []
    for view in ("64", "32"):
        for name in host.reg_subkeys("HKLM\\SOFTWARE\\ESRI", view):
            values = host.reg_values(f"HKLM\\SOFTWARE\\ESRI\\{name}", view) or {}
            esri_keys.append({"view": view, "name": name, "values": _strings(values)})
        for key in host.reg_subkeys(f"HKLM\\{UNINSTALL}", view):
            values = host.reg_values(f"HKLM\\{UNINSTALL}\\{key}", view) or {}
            publisher = values.get("Publisher")
            if publisher and publisher[1] == ESRI_PUBLISHER:
                picked = {k: v for k, v in _strings(values).items() if k in UNINSTALL_VALUES}
                uninstall.append({"view": view, "key": key, "values": picked})
    roots = ["C:\\Python27"]
    for key in esri_keys:
        folder = key["values"].get("PythonDir")
        if folder and folder.rstrip("\\") not in roots:
            roots.append(folder.rstrip("\\"))
    python_dirs = []
    for root in roots:
        if host.is_dir(root):
            for child in host.children(root):
                name = ntpath.basename(child["path"])
                if child["type"] == "dir" and name.lower().startswith("arcgis"):
                    has = host.is_file(ntpath.join(child["path"], "python.exe"))
                    security = [read_entry(ctx, root, False), read_entry(ctx, child["path"], False)]
                    for rel in python_reads or []:
                        security += [
                            read_entry(ctx, p, False) for p in glob(host, ntpath.join(child["path"], rel))
                        ]
                    python_dirs.append({"root": root, "name": name, "has_python": has, "security": security})
    return {
        "os_64bit": True,
        "esri_keys": esri_keys,
        "uninstall": uninstall,
        "python_dirs": python_dirs,
        "user_keys": user_keys(user_hives(host) if hives is None else hives),
    }


SHELL_FOLDERS = "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\User Shell Folders"


# The per-user default folder of a per-user Pro: Windows Installer sets ProgramFilesFolder of a per-user
# install (ALLUSERS=2 MSIINSTALLPERUSER=1) to FOLDERID_UserProgramFiles, %LOCALAPPDATA%\\Programs
# (https://learn.microsoft.com/en-us/windows/win32/msi/single-package-authoring ,
# https://learn.microsoft.com/en-us/windows/win32/shell/knownfolderid FOLDERID_UserProgramFiles), and Pro's
# INSTALLDIR defaults to [ProgramFilesFolder]ArcGIS\\Pro.
PER_USER_PRO = "AppData\\Local\\Programs\\ArcGIS\\Pro"
# Accounts the hive pass reads: local and domain (S-1-5-21-...) and Entra ID (S-1-12-1-...; see
# scenario.ENTRA_AUTHORITY for what is and is not sourced), not SYSTEM or the service accounts.
USER_SID = re.compile(r"^S-1-(5-21|12-1)-", re.I)


def user_hives(host: H.Host, load: Iterable[str] = (), arcgis: bool = True) -> list[dict[str, Any]]:
    """What host_read's hive pass reads per account: ``HKU\\<sid>`` of a logged-on user, read where it is;
    an offline profile's NTUSER.DAT is loaded for the read (``reg load``, the model keeps every user's hive
    under HKU\\<sid>; ``loaded`` says which path the script took) only when the controller names its SID in
    ``LoadHives`` (``load``) or, on the ArcGIS read, the profile holds a per-user Pro's default folder;
    the other offline profiles are listed unread (``read`` false). A hive in the state's ``locked_hives``
    cannot be loaded (NTUSER.DAT held by another process) and gives reg.exe's error instead. ``appdata``:
    the User Shell Folders AppData value, unexpanded (REG_EXPAND_SZ read with DoNotExpandEnvironmentNames)."""
    out = []
    wanted = {str(s).lower() for s in load}
    logged_on = {str(s).lower() for s in host.state.get("logged_on") or []}
    locked = {str(s).lower() for s in host.state.get("locked_hives") or []}
    for sid, profile in host.profiles().items():
        if not USER_SID.match(sid):
            continue
        loaded = sid.lower() in logged_on
        item: dict[str, Any] = {"sid": sid, "profile": profile, "loaded": loaded, "read": False}
        item.update(pro=None, appdata=None, error=None)
        if not loaded:
            pro_folder = arcgis and host.is_dir(ntpath.join(profile, PER_USER_PRO))
            if sid.lower() not in wanted and not pro_folder:
                out.append(item)
                continue
            if not host.is_file(f"{profile}\\NTUSER.DAT"):
                continue  # no hive to load (the script skips it too)
        if not loaded and sid.lower() in locked:
            item["error"] = (
                f"reg load {profile}\\NTUSER.DAT: ERROR: The process cannot access the file because it is "
                "being used by another process."
            )
        else:
            item["read"] = True
            values = host.reg_values(f"HKU\\{sid}\\Software\\ESRI\\ArcGISPro")
            item["pro"] = _strings(values) if values else None
            shell = host.reg_values(f"HKU\\{sid}\\{SHELL_FOLDERS}") or {}
            item["appdata"] = str(shell["AppData"][1]) if "AppData" in shell else None
        out.append(item)
    return out


def hives_loaded(hives: list[dict[str, Any]]) -> int:
    """How many reg loads the pass made: the offline hives it read."""
    return sum(1 for h in hives if not h["loaded"] and h["read"])


def user_keys(hives: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: h[k] for k in ("sid", "profile", "loaded", "error")} | {"values": h["pro"]}
        for h in hives
        if h["pro"] or h["error"]
    ]


def _strings(values: dict[str, list[Any]]) -> dict[str, str]:
    out = {}
    for name, (kind, data) in values.items():
        if kind == "REG_BINARY" or data is None:
            continue
        out[name] = "\n".join(data) if isinstance(data, list) else str(data)
    return out


def profiles(host: H.Host, hives_read: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    hives = {h["sid"]: h for h in (user_hives(host) if hives_read is None else hives_read)}
    out = []
    for sid, path in host.profiles().items():
        hive = hives.get(sid) or {}
        record = {"sid": sid, "path": path, "account": host.account_name(sid)}
        # What the hive pass did not find is left out, as the script does (hundreds of profiles).
        for name, value in (("appdata", hive.get("appdata")), ("hive_error", hive.get("error"))):
            if value:
                record[name] = value
        if hive.get("read"):
            record["hive_read"] = True
        out.append(record)
    return out


def run_environment(ctx: Ctx, pairs: list[str]) -> dict[str, str]:
    """The run's process environment: the session's, then each NAME=VALUE with %VAR% expanded from it
    (ProcessStartInfo.EnvironmentVariables and Environment.ExpandEnvironmentVariables; an undefined
    %VAR% stays as written)."""
    env = {k.upper(): str(v) for k, v in (ctx.env or {}).items()}
    if "PATH" not in env:
        env["PATH"] = ctx.host.machine_env("Path") or ""
    for pair in pairs:
        name, _, value = str(pair).partition("=")
        env[name.upper()] = re.sub(r"%([^%]+)%", lambda m: env.get(m.group(1).upper(), m.group(0)), value)
    return env


def run_one(
    ctx: Ctx, argv: list[str], stdin: str | None, environment: list[str] | None = None, cwd: str | None = None
) -> dict[str, Any]:
    exe = programs._resolve(ctx.host, ctx.principal, argv[0]) if argv else None
    if exe is None:
        return {
            "rc": None,
            "stdout": "",
            "stderr": "",
            "error": (
                'Exception calling "Start" with "1" argument(s): "The system cannot find the file '
                f'specified" ({argv[0] if argv else ""})'
            ),
        }
    env = run_environment(ctx, environment) if environment else ctx.env
    run = programs.run_program(ctx.host, ctx.principal, argv, stdin, env=env, cwd=cwd)
    out = {"rc": run.rc, "stdout": run.stdout, "stderr": run.stderr, "error": None}
    return {**out, "running": run.running} if run.running is not None else out


def _timed_out(host: H.Host, run: dict[str, Any], timeout: int) -> dict[str, Any]:
    """A program still running when the run's timeout passed: the script ends its whole tree
    (``Stop-Tree``: ``taskkill /T /F /PID``, :meth:`Host.end_tree`) and reports it; sources in ``_hang``."""
    pid = int(run.pop("running"))
    ended = host.end_tree(pid)
    error = (
        f"no answer within {timeout} s: ended its process tree (taskkill /T /F /PID {pid} ended {len(ended)})"
    )
    return {**run, "rc": None, "stdout": "", "error": error}


def _hang(host: H.Host, argv: list[str], timeout: int) -> dict[str, Any] | None:
    """The ``hang`` fault: the program does not answer within the run's timeout. It is a launcher (conda's
    ``Scripts\\conda.exe`` runs ``..\\python.exe conda-script.py`` as a child, which inherits the output
    pipes: https://github.com/conda/conda-launchers README), and the child started ``tree``'s further
    programs. CPython's launcher (which conda's are built from) puts its child in a kill-on-close job
    with JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK, so whatever that child starts is outside the job; .NET
    Framework's ``Process.Kill()`` ends only the launcher
    (https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.process.kill). Any survivor keeps the
    pipes open, and reading the output to its end would wait for ever. The script ends the whole tree
    (``taskkill /T /F``, :meth:`Host.end_tree`); a process the fault lists in ``detached`` (no parent)
    outlives it and holds the pipes, and the script's bounded wait gives up on the output."""
    fault = host.take_fault("hang", "", " ".join(argv))
    if fault is None:
        return None
    launcher = host.start_process(programs._resolve(host, host.principal("SYSTEM"), argv[0]) or argv[0])
    parent = launcher
    for image in fault.get("tree") or []:
        parent = host.start_process(image, parent)
    for image in fault.get("detached") or []:
        host.start_process(image)
    ended = host.end_tree(launcher)
    error = f"no answer within {timeout} s: ended its process tree (taskkill /T /F /PID {launcher}"
    error += f" ended {len(ended)})"
    if fault.get("detached"):
        error += " output still held open after the program ended (a process it started outlived it)"
    return {"rc": None, "stdout": "", "stderr": "", "error": error}


def _tmpdir(ctx: Ctx) -> str:
    return ctx.tmpdir or ctx.host.user_env(ctx.principal)["TEMP"]


# --- host_read --------------------------------------------------------------------------------------------


def _acl(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "sid": e["sid"],
            "rights": e["rights"],
            "type": e["type"],
            "inherited": e["inherited"],
            "inherit": INHERIT_OUT[e["inherit"]],
            "inherit_only": e["inherit_only"],
        }
        for e in node.get("acl") or []
    ]


def read_entry(ctx: Ctx, path: str, content: bool, detail: bool = True) -> dict[str, Any]:
    """One Reads entry; ``detail`` false gives only type (and size), as the script's Get-Entry does."""
    host = ctx.host
    try:
        node = host.read_node(path, ctx.principal)
    except H.WinError as err:
        if err.kind in ("missing", "missing_parent"):
            return {"path": path, "type": "missing"}
        return {"path": path, "type": "error", "error": str(err)}
    if not detail:
        brief: dict[str, Any] = {"path": node["path"], "type": node["type"]}
        if node["type"] == "file":
            brief["size"] = node["size"]
        return brief
    entry: dict[str, Any] = {
        "path": node["path"],
        "type": node["type"],
        "owner": node["owner"],
        "protected": bool(node.get("protected")),
        "acl": _acl(node),
        "reparse": bool(node.get("reparse")),
    }
    if node["type"] == "file":
        entry.update(size=node["size"], sha256=node["sha256"])
        if content and node["size"] <= H.MAX_CONTENT and not node.get("synthetic"):
            entry["content_b64"] = base64.b64encode(host.node_bytes(node)).decode()
    else:
        # Get-ChildItem on a junction lists its target's content (it does not stop at the reparse point:
        # https://learn.microsoft.com/en-us/windows/win32/fileio/reparse-points), so the script lists no
        # children of an entry whose ReparsePoint attribute is set: a read never goes through a junction.
        entry["children"] = (
            []
            if node.get("reparse")
            else [
                {
                    "name": ntpath.basename(c["path"]),
                    "dir": c["type"] == "dir",
                    "reparse": bool(c.get("reparse")),
                }
                for c in host.children(node["path"])
            ]
        )
    return entry


def glob(host: H.Host, pattern: str) -> list[str]:
    """Paths matching a PowerShell -Path wildcard pattern (*, ?, [..] in any segment), sorted."""
    pattern = H.norm_path(pattern)
    drive, rest = ntpath.splitdrive(pattern)
    segments = [s for s in rest.split("\\") if s]
    current = [H.norm_path(drive + "\\")] if len(drive) == 2 else [drive]
    for segment in segments:
        nxt = []
        for base in current:
            if not any(c in segment for c in "*?["):
                candidate = ntpath.join(base, segment)
                if host.exists(candidate):
                    nxt.append(host.node(candidate)["path"])
                continue
            for child in host.children(base):
                if fnmatch.fnmatch(ntpath.basename(child["path"]).lower(), segment.lower()):
                    nxt.append(child["path"])
        current = nxt
    return sorted(set(current), key=str.lower)


def host_read(ctx: Ctx, params: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    host = ctx.host
    out: dict[str, Any] = {}
    load = [str(s) for s in params.get("LoadHives") or []]
    hives = (
        user_hives(host, load, bool(params.get("Arcgis")))
        if params.get("Arcgis") or params.get("Profiles") or load
        else []
    )
    if params.get("Arcgis"):
        out["arcgis"] = registry_dump(ctx, list(params.get("PythonReads") or []), hives)
    if params.get("Profiles"):
        out["profiles"] = profiles(host, hives)
    out["hives_loaded"] = hives_loaded(hives)
    if load:
        wanted = {s.lower() for s in load}
        out["user_hives"] = [
            {"sid": h["sid"], "appdata": h["appdata"], "hive_error": h["error"], "hive_read": h["read"]}
            for h in hives
            if h["sid"].lower() in wanted
        ]
    if params.get("Session"):
        session = host.session()
        out["session"] = {
            "shell_max_memory_mb": session["max_memory_mb"],
            "plugin_max_memory_mb": session["plugin_max_memory_mb"],
            # The script's own process first: Ansible's winrm connection runs every module in
            # ``PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand``
            # (ansible-core plugins/shell/powershell.py), which Win32_Process lists too.
            "processes": [
                {"pid": 3996, "name": "powershell.exe", "path": POWERSHELL},
                *(
                    {"pid": int(p.get("pid") or 0), "name": str(p.get("name")), "path": str(p["image"])}
                    for p in host.state.get("processes") or []
                    if p.get("image")
                ),
            ],
        }
    out["env"] = {name: host.machine_env(name) for name in params.get("EnvNames") or []}
    store = host.store()
    out["store"] = {t: t.upper() in store for t in params.get("Thumbprints") or []}
    reads = []
    for item in params.get("Reads") or []:
        path, kind, content = str(item.get("path")), item.get("kind", "file"), bool(item.get("content"))
        detail = item.get("detail") is None or bool(item.get("detail"))
        if kind == "glob":
            try:
                matches = [read_entry(ctx, p, content, detail) for p in glob(host, path)]
                reads.append({"path": path, "type": "glob", "matches": matches})
            except H.WinError as err:
                reads.append({"path": path, "type": "error", "error": str(err)})
        else:
            reads.append(read_entry(ctx, path, content, detail))
    out["reads"] = reads
    runs = []
    for item in params.get("Runs") or []:
        # As the script does: FileName and the controller's command line, parsed by the program (MS C
        # runtime rules), started in the temp folder, where the run's script is <id>.py.
        argv = [str(item.get("file") or ""), *programs.split_command_line(str(item.get("arguments") or ""))]
        script_path = None
        if item.get("script"):
            script_path = ntpath.join(_tmpdir(ctx), f"{item['id']}.py")
            host.write(script_path, str(item["script"]).encode("utf-8"), ctx.principal)
        try:
            timeout = int(item.get("timeout") or 120)
            hung = _hang(host, argv, timeout)
            run = hung or run_one(
                ctx, argv, item.get("stdin"), list(item.get("environment") or []), _tmpdir(ctx)
            )
            if "running" in run:
                run = _timed_out(host, run, timeout)
        finally:
            if script_path:
                host.delete(script_path, ctx.principal)  # the script removes it after the run
        runs.append({"id": item.get("id"), **run})
    out["runs"] = runs
    return out, False


# --- apply_files ------------------------------------------------------------------------------------------

SECURE_ACL = [
    H.ace(H.SYSTEM, "full"),
    H.ace(H.ADMINISTRATORS, "full"),
    H.ace(H.USERS, "read_execute"),
]


def _security(host: H.Host, path: str) -> str:
    nodes = [host.node(path), *host.descendants(path)]
    return json.dumps(
        [[n["path"], n["owner"], n["acl"], n.get("protected")] for n in nodes if n], sort_keys=True
    )


def _owner_moved_aside(host: H.Host, me: H.Principal, path: str) -> str:
    """The script's Move-Aside: the first free ``<path>.untrusted[.n]``, renamed in place."""
    aside, n = f"{path}.untrusted", 0
    while host.exists(aside):
        n += 1
        aside = f"{path}.untrusted.{n}"
    host.move(path, aside, me)
    return aside


def _secure_walk(
    host: H.Host, me: H.Principal, root: str, owners: list[str], record: dict[str, Any]
) -> tuple[list[str], bool]:
    """The script's walk below a folder it secures, before any change below it: its own stack, so a
    junction or symbolic link (ReparsePoint attribute) is reported and left alone, never entered
    (Windows PowerShell 5.1's ``Get-ChildItem -Recurse`` would enter it: PowerShell/PowerShell#3780, fixed
    in 6.0); an item no administrator owns is moved aside, never re-owned; an item the admin session may
    not list (no ListDirectory: "Access to the path 'X' is denied.") or read the security of is reported
    and its content not reached. The items whose ACL icacls /reset would change (protected, or with
    entries of their own), and whether a reparse point was met."""
    reset: list[str] = []
    reparse = False
    folders = [root]
    while folders:
        folder = folders.pop()
        node = host.node(folder)
        if not host.allowed(node, me, H.READ_DATA) and node["owner"] not in me.sids:
            record["skipped"].append(
                {"path": folder, "why": f"not listed: Access to the path '{folder}' is denied."}
            )
            continue
        for child in host.children(folder):
            if child.get("reparse"):
                record["skipped"].append(
                    {"path": child["path"], "why": "junction or symbolic link: not followed, left alone"}
                )
                reparse = True
                continue
            try:
                if child["owner"] not in owners:
                    owner, path = child["owner"], child["path"]
                    record["moved"].append(
                        {"path": path, "owner": owner, "aside": _owner_moved_aside(host, me, path)}
                    )
                    continue
            except H.WinError as err:
                record["skipped"].append({"path": child["path"], "why": str(err)})
                continue
            if child.get("protected") or any(not e["inherited"] for e in child["acl"]):
                reset.append(child["path"])
            if child["type"] == "dir":
                folders.append(child["path"])
    return reset, reparse


ICACLS = "C:\\Windows\\System32\\icacls.exe"


def icacls(host: H.Host, me: H.Principal, arguments: list[str]) -> dict[str, Any]:
    """``icacls <folder>\\* /reset /T /C /L /Q``, the one form the script runs
    (https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/icacls): each item
    matching the name in the folder and, with /T, in every folder below it gets the default inherited ACL
    (its own entries removed, inheritance on); changing an item's DACL needs WRITE_DAC or ownership
    (https://learn.microsoft.com/en-us/windows/win32/secauthz/standard-access-rights), else the item's line
    ``<path>: Access is denied.``, and with /C it goes on; /Q prints no success lines, only errors and the
    summary. Microsoft's page does not say whether /T descends into a directory junction (/L only says a
    symbolic link itself is changed, not its target): the model takes the worse case and follows it, as
    Windows PowerShell 5.1's recursion does. The script never gives it a tree with a reparse point."""
    name, *flags = arguments
    if name[-2:] != "\\*" or sorted(flags) != sorted(["/reset", "/T", "/C", "/L", "/Q"]):
        raise ScriptFail(f"simwin: icacls {' '.join(arguments)} is not modelled")
    invariant.program_started(host, me, ICACLS, list(arguments))  # a program the admin session starts
    folder = host.resolve(name[:-2])

    def items(base: str) -> list[dict[str, Any]]:
        found = []
        for child in host.children(base):
            found.append(child)
            target = host.resolve(child["path"]) if child.get("reparse") else child["path"]
            if child["type"] == "dir" and host.is_dir(target):
                found += items(target)
        return found

    lines, done, failed = [], 0, 0
    for node in items(folder):
        if not (host.allowed(node, me, H.WRITE_DAC) or node["owner"] in me.sids):
            lines.append(f"{node['path']}: Access is denied.")
            failed += 1
            continue
        parent = host.node(H.parent_of(node["path"]) or "")
        node["protected"] = False
        inherited = H.inherited_acl(parent["acl"], node["type"] == "dir", node["owner"]) if parent else []
        node["acl"] = inherited
        done += 1
    lines.append(f"Successfully processed {done} files; Failed processing {failed} files")
    return {"arguments": list(arguments), "rc": 1 if failed else 0, "output": "\n".join(lines)}


def _secure(host: H.Host, me: H.Principal, item: dict[str, Any], path: str, record: dict[str, Any]) -> bool:
    """The script's Set-AdminOnly (fleet_apply_files.ps1)."""
    if not host.exists(path):
        raise H.WinError(f"Could not find a part of the path '{path}'.", "missing")
    if not me.admin:
        raise H.denied(path)
    owners = list(item.get("owners") or [])
    if host.node(path)["owner"] not in owners:
        raise H.WinError(
            f"owned by {host.node(path)['owner']}, not an administrator: not secured"
            " (it holds a user's files)"
        )
    before = _security(host, path)
    # Set-Acl on the folder: SetNamedSecurityInfo propagates its inheritable entries to the items below
    # (https://learn.microsoft.com/en-us/windows/win32/api/aclapi/nf-aclapi-setnamedsecurityinfow).
    host.set_security(path, owner=H.ADMINISTRATORS, acl=[dict(a) for a in SECURE_ACL], protected=True)
    host.reapply_inheritance(path)
    reset, reparse = _secure_walk(host, me, path, owners, record)
    if reset and not reparse:
        record["commands"].append(icacls(host, me, list(item["tree_arguments"])))
    else:
        for one in reset:
            node = host.node(one)
            if not (host.allowed(node, me, H.WRITE_DAC | H.WRITE_OWNER) or node["owner"] in me.sids):
                record["skipped"].append(
                    {"path": one, "why": "Attempted to perform an unauthorized operation."}
                )
                continue
            node["protected"] = False
            node["acl"] = [e for e in node["acl"] if e["inherited"]]
        host.reapply_inheritance(path)
    return bool(record["moved"]) or bool(record["commands"]) or _security(host, path) != before


def apply_files(ctx: Ctx, params: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    from .modules import backup_path

    host = ctx.host
    me = ctx.principal
    done: list[dict[str, Any]] = []
    for item in params.get("Items") or []:
        op = item.get("op")
        path = H.norm_path(str(item.get("path")))
        record: dict[str, Any] = {
            "op": op,
            "path": path,
            "changed": False,
            "backup_file": None,
            "skipped": [],
            "moved": [],
            "commands": [],
        }
        try:
            if op == "mkdir":
                existed = host.is_dir(path)
                record["changed"] = host.mkdir(path, me)
                if item.get("secure") and not existed:  # create secure, then fill
                    host.set_security(
                        path, owner=H.ADMINISTRATORS, acl=[dict(a) for a in SECURE_ACL], protected=True
                    )
                elif item.get("secure"):
                    record["changed"] = _secure(host, me, item, path, record)
            elif op == "move":
                src = H.norm_path(str(item.get("src")))
                if host.exists(src):
                    if host.exists(path):
                        raise H.WinError(f"{path} already exists: not replaced", "exists")
                    host.move(src, path, me)
                    record["changed"] = True
            elif op == "write":
                data = base64.b64decode(item.get("content_b64") or "")
                node = host.node(path)
                if node is not None and item.get("backup") and node["sha256"] != H.sha256_hex(data):
                    record["backup_file"] = backup_path(path)
                    host.copy_file(path, record["backup_file"], me)
                record["changed"] = host.write(path, data, me)
            elif op == "copy":
                src = H.norm_path(str(item.get("src")))
                if (
                    item.get("exclusive")
                    and host.exists(path)
                    and host.read_bytes(path, me) != host.read_bytes(src, me)
                ):
                    raise H.WinError(f"{path} already exists with other content: not replaced", "exists")
                if host.exists(path) and not item.get("force", True):
                    record["changed"] = False
                else:
                    record["changed"] = host.copy_file(H.norm_path(str(item.get("src"))), path, me)
            elif op == "delete":
                record["changed"] = host.delete(path, me)
            elif op == "rmdir_empty":
                if host.is_dir(path) and not host.children(path):
                    record["changed"] = host.delete(path, me)
            elif op == "secure":
                record["changed"] = _secure(host, me, item, path, record)
            else:
                raise ScriptFail(f"apply_files: unknown op {op!r} for {path}", {"applied": done})
        except H.WinError as err:
            raise ScriptFail(
                f"{op} {path}: {err}",
                {"applied": done, "changed": any(d["changed"] for d in done)},
            ) from err
        done.append(record)
    return {"applied": done}, any(d["changed"] for d in done)


# --- today's scripts --------------------------------------------------------------------------------------


def registry_script(ctx: Ctx, params: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    return registry_dump(ctx), False


def run_probe_script(ctx: Ctx, params: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    host = ctx.host
    probe = ntpath.join(_tmpdir(ctx), "arcgis_probe.py")
    host.write(probe, str(params.get("ProbeScript", "")).encode("utf-8"), ctx.principal)
    runs = []
    try:
        for python in params.get("Pythons") or []:
            run = run_one(ctx, [str(python), probe, *[str(p) for p in params.get("Packages") or []]], None)
            runs.append({"python": python, **run})
    finally:
        host.delete(probe, ctx.principal)
    return {"runs": runs}, False


SCRIPTS = {
    "host_read": host_read,
    "apply_files": apply_files,
    "registry_dump": registry_script,
    "run_probe": run_probe_script,
}
