"""startup_bridge: every path decision of the ArcGIS <-> conda start-up bridge, as pure functions.

Plain data in (the ``ansible_facts.arcgis`` and ``arcgis_env_envs`` contracts, what the host holds), plain
data out (which files go where, their content, what to back up, restore or remove, what to verify).
No Ansible imports: the action plugin ``startup_bridge_plan``, the filter ``startup_bridge_verdict`` and
the tests call these directly. Paths are Windows paths (``ntpath``) on the fleet; the tests plan the
same files for POSIX prefixes (``posixpath``) and run them under real interpreters.

Files the bridge puts on a host (names are fixed; the role removes exactly these):
  scope ``machine`` - in each bridged interpreter's own site-packages:
      arcgis_conda_bridge.py, arcgis_conda_bridge.json, zzz_arcgis_conda_bridge.pth
  scope ``user`` - in each profile's user site folder (%APPDATA%\\Python\\PythonXY[-32]\\site-packages):
      arcgis_conda_bridge.py, arcgis_conda_bridge.json, usercustomize.py
      and usercustomize.py.arcgis_conda_bridge.bak when the user had a usercustomize.py of their own.
"""

from __future__ import annotations

import hashlib
import json
import ntpath
import posixpath
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import PlanError

PathFlavour = Literal["windows", "posix"]
Scope = Literal["user", "machine"]
State = Literal["present", "absent"]

HOOK_NAME = "arcgis_conda_bridge.py"
DATA_NAME = "arcgis_conda_bridge.json"
PTH_NAME = "zzz_arcgis_conda_bridge.pth"  # sorts after Esri's and conda's .pth files: its paths land last
SHIM_NAME = "usercustomize.py"
BACKUP_NAME = "usercustomize.py.arcgis_conda_bridge.bak"
VERIFY_NAME = "arcgis_conda_bridge_verify.py"
DATA_SCHEMA = 1
DEFAULT_PROFILE = "Default"

# sha1 of every usercustomize.py shim this role has shipped (files/usercustomize.py). A file with one of
# these checksums is ours; any other usercustomize.py is the user's and is backed up, never overwritten.
# When the shim changes, ADD its new sha1 here (tests/unit/test_startup_bridge_plan.py insists).
SHIM_SHA1S = frozenset({"5476941e133acf620bafa25c1902b26ee289be47"})
# The fleet's observe step hashes with SHA-256: the shipped shim's, read from the role's own file.
_SHIM_FILE = Path(__file__).resolve().parents[2] / "roles" / "startup_bridge" / "files" / "usercustomize.py"
SHIM_SHA256S = frozenset({hashlib.sha256(_SHIM_FILE.read_bytes()).hexdigest()} if _SHIM_FILE.exists() else ())

# Esri's layout of the folders arcpy needs, per product: the plan adds them (when they exist) even when
# the install's .pth files do not name them, e.g. Pro 2.x/3.x, whose ArcGISPro.pth only runs an import.
ARCPY_FOLDERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "desktop": (("bin",), ("arcpy",), ("ArcToolbox", "Scripts")),
    "desktop_bgp": (("bin64",), ("arcpy",), ("ArcToolbox", "Scripts")),
    "server": (("bin",), ("arcpy",), ("ArcToolbox", "Scripts")),
    "pro": (("bin",), ("Resources", "ArcPy"), ("Resources", "ArcToolbox", "Scripts")),
}


def pathmod(flavour: PathFlavour) -> Any:
    return ntpath if flavour == "windows" else posixpath


def norm(path: str, flavour: PathFlavour) -> str:
    """The key two paths share when the OS treats them as one (case-folded on Windows)."""
    mod = pathmod(flavour)
    return mod.normcase(mod.normpath(path))


def sha1(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Skip:
    """Something the role leaves alone, and why (shown as a warning)."""

    what: str
    why: str


# Anaconda-built Python 3.8 and 3.9 ignore os.add_dll_directory unless this variable is 1 when an
# extension module loads (conda/conda#10897; numpy/numpy#23254 review; conda-forge fixed its own builds
# later, python-feedstock#444). The hook sets it, only when unset, for an entry with dll_dirs on those.
DLL_SEARCH_VAR = "CONDA_DLL_SEARCH_MODIFICATION_ENABLE"
DLL_SEARCH_PYTHONS = frozenset({"3.8", "3.9"})


@dataclass
class BridgeEntry:
    """One data-file entry: when the running interpreter matches, append these folders."""

    id: str
    match: dict[str, Any]
    site_dirs: list[str]
    paths: list[str] = field(default_factory=list)
    dll_dirs: list[str] = field(default_factory=list)
    environ: dict[str, str] = field(default_factory=dict)


@dataclass
class Interpreter:
    """One Python the bridge changes: an ArcGIS Python or a conda env, with what it must see."""

    key: str  # "arcgis:<id>" or "env:<arcgis_id>:<name>"
    side: Literal["arcgis", "env"]
    label: str  # for messages: "ArcGIS Python desktop-10.4.1-32" / "conda env arc1041 (desktop-10.4.1-32)"
    python_exe: str
    prefix: str
    python: str
    bits: int
    site_packages: str
    user_site_enabled: bool
    entries: list[BridgeEntry]
    expect: list[str]  # the other side's site-packages, which verify looks for near the end of sys.path
    arcgis_ids: list[str]
    envs: list[str]
    product: str | None = None
    # A Pro clone: it imports arcpy on its own (arcgispro-py3's ArcGISPro.pth came with the clone), so the
    # bridge writes nothing for it and only verifies it. ArcGIS's side of a Pro pair is never an
    # Interpreter: the bridge never writes into arcgispro-py3 (Esri: modifying it "is not advisable";
    # files conda does not track there would be copied into every later clone).
    verify_only: bool = False


def main_site_packages(paths: list[str] | None, prefix: str, flavour: PathFlavour) -> str:
    """The interpreter's own site-packages: the listed one named so, else prefix\\Lib\\site-packages."""
    mod = pathmod(flavour)
    for path in paths or []:
        if mod.basename(mod.normpath(path)).lower() == "site-packages":
            return path
    if paths:
        return paths[0]
    return mod.join(prefix, "Lib", "site-packages")


def arcpy_folders(install: dict[str, Any], flavour: PathFlavour) -> list[str]:
    mod = pathmod(flavour)
    root = install.get("install_dir") or ""
    if not root:
        return []
    return [mod.join(root, *parts) for parts in ARCPY_FOLDERS.get(install.get("product") or "", ())]


def dll_folders(install: dict[str, Any], env: dict[str, Any], flavour: PathFlavour) -> list[str]:
    """The DLL folders a plain conda env needs for Pro's arcpy: Pro's bin and arcgispro-py3's Library\\bin.

    None for a clone (kind ``pro_clone``): it has its own copy of arcgispro-py3's Library\\bin, and a
    second one beside it would leave which DLL loads first unspecified. None for ArcMap's Python 2.7."""
    if install.get("product") != "pro" or env.get("kind") == "pro_clone":
        return []
    mod = pathmod(flavour)
    folders = []
    if install.get("install_dir"):
        folders.append(mod.join(install["install_dir"], "bin"))
    if install.get("prefix"):
        folders.append(mod.join(install["prefix"], "Library", "bin"))
    return folders


def _label_install(install: dict[str, Any]) -> str:
    return f"ArcGIS Python {install.get('id')} ({install.get('python_exe')})"


def _label_env(env: dict[str, Any]) -> str:
    return f"conda env {env.get('name')} for {env.get('arcgis_id')} ({env.get('python_exe')})"


def pair_up(
    installs: list[dict[str, Any]], envs: list[dict[str, Any]]
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[Skip]]:
    """Match each env to its ArcGIS install; refuse pairs the bridge would break (version or bitness)."""
    by_id = {install.get("id"): install for install in installs}
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    skips: list[Skip] = []
    paired: set[str] = set()
    for env in envs:
        install = by_id.get(env.get("arcgis_id"))
        what = _label_env(env)
        if install is None:
            skips.append(
                Skip(what, "no ArcGIS install with that id in ansible_facts.arcgis: run the probe again")
            )
            continue
        if install.get("status") == "declared":
            # Declared in fleet_arcgis_releases, never observed: not broken, only not read yet (its paths
            # come from the first observation); the role's column says so, as a line, not a warning.
            continue
        if install.get("status") != "ok" or not install.get("python_major_minor"):
            problems = "; ".join(install.get("problems") or []) or "status " + str(install.get("status"))
            skips.append(Skip(what, f"its ArcGIS Python {install.get('id')} is broken ({problems})"))
            continue
        if str(env.get("python_major_minor")) != str(install.get("python_major_minor")):
            skips.append(
                Skip(
                    what,
                    f"Python {env.get('python_major_minor')} does not match ArcGIS's "
                    f"{install.get('python_major_minor')}: packages built for one cannot load in the other; "
                    "recreate the env with the arcgis_env role",
                )
            )
            continue
        if int(env.get("bits") or 0) != int(install.get("bits") or 0):
            skips.append(
                Skip(
                    what,
                    f"{env.get('bits')}-bit env for a {install.get('bits')}-bit ArcGIS Python would fail "
                    "with '%1 is not a valid Win32 application': use the Miniconda of the same bitness",
                )
            )
            continue
        if not env.get("prefix"):
            skips.append(Skip(what, "the env has no prefix: re-run the arcgis_env role"))
            continue
        pairs.append((install, env))
        paired.add(str(install.get("id")))
    for install in installs:
        if str(install.get("id")) not in paired and install.get("status") == "ok":
            skips.append(
                Skip(_label_install(install), "no conda env for it in arcgis_env_envs: nothing to bridge")
            )
    return pairs, skips


def interpreters(
    pairs: list[tuple[dict[str, Any], dict[str, Any]]], flavour: PathFlavour = "windows"
) -> list[Interpreter]:
    """Each bridged interpreter with its data-file entries: ArcGIS sees its envs, each env sees its ArcGIS."""
    result: dict[str, Interpreter] = {}
    for install, env in pairs:
        python, bits = str(install["python_major_minor"]), int(install["bits"])
        arcgis_sp = main_site_packages(install.get("site_packages"), install["prefix"], flavour)
        env_sp = main_site_packages(env.get("site_packages"), env["prefix"], flavour)
        pro = install.get("product") == "pro"
        arcgis_key = f"arcgis:{install['id']}"
        if not pro and arcgis_key not in result:
            result[arcgis_key] = Interpreter(
                key=arcgis_key,
                side="arcgis",
                label=_label_install(install),
                python_exe=install["python_exe"],
                prefix=install["prefix"],
                python=python,
                bits=bits,
                site_packages=arcgis_sp,
                user_site_enabled=bool(install.get("user_site_enabled", True)),
                entries=[],
                expect=[],
                arcgis_ids=[str(install["id"])],
                envs=[],
                product=install.get("product"),
            )
        if not pro:
            arcgis = result[arcgis_key]
            # ArcGIS's Python gets the env's site-packages last; never DLL folders: ArcGIS's own must win.
            arcgis.entries.append(
                BridgeEntry(
                    id=f"{install['id']}<-{env['name']}",
                    match={"python": python, "bits": bits, "prefix": install["prefix"]},
                    site_dirs=[env_sp],
                )
            )
            arcgis.expect.append(env_sp)
            arcgis.envs.append(str(env["name"]))
        env_key = f"env:{install['id']}:{env['name']}"
        clone = pro and env.get("kind") == "pro_clone"
        dlls = dll_folders(install, env, flavour)
        entries = (
            []
            if clone
            else [
                BridgeEntry(
                    id=f"{env['name']}<-{install['id']}",
                    match={"python": python, "bits": bits, "prefix": env["prefix"]},
                    site_dirs=[arcgis_sp],
                    paths=arcpy_folders(install, flavour),
                    dll_dirs=dlls,
                    environ={DLL_SEARCH_VAR: "1"} if dlls and python in DLL_SEARCH_PYTHONS else {},
                )
            ]
        )
        result[env_key] = Interpreter(
            key=env_key,
            side="env",
            label=_label_env(env),
            python_exe=env["python_exe"],
            prefix=env["prefix"],
            python=python,
            bits=bits,
            site_packages=env_sp,
            user_site_enabled=bool(env.get("user_site_enabled", True)),
            entries=entries,
            expect=[] if clone else [arcgis_sp],
            arcgis_ids=[str(install["id"])],
            envs=[str(env["name"])],
            product=install.get("product"),
            verify_only=clone,
        )
    return list(result.values())


def unpaired_interpreters(
    installs: list[dict[str, Any]],
    envs: list[dict[str, Any]],
    known: set[str],
    flavour: PathFlavour = "windows",
) -> list[Interpreter]:
    """Every other interpreter the facts and env records describe, with no entries: the places state
    absent must clean even when the pairing that put the bridge there no longer holds."""
    found: list[Interpreter] = []
    records = [("arcgis", f"arcgis:{i.get('id')}", i) for i in installs]
    records += [("env", f"env:{e.get('arcgis_id')}:{e.get('name')}", e) for e in envs]
    for side, key, rec in records:
        if key in known or not rec.get("prefix") or not rec.get("python_major_minor") or not rec.get("bits"):
            continue
        found.append(
            Interpreter(
                key=key,
                side=side,  # type: ignore[arg-type]
                label=_label_install(rec) if side == "arcgis" else _label_env(rec),
                python_exe=str(rec.get("python_exe")),
                prefix=rec["prefix"],
                python=str(rec["python_major_minor"]),
                bits=int(rec["bits"]),
                site_packages=main_site_packages(rec.get("site_packages"), rec["prefix"], flavour),
                user_site_enabled=True,
                entries=[],
                expect=[],
                arcgis_ids=[str(rec.get("id") if side == "arcgis" else rec.get("arcgis_id"))],
                envs=[] if side == "arcgis" else [str(rec.get("name"))],
            )
        )
        known.add(key)
    return found


def data_file(entries: list[BridgeEntry]) -> str:
    """The JSON the hook reads. Deterministic, so an unchanged plan never rewrites a host's file."""
    data = {
        "schema": DATA_SCHEMA,
        "generated_by": "arcgis_conda.fleet role startup_bridge",
        "entries": [asdict(entry) for entry in sorted(entries, key=lambda e: e.id)],
    }
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def py_literal(text: str) -> str:
    """A string literal Python 2.7 and 3.3+ both read as ``text``, whatever the .pth file's encoding."""
    out = []
    for char in text:
        if char in '\\"':
            out.append("\\" + char)
        elif 32 <= ord(char) < 127:
            out.append(char)
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return 'u"' + "".join(out) + '"'


def pth_content(data_path: str) -> str:
    """A comment and one import line, which site.py executes while it reads site-packages (after Esri's
    own .pth files). The import runs with sys.dont_write_bytecode set, so the hook leaves no .pyc behind
    for state absent to miss, and inside try: a missing hook module must not print at start-up."""
    code = (
        "import sys\n"
        "_acb_dwb = sys.dont_write_bytecode\n"
        "sys.dont_write_bytecode = True\n"
        "try:\n"
        "    import arcgis_conda_bridge\n"
        f"    arcgis_conda_bridge.run({py_literal(data_path)})\n"
        "except Exception:\n"
        "    pass\n"
        "finally:\n"
        "    sys.dont_write_bytecode = _acb_dwb\n"
    )
    return (
        "# arcgis_conda_bridge: installed by the arcgis_conda.fleet role startup_bridge; absent removes it\n"
        f"import sys; exec({py_literal(code)})\n"
    )


def shim_bytecode(folder: str, python: str, flavour: PathFlavour = "windows") -> list[str]:
    """The .pyc files Python writes for usercustomize.py (the shim is imported by site.py, so they exist)."""
    mod = pathmod(flavour)
    major, minor = python.split(".")[:2]
    if major == "2":
        return [mod.join(folder, "usercustomize.pyc"), mod.join(folder, "usercustomize.pyo")]
    tag = f"cpython-{major}{minor}"
    return [
        mod.join(folder, "__pycache__", f"usercustomize.{tag}{opt}.pyc") for opt in ("", ".opt-1", ".opt-2")
    ]


def user_site_folder(userbase: str, python: str, bits: int, flavour: PathFlavour = "windows") -> str:
    """site.USER_SITE for PYTHONUSERBASE=userbase: PythonXY, PythonXY-32 for 32-bit from 3.10 (bpo-41627)."""
    major, minor = (int(part) for part in python.split(".")[:2])
    if flavour == "windows":
        suffix = "-32" if (major, minor) >= (3, 10) and bits == 32 else ""
        return ntpath.join(userbase, f"Python{major}{minor}{suffix}", "site-packages")
    return posixpath.join(userbase, "lib", f"python{major}.{minor}", "site-packages")


def profile_userbase(profile: str, flavour: PathFlavour = "windows") -> str:
    """site.USER_BASE of a profile: %APPDATA%\\Python, i.e. <profile>\\AppData\\Roaming\\Python."""
    if flavour == "windows":
        return ntpath.join(profile, "AppData", "Roaming", "Python")
    return posixpath.join(profile, ".local")


def select_profiles(
    existing_dirs: list[str],
    users: list[str],
    default_profile: bool,
    flavour: PathFlavour = "windows",
    records: list[dict[str, Any]] | None = None,
) -> tuple[list[str], list[Skip]]:
    """Existing profile folders for the listed users (+ Default). A missing one is never created:
    Windows would then give the user a second profile. Users who log on later get the Default copy.

    With ``records`` (ProfileList: sid, path, account, appdata; ``Snapshot.profiles``), a user is
    resolved by account through ProfileList, the resolver doi_cert uses (``fleet_host.match_profiles``),
    so ``jsmith.LAB`` and profiles outside the profiles folder are found. A profile whose AppData is
    redirected (folder redirection, often to a UNC path) is left alone with a warning: Python's user
    site is ``%APPDATA%\\Python\\PythonXY\\site-packages`` (https://docs.python.org/3/library/site.html,
    ``site.USER_BASE`` on Windows is ``%APPDATA%\\Python``), so files in ``<profile>\\AppData\\Roaming``
    are never read. Without records (tests on POSIX) the folder name is the user name."""
    mod = pathmod(flavour)
    by_name = {mod.basename(mod.normpath(path)).lower(): path for path in existing_dirs}
    by_path = {norm(path, flavour): path for path in existing_dirs}
    wanted = ([DEFAULT_PROFILE] if default_profile else []) + list(users)
    chosen: list[str] = []
    skips: list[Skip] = []
    later = "; the user gets the bridge from Default at first logon" if default_profile else ""
    for name in wanted:
        if records is None or name == DEFAULT_PROFILE:
            path = by_name.get(name.lower())
            if path is None:
                skips.append(
                    Skip(
                        f"profile {name}",
                        "no such profile folder yet" + later
                        if default_profile and name != DEFAULT_PROFILE
                        else "no such profile folder",
                    )
                )
                continue
        else:
            found = fh.match_profiles(records, name, full=True)
            if len(found) > 1:
                accounts = ", ".join(f"{f['account']} ({f['path']})" for f in found)
                skips.append(
                    Skip(
                        f"profile {name}",
                        f"the name matches {len(found)} accounts in ProfileList: {accounts}. Fix: list the "
                        "account as DOMAIN\\name in startup_bridge_users",
                    )
                )
                continue
            path = by_path.get(norm(found[0]["path"], flavour)) if found else None
            if path is None:
                where = (
                    f"its ProfileList folder {found[0]['path']} does not exist"
                    if found
                    else ("no profile of that account in ProfileList (it has never logged on here)")
                )
                skips.append(Skip(f"profile {name}", where + later))
                continue
            redirected = fh.redirected_appdata(found[0])
            if redirected:
                skips.append(
                    Skip(
                        f"profile {name} ({path})",
                        f"its AppData is redirected to {redirected} (User Shell Folders, folder "
                        "redirection): Python's user site follows %APPDATA%, so a bridge in "
                        f"{path}\\AppData\\Roaming would never be read. Fix: use startup_bridge_scope "
                        "machine for this lab",
                    )
                )
                continue
        if path not in chosen:
            chosen.append(path)
    return chosen, skips


def profile_parents(
    records: list[dict[str, Any]], profiles_dir: str, flavour: PathFlavour = "windows"
) -> list[str]:
    """The folders, other than profiles_dir, that hold a ProfileList profile (observe lists them)."""
    mod = pathmod(flavour)
    parents = [mod.dirname(mod.normpath(str(r.get("path")))) for r in records if r.get("path")]
    out = []
    for parent in parents:
        if norm(parent, flavour) != norm(profiles_dir, flavour) and parent not in out:
            out.append(parent)
    return out


@dataclass
class Folder:
    """One folder the bridge writes into, with the entries its data file holds."""

    path: str
    entries: list[BridgeEntry]
    interpreters: list[str]
    profile: str | None = None
    python: str = ""
    userbase: str | None = None


def folders_for(
    interps: list[Interpreter], scope: Scope, profiles: list[str], flavour: PathFlavour = "windows"
) -> tuple[list[Folder], list[Skip]]:
    """Where the hook goes. machine: each interpreter's own site-packages. user: each profile's user site
    folder per Python version (ArcMap's 32-bit Python and its 64-bit Background Geoprocessing share one)."""
    folders: dict[str, Folder] = {}
    skips: list[Skip] = []
    for interp in interps:
        if scope == "machine":
            targets = [(interp.site_packages, None, None)]
        else:
            if not interp.user_site_enabled:
                skips.append(
                    Skip(
                        interp.label,
                        "its user site is disabled, so usercustomize.py never runs: use scope machine",
                    )
                )
                continue
            targets = [
                (
                    user_site_folder(profile_userbase(p, flavour), interp.python, interp.bits, flavour),
                    p,
                    profile_userbase(p, flavour),
                )
                for p in profiles
            ]
        for path, profile, userbase in targets:
            key = norm(path, flavour)
            folder = folders.setdefault(
                key,
                Folder(
                    path=path,
                    entries=[],
                    interpreters=[],
                    profile=profile,
                    python=interp.python,
                    userbase=userbase,
                ),
            )
            folder.entries.extend(interp.entries)
            folder.interpreters.append(interp.key)
    return list(folders.values()), skips


@dataclass
class BridgePlan:
    """What the role's tasks do, in order. Every path is absolute on the host."""

    dirs: list[str] = field(default_factory=list)  # user site folders to create
    backups: list[dict[str, str]] = field(default_factory=list)  # {src, dest}: user's file -> .bak
    copies: list[dict[str, str]] = field(default_factory=list)  # {src: role file name, dest}
    contents: list[dict[str, str]] = field(default_factory=list)  # {dest, content}
    restores: list[dict[str, str]] = field(default_factory=list)  # {src: .bak, dest}
    removes: list[str] = field(default_factory=list)
    remove_if_empty: list[str] = field(default_factory=list)  # folders, deepest first
    verify: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def targets(
    installs: list[dict[str, Any]],
    envs: list[dict[str, Any]],
    *,
    scope: Scope,
    state: State,
    profiles: list[str] | None = None,
    flavour: PathFlavour = "windows",
) -> tuple[list[Interpreter], list[Folder], list[Skip]]:
    """The interpreters to bridge and the folders the hook goes into, with what is left alone and why."""
    pairs, skips = pair_up(installs, envs)
    interps = interpreters(pairs, flavour)
    if state == "absent":
        # Clean wherever an earlier run may have written, even for pairs no longer valid today.
        skips = []
        interps = interps + unpaired_interpreters(installs, envs, {i.key for i in interps}, flavour)
    else:
        # Earlier versions of this role wrote into arcgispro-py3 (and clones copied it): with no entries,
        # their folders are cleaned like state absent does.
        pro = [i for i in installs if i.get("product") == "pro"]
        interps = interps + unpaired_interpreters(pro, [], {i.key for i in interps}, flavour)
    folders, folder_skips = folders_for(interps, scope, profiles or [], flavour)
    return interps, folders, skips + folder_skips


def probe_files(folders: list[Folder], scope: Scope, flavour: PathFlavour = "windows") -> list[str]:
    """The files whose presence and checksum the plan needs from the host (user scope only)."""
    if scope != "user":
        return []
    mod = pathmod(flavour)
    return [mod.join(f.path, name) for f in folders for name in (SHIM_NAME, BACKUP_NAME)]


def _classify_shim(
    folder: str, existing: dict[str, str | None], flavour: PathFlavour
) -> tuple[str | None, str | None]:
    """(sha1 of usercustomize.py or None, sha1 of the backup or None), looked up case-insensitively."""
    mod = pathmod(flavour)
    keyed = {norm(path, flavour): value for path, value in existing.items()}
    shim = keyed.get(norm(mod.join(folder, SHIM_NAME), flavour))
    backup = keyed.get(norm(mod.join(folder, BACKUP_NAME), flavour))
    return shim, backup


def build_bridge_plan(
    installs: list[dict[str, Any]],
    envs: list[dict[str, Any]],
    *,
    scope: Scope,
    state: State,
    profiles: list[str] | None = None,
    existing: dict[str, str | None] | None = None,
    verify_arcpy: bool = False,
    flavour: PathFlavour = "windows",
) -> BridgePlan:
    """The whole plan for one host.

    ``existing`` maps each path of ``probe_files`` that exists on the host to its sha1 (absent paths are
    simply missing). Raises PlanError when a user's usercustomize.py would otherwise be lost.
    """
    mod = pathmod(flavour)
    existing = existing or {}
    interps, folders, skips = targets(
        installs, envs, scope=scope, state=state, profiles=profiles, flavour=flavour
    )
    plan = BridgePlan(skipped=[asdict(s) for s in skips], folders=[f.path for f in folders])

    for folder in folders:
        hook, data, pth = (mod.join(folder.path, n) for n in (HOOK_NAME, DATA_NAME, PTH_NAME))
        shim, backup = mod.join(folder.path, SHIM_NAME), mod.join(folder.path, BACKUP_NAME)
        shim_sha, backup_sha = (
            _classify_shim(folder.path, existing, flavour) if scope == "user" else (None, None)
        )
        ours = shim_sha in SHIM_SHA1S or shim_sha in SHIM_SHA256S
        if state == "present" and folder.entries:
            if scope == "user":
                plan.dirs.append(folder.path)
                if shim_sha is not None and not ours:
                    if backup_sha is not None:
                        raise PlanError(
                            f"{shim} is not the bridge's and {backup} already holds an earlier one: merge "
                            f"the two into {backup}, delete {shim}, then run the role again"
                        )
                    plan.backups.append({"src": shim, "dest": backup})
            plan.copies.append({"src": HOOK_NAME, "dest": hook})
            plan.contents.append({"dest": data, "content": data_file(folder.entries)})
            if scope == "user":
                plan.copies.append({"src": SHIM_NAME, "dest": shim})
            else:
                plan.contents.append({"dest": pth, "content": pth_content(data)})
        else:
            if scope == "machine":
                plan.removes.extend([pth, data, hook])
                continue
            if backup_sha is not None and (ours or shim_sha is None):
                plan.restores.append({"src": backup, "dest": shim})
                plan.removes.append(backup)
                plan.removes.extend(shim_bytecode(folder.path, folder.python, flavour))
            elif ours:
                plan.removes.append(shim)
                plan.removes.extend(shim_bytecode(folder.path, folder.python, flavour))
            elif backup_sha is not None:
                plan.skipped.append(
                    asdict(
                        Skip(backup, f"kept: {shim} is no longer the bridge's, so it is not restored over it")
                    )
                )
            plan.removes.extend([data, hook])
            # Folders present created (user site, its parents up to the user base), once nothing is left.
            chain = [mod.join(folder.path, "__pycache__")]
            if folder.userbase:
                path = folder.path
                while len(chain) < 8 and norm(path, flavour).startswith(norm(folder.userbase, flavour)):
                    chain.append(path)
                    if norm(path, flavour) == norm(folder.userbase, flavour):
                        break
                    path = mod.dirname(path)
            plan.remove_if_empty.extend(p for p in chain if p not in plan.remove_if_empty)

    # Deepest first, so a parent is tried only after its children are gone.
    plan.remove_if_empty.sort(key=lambda p: (-len(mod.normpath(p).split(mod.sep)), p))
    if state == "present":
        plan.verify = verify_runs(interps, folders, scope, verify_arcpy, flavour)
        bridged = [f for f in folders if f.profile and f.entries]
        if scope == "user" and bridged and not any(r["userbase"] for r in plan.verify):
            why = (
                "only the Default profile is checked by the admin run (a user's own site may hold code the "
                "admin's Python would run); set startup_bridge_default_profile: true to have it checked, or "
                "check as the user"
            )
            plan.skipped.append(asdict(Skip("the verify of the user-scope bridge", why)))
    return plan


def verify_runs(
    interps: list[Interpreter], folders: list[Folder], scope: Scope, verify_arcpy: bool, flavour: PathFlavour
) -> list[dict[str, Any]]:
    """One verify run per bridged interpreter. machine scope runs with -s (no user site) so the machine
    hook alone is proved; user scope points PYTHONUSERBASE at the Default profile's, never at a user's: a
    student's user site may hold their own start-up code, which the admin's Python would then run. Without
    a bridged Default profile, the user-scope runs are left out (``verify_skips`` says so)."""
    userbase = None
    if scope == "user":
        profiles = [f.profile for f in folders if f.profile and f.entries]
        default = [p for p in profiles if pathmod(flavour).basename(p).lower() == DEFAULT_PROFILE.lower()]
        userbase = profile_userbase(default[0], flavour) if default else None
    covered = {i for f in folders if f.entries for i in f.interpreters}
    runs = []
    for interp in interps:
        if interp.key not in covered and not interp.verify_only:
            continue
        # -E: no PYTHON* variable reaches the admin's run; scope user needs PYTHONUSERBASE, so not there.
        isolated = scope == "machine" or interp.verify_only
        if not isolated and userbase is None:
            continue  # only a student's profile has the hook: the admin never runs Python in it
        args = ["-E", "-s"] if isolated else []
        args.append("-")
        for path in interp.expect:
            args.extend(["--expect", path])
        if interp.side == "arcgis":
            # ArcGIS's Python imports a compiled package of its env (pyzmq, tornado, ...): DLLs load too.
            for path in interp.expect:
                args.extend(["--compiled", path])
        arcpy = verify_arcpy and interp.side == "env"
        if arcpy:
            args.append("--arcpy")
        runs.append(
            {
                "key": interp.key,
                "side": interp.side,
                "label": interp.label,
                "python_exe": interp.python_exe,
                "argv": [interp.python_exe, *args],
                "userbase": None if isolated else userbase,
                "environment": {"PYTHONUSERBASE": userbase} if userbase and not isolated else {},
                "expect": interp.expect,
                "own": interp.site_packages,
                "python": interp.python,
                "bits": interp.bits,
                "prefix": interp.prefix,
                "arcpy": arcpy,
                "product": interp.product,
                "arcgis_ids": interp.arcgis_ids,
                "envs": interp.envs,
                "conda_meta_expected": interp.side == "env" and interp.product == "pro",
                "verify_only": interp.verify_only,
            }
        )
    return runs


def plan_startup_bridge(
    installs: list[dict[str, Any]],
    envs: list[dict[str, Any]],
    *,
    scope: Scope,
    state: State,
    users: list[str],
    default_profile: bool,
    profiles_dir: str,
    verify_arcpy: bool,
    list_dirs: Callable[[str], list[str]],
    checksums: Callable[[list[str]], dict[str, str | None]],
    flavour: PathFlavour = "windows",
    records: list[dict[str, Any]] | None = None,
) -> BridgePlan:
    """The plan, asking the host only what it must: the profile folders (``list_dirs``) and, in scope user,
    the sha1 of any usercustomize.py and backup already in the target folders (``checksums``, which
    returns only the paths that exist). The action plugin passes win_find calls; the tests local ones."""
    profiles: list[str] = []
    profile_skips: list[Skip] = []
    if scope == "user":
        existing = list_dirs(profiles_dir)
        # ProfileList may put a profile elsewhere (D:\\Profiles\\x): list each folder holding one too.
        for parent in profile_parents(records or [], profiles_dir, flavour):
            existing += list_dirs(parent)
        profiles, profile_skips = select_profiles(existing, users, default_profile, flavour, records)
    _f, folders, _s = targets(installs, envs, scope=scope, state=state, profiles=profiles, flavour=flavour)
    files = probe_files(folders, scope, flavour)
    existing = checksums(files) if files else {}
    plan = build_bridge_plan(
        installs,
        envs,
        scope=scope,
        state=state,
        profiles=profiles,
        existing=existing,
        verify_arcpy=verify_arcpy,
        flavour=flavour,
    )
    plan.skipped = [asdict(s) for s in profile_skips] + plan.skipped
    return plan
