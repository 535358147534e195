"""The conformance suite's facts: every Windows behaviour the fleet relies on, as a check with its source.

``playbooks/selftest.yml`` makes the host calls (well-known ansible.windows modules and the fleet's own
host scripts, in a scratch folder and a scratch registry key it removes afterwards); this module builds
the host-script parameters of each step and judges the answers on the controller, so the same judgement
runs against the simulated workstation (tests/simwin, in ``make test``) and against a real one. Each
check says ``holds`` or ``differs`` with the value the host gave, or ``not checked`` with the reason
(a Miniconda2 that is not there). The model's facts are in ``tests/simwin/README.md`` ("What is
modelled"), each naming its check id here; a unit test keeps the two lists in step.
"""

from __future__ import annotations

import hashlib
import json
import ntpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh

HOLDS, DIFFERS, NOT_CHECKED = "holds", "differs", "not checked"
SCRATCH_PREFIX = "arcgis-conda-selftest-"
REG_KEY = "HKLM:\\SOFTWARE\\arcgis-conda-selftest"
HIVE_MOUNT = "HKU\\arcgis_conda_selftest"
HIVE_VALUE = ("selftest", "a value saved in a scratch hive")
FILE_CONTENT = "arcgis-conda selftest\r\nnon-ASCII: \u00e9\u00fc\u20ac\r\n".encode()
# Arguments a command line must carry intact: spaces, quotes, trailing backslashes, an empty one,
# backslashes before a quote, non-ASCII (Latin-1 and the euro sign, both in Windows-1252), and %VAR%
# (no shell is involved, so it stays literal).
TRICKY_ARGS = (
    "two words",
    'say "hi"',
    "C:\\dir with space\\",
    "trailing\\",
    "",
    'a\\\\"b',
    "caf\u00e9 \u20ac",
    "%PATH%",
)
TREE_TIMEOUT = 5
# Microsoft Root Certificate Authority 2011, in every Windows 10/11 Root store (Microsoft PKI repository,
# https://www.microsoft.com/pkiops/docs/repository.htm); and a thumbprint no certificate has.
MS_ROOT_2011 = "8F43288AD272F3103B6FB1428485EA3014C0BCFE"
NO_SUCH_THUMBPRINT = "00" * 20
# Pythons the process checks may run, best first: one only an admin can change (the lab's rule).
PYTHON_GLOBS = (
    "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\envs\\arcgispro-py3\\python.exe",
    "C:\\Miniconda*\\python.exe",
    "C:\\Python27\\ArcGIS*\\python.exe",
)
CONDA2_GLOB = "C:\\Miniconda2*\\Scripts\\conda.exe"

SIDS = {
    "S-1-5-18": "SYSTEM",
    "S-1-5-32-544": "Administrators",
    "S-1-5-32-545": "Users",
    "S-1-5-11": "Authenticated Users",
    "S-1-1-0": "Everyone",
    "S-1-3-0": "CREATOR OWNER",
    "S-1-15-2-1": "ALL APPLICATION PACKAGES",
    "S-1-15-2-2": "ALL RESTRICTED APPLICATION PACKAGES",
    "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464": "TrustedInstaller",
}
SYSTEM, ADMINS, USERS, AUTH_USERS, TRUSTED_INSTALLER = (
    "S-1-5-18",
    "S-1-5-32-544",
    "S-1-5-32-545",
    "S-1-5-11",
    "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464",
)
# A standard user's token at the console: Everyone, Authenticated Users, Users, INTERACTIVE (and their own
# SID, which no shipped ACL names). https://learn.microsoft.com/en-us/windows/win32/secauthz/well-known-sids
STANDARD_USER = frozenset({"S-1-1-0", AUTH_USERS, USERS, "S-1-5-4"})
# FileSystemRights WriteData/CreateFiles and AppendData/CreateDirectories; GENERIC_ALL as .NET reports it raw.
CREATE_FILES, CREATE_FOLDERS = 0x2, 0x4
GENERIC_ALL = 0x10000000
FULL, MODIFY, READ_EXECUTE = 2032127, 1245631, 1179817
WSMV = "https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/"
ACL_DOCS = "https://learn.microsoft.com/en-us/windows/win32/secauthz/ace-inheritance-rules"


@dataclass(frozen=True)
class Check:
    """One Windows fact the fleet relies on, and where it is written down."""

    id: str
    fact: str
    source: str


CHECKS: tuple[Check, ...] = (
    Check(
        "acl.c_root",
        "C:\\ lets any signed-in user create a folder (Authenticated Users AppendData on the root) and "
        "what is created there inherits Authenticated Users Modify (inherit-only entry)",
        "https://nvd.nist.gov/vuln/detail/CVE-2022-26526 ; https://github.com/conda/constructor/issues/528",
    ),
    Check(
        "acl.c_new_folder",
        "A folder the admin session creates at C:\\ is owned by Administrators and a standard user may "
        "write it",
        "https://nvd.nist.gov/vuln/detail/CVE-2022-26526 ; "
        "https://learn.microsoft.com/en-us/windows/win32/ad/how-security-descriptors-are-set-on-new-directory-objects",
    ),
    Check(
        "acl.programdata",
        "C:\\ProgramData lets Users create files and folders (WD, AD, container-inherit) and gives CREATOR "
        "OWNER full control of what they create (inherit-only)",
        "https://learn.microsoft.com/en-us/windows/win32/shell/knownfolderid ; "
        "https://github.com/microsoft/WSL/issues/8748",
    ),
    Check(
        "acl.programdata_new_folder",
        "A folder the admin session creates in C:\\ProgramData is owned by Administrators and a standard "
        "user may create files and folders in it",
        "https://learn.microsoft.com/en-us/windows/win32/shell/knownfolderid ; " + ACL_DOCS,
    ),
    Check(
        "acl.program_files",
        "C:\\Program Files is protected, owned by TrustedInstaller, writable only by admin principals, and "
        "carries inherit-only entries (TrustedInstaller, CREATOR OWNER, ALL APPLICATION PACKAGES)",
        "https://learn.microsoft.com/en-us/dotnet/api/system.security.accesscontrol.propagationflags "
        "(no Microsoft page lists this ACL: first contact confirms it)",
    ),
    Check(
        "acl.inherit_only",
        "An inherit-only entry set on a folder (win_acl propagation InheritOnly) grants nothing on the "
        "folder and is inherited by a file created below it; the host script reports both with their flags",
        "https://learn.microsoft.com/en-us/dotnet/api/system.security.accesscontrol.propagationflags ; "
        + ACL_DOCS,
    ),
    Check(
        "path.case_insensitive",
        "A path read in another letter case is the same file",
        "https://learn.microsoft.com/en-us/windows/win32/fileio/naming-a-file",
    ),
    Check(
        "host_read.file",
        "The host script reads a file's owner, size, SHA-256 and bytes as written",
        "plugins/module_utils/fleet_host_read.ps1 ; "
        "https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.utility/get-filehash",
    ),
    Check(
        "apply_files.secure",
        "Securing a tree leaves its top protected, owned by Administrators with SYSTEM and Administrators "
        "full control and Users read & execute, and every item below it owned by Administrators with only "
        "inherited entries",
        "plugins/module_utils/fleet_apply_files.ps1 ; "
        "https://learn.microsoft.com/en-us/dotnet/api/system.security.accesscontrol.objectsecurity.setaccessruleprotection",
    ),
    Check(
        "junction.create",
        "The admin session creates a directory junction with mklink /J and the host script lists it as a "
        "folder",
        "https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/mklink ; "
        "https://learn.microsoft.com/en-us/windows/win32/fileio/hard-links-and-junctions",
    ),
    Check(
        "junction.read",
        "The host script reports a junction as a reparse point and does not list its target's content",
        "https://learn.microsoft.com/en-us/windows/win32/fileio/reparse-points ; "
        "https://github.com/PowerShell/PowerShell/issues/3780",
    ),
    Check(
        "junction.secure",
        "Securing a tree with a junction in it reports the junction as skipped and leaves its target "
        "unchanged",
        "https://learn.microsoft.com/en-us/windows/win32/fileio/reparse-points ; "
        "https://github.com/PowerShell/PowerShell/issues/3780",
    ),
    Check(
        "process.arguments",
        "A program started with the controller's command line (fleet_host.command_line) receives every "
        "argument intact: spaces, quotes, trailing backslashes, an empty one, non-ASCII",
        "https://learn.microsoft.com/en-us/cpp/c-language/parsing-c-command-line-arguments ; "
        "https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.processstartinfo.arguments",
    ),
    Check(
        "process.tree_timeout",
        "A run that does not answer within its timeout is ended with every process it started",
        "https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/taskkill ; "
        "https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.process.kill",
    ),
    Check(
        "session.processes",
        "Running programs are listed with their image paths (Win32_Process.ExecutablePath)",
        "https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-process",
    ),
    Check(
        "winrm.quotas",
        "Both WinRM memory quotas are readable: the winrs Shell's (winrm connection) and the PowerShell "
        "plugin's (psrp); MS-WSMV's default is 1024 MB for each",
        f"{WSMV}7ffb4acd-cf01-4fbe-9e48-7746f5001957 ; {WSMV}31fa58aa-9fd1-46d2-a3d0-7d981158820f",
    ),
    Check(
        "registry.hive",
        "reg save writes a key to a hive file, reg load mounts it under HKU where its values read back, "
        "and reg unload removes it again",
        "https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/reg-load ; "
        "https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/reg-unload ; "
        "https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/reg-save",
    ),
    Check(
        "profiles.list",
        "ProfileList names each account's profile folder by SID, and the SID translates to an account",
        "https://learn.microsoft.com/en-us/troubleshoot/windows-server/user-profiles-and-logon/"
        "renaming-user-account-not-change-profile-path",
    ),
    Check(
        "env.machine",
        "The machine environment's Path is readable and holds the system folder",
        "https://learn.microsoft.com/en-us/windows/win32/procthread/environment-variables",
    ),
    Check(
        "store.root",
        "The host script reads LocalMachine\\Root by thumbprint: Microsoft Root Certificate Authority 2011 "
        "is there, a thumbprint no certificate has is not",
        "https://learn.microsoft.com/en-us/windows-hardware/drivers/install/local-machine-and-current-user-"
        "certificate-stores ; https://www.microsoft.com/pkiops/docs/repository.htm",
    ),
    Check(
        "conda2.version_stream",
        "Miniconda2's conda (Python 2.7) prints --version on stderr, not stdout",
        "https://bugs.python.org/issue18920 ; conda 4.8.3 conda/cli/conda_argparse.py (action='version')",
    ),
)
CHECK_IDS = tuple(c.id for c in CHECKS)


@dataclass
class Outcome:
    """One row of the selftest report."""

    id: str
    result: str
    value: str
    fact: str
    source: str
    note: str = ""
    accepted: bool = False

    def row(self) -> dict[str, Any]:
        row = asdict(self)
        row["status"] = "failed" if self.result == DIFFERS and not self.accepted else "ok"
        return row


# --- the scratch layout and each step's host-script parameters -------------------------------------------


@dataclass(frozen=True)
class Scratch:
    """The run's scratch paths (a random suffix the controller chose: no user can plant them first)."""

    suffix: str
    paths: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, suffix: str) -> Scratch:
        root = f"C:\\{SCRATCH_PREFIX}{suffix}"
        tree = ntpath.join(root, "tree")
        paths = {
            "root": root,
            "programdata": f"C:\\ProgramData\\{SCRATCH_PREFIX}{suffix}",
            "tree": tree,
            "sub": ntpath.join(tree, "sub"),
            "file": ntpath.join(tree, "sub", "probe.txt"),
            "link": ntpath.join(tree, "link"),
            "outside": ntpath.join(root, "outside"),
            "outside_file": ntpath.join(root, "outside", "inside.txt"),
            "hive": ntpath.join(root, "selftest.hiv"),
            "pids": ntpath.join(root, "tree-pids.json"),
        }
        return cls(suffix, paths)


def _entry_reads(scratch: Scratch, file_path: str | None = None) -> list[fh.Read]:
    p = scratch.paths
    return [
        fh.Read(p["tree"], "dir"),
        fh.Read(p["sub"], "dir"),
        fh.Read(file_path or p["file"], content=True),
        fh.Read(p["link"], "dir"),
        fh.Read(p["outside"], "dir"),
    ]


def host_call(step: str, suffix: str, python: str | None = None, conda: str | None = None) -> dict[str, Any]:
    """The ``win_powershell`` arguments (``script``, ``parameters``) of one selftest step."""
    scratch = Scratch.of(suffix)
    p = scratch.paths
    if step == "paths":
        return {"paths": p, "reg_key": REG_KEY, "hive_mount": HIVE_MOUNT, "hive_value": list(HIVE_VALUE)}
    if step == "setup":
        items = [
            {"op": "mkdir", "path": p["root"]},
            {"op": "mkdir", "path": p["programdata"]},
            {"op": "mkdir", "path": p["tree"]},
            {"op": "mkdir", "path": p["sub"]},
            {"op": "mkdir", "path": p["outside"]},
            fh.write_item(p["outside_file"], b"the junction's target\r\n"),
        ]
        return {"script": fh.APPLY_FILES_SCRIPT, "parameters": {"Items": items}}
    if step == "write":
        return {
            "script": fh.APPLY_FILES_SCRIPT,
            "parameters": {"Items": [fh.write_item(p["file"], FILE_CONTENT)]},
        }
    if step == "secure":
        return {
            "script": fh.APPLY_FILES_SCRIPT,
            "parameters": {"Items": [fh.secure_item(p["tree"])]},  # as the roles secure a tree
        }
    if step == "read":
        reads = [
            fh.Read("C:\\", "dir"),
            fh.Read("C:\\ProgramData", "dir"),
            fh.Read("C:\\Program Files", "dir"),
            fh.Read(p["root"], "dir"),
            fh.Read(p["programdata"], "dir"),
            *_entry_reads(scratch),
            *(fh.Read(pattern, "glob") for pattern in PYTHON_GLOBS),
            fh.Read(CONDA2_GLOB, "glob"),
            fh.Read(fh.PROGRAMDATA_CONDA, "dir"),
        ]
        params = fh.host_read_params(
            reads,
            profiles=True,
            session=True,
            env_names=["Path"],
            thumbprints=[MS_ROOT_2011, NO_SUCH_THUMBPRINT],
        )
        return {"script": params["script"], "parameters": params["parameters"]}
    if step == "after":
        # The file in upper case: one call never reads a path twice (fleet_host.merge_reads folds case).
        params = fh.host_read_params(_entry_reads(scratch, p["file"].upper()))
        return {"script": params["script"], "parameters": params["parameters"]}
    if step == "runs":
        runs: list[dict[str, Any]] = []
        if python:
            runs = [
                {
                    "id": "arguments",
                    "argv": [python, "-E", "-s", "{script}", *TRICKY_ARGS],
                    "script": script("argv"),
                },
                {
                    "id": "tree",
                    "argv": [python, "-E", "-s", "{script}", p["pids"]],
                    "script": script("tree"),
                    "timeout": TREE_TIMEOUT,
                },
            ]
        if conda:
            runs.append({"id": "conda2", "argv": [conda, "--version"]})
        params = fh.host_read_params(runs=runs)
        return {"script": params["script"], "parameters": params["parameters"]}
    if step == "processes":
        params = fh.host_read_params([fh.Read(p["pids"], content=True)], session=True)
        return {"script": params["script"], "parameters": params["parameters"]}
    raise ValueError(f"unknown selftest step {step!r}")


def script(name: str) -> str:
    """A selftest script that runs on the host (roles/fleet/files/selftest_<name>.py), Python 2.7 and 3.x."""
    here = Path(__file__).resolve().parents[2] / "roles" / "fleet" / "files" / f"selftest_{name}.py"
    return here.read_text(encoding="utf-8")


def pick(read_result: Mapping[str, Any], kind: str) -> str | None:
    """The program a process check may run: the first match of the ``kind`` globs ('python' or 'conda2')
    that only an admin can change, with its folder (running one a user can write as admin breaks the lab's
    one rule); None when there is none."""
    snapshot = fh.Snapshot(read_result)
    if (
        kind == "conda2"
        and not snapshot.entries.get(fh.key(fh.PROGRAMDATA_CONDA), fh.Entry("", "missing")).trusted()
    ):
        # Every conda reads the machine condarc in C:\ProgramData\conda (conda/conda#14912): where that folder
        # is missing or a user's, a user could plant one. site.yml makes it admin-only.
        return None
    patterns = PYTHON_GLOBS if kind == "python" else (CONDA2_GLOB,)
    for pattern in patterns:
        for path in snapshot.globs.get(fh.key(pattern), []):
            exe = snapshot.entries[fh.key(path)]
            if exe.trusted():
                return path
    return None


# --- judging ---------------------------------------------------------------------------------------------


def name_of(sid: str) -> str:
    return SIDS.get(sid, sid)


def describe_acl(entry: fh.Entry) -> str:
    """``owner X; protected; SID rights flags`` in one line: what an admin compares with ``icacls``."""
    parts = [f"owner {name_of(str(entry.owner))}"] + (["protected"] if entry.protected else [])
    for ace in entry.acl:
        flags = [str(ace.get("inherit"))] + (["inherit-only"] if ace.get("inherit_only") else [])
        flags += ["inherited"] if ace.get("inherited") else []
        kind = "" if ace.get("type") == "allow" else f"{ace.get('type')} "
        parts.append(f"{kind}{name_of(str(ace.get('sid')))} {ace.get('rights')} ({', '.join(flags)})")
    return "; ".join(parts)


def granted(entry: fh.Entry, sids: frozenset[str] | set[str], right: int) -> bool:
    """Whether the token ``sids`` holds ``right`` on the object itself (deny first; inherit-only entries
    grant nothing here). https://learn.microsoft.com/en-us/windows/win32/secauthz/how-dacls-control-access-to-an-object"""
    allow = deny = 0
    for ace in entry.acl:
        if ace.get("inherit_only") or str(ace.get("sid")) not in sids:
            continue
        rights = int(ace.get("rights") or 0)
        if rights & GENERIC_ALL:
            rights |= FULL
        if ace.get("type") == "deny":
            deny |= rights
        else:
            allow |= rights
    return bool(allow & right) and not deny & right


def _passes_on(entry: fh.Entry, sid: str, right: int, inherit_only: bool | None = None) -> bool:
    """An allow entry for ``sid`` that children inherit (container or object) with ``right``."""
    for ace in entry.acl:
        rights = int(ace.get("rights") or 0) | (FULL if int(ace.get("rights") or 0) & GENERIC_ALL else 0)
        if (
            str(ace.get("sid")) == sid
            and ace.get("type") == "allow"
            and ace.get("inherit") in ("container", "object", "both")
            and rights & right == right
            and (inherit_only is None or bool(ace.get("inherit_only")) == inherit_only)
        ):
            return True
    return False


@dataclass
class Answers:
    """What the selftest steps returned (win_powershell ``result`` dicts, win_command and win_reg_stat
    results); missing steps are empty."""

    suffix: str
    read: dict[str, Any]
    after: dict[str, Any]
    secured: dict[str, Any]
    runs: dict[str, Any]
    processes: dict[str, Any]
    junction: dict[str, Any]
    hive: dict[str, Any]
    python: str | None
    conda: str | None

    @property
    def paths(self) -> dict[str, str]:
        return Scratch.of(self.suffix).paths

    def snap(self, name: str) -> fh.Snapshot:
        return fh.Snapshot(getattr(self, name) or {})

    def run(self, run_id: str) -> dict[str, Any]:
        return next((r for r in (self.runs.get("runs") or []) if r.get("id") == run_id), {})


def _verdict(ok: bool, value: str, note: str = "") -> tuple[str, str, str]:
    return (HOLDS if ok else DIFFERS), value, note


def _c_root(a: Answers) -> tuple[str, str, str]:
    root = a.snap("read").entry("C:\\")
    ok = granted(root, STANDARD_USER, CREATE_FOLDERS) and _passes_on(
        root, AUTH_USERS, MODIFY, inherit_only=True
    )
    return _verdict(ok, describe_acl(root))


def _c_new(a: Answers) -> tuple[str, str, str]:
    folder = a.snap("read").entry(a.paths["root"])
    ok = folder.owner == ADMINS and AUTH_USERS in folder.writable_by_others()
    return _verdict(ok, describe_acl(folder))


def _programdata(a: Answers) -> tuple[str, str, str]:
    pd = a.snap("read").entry("C:\\ProgramData")
    ok = (
        granted(pd, STANDARD_USER, CREATE_FILES)
        and granted(pd, STANDARD_USER, CREATE_FOLDERS)
        and _passes_on(pd, USERS, CREATE_FILES | CREATE_FOLDERS)
        and _passes_on(pd, "S-1-3-0", FULL, inherit_only=True)
    )
    return _verdict(ok, describe_acl(pd))


def _programdata_new(a: Answers) -> tuple[str, str, str]:
    folder = a.snap("read").entry(a.paths["programdata"])
    ok = (
        folder.owner == ADMINS
        and granted(folder, STANDARD_USER, CREATE_FILES)
        and granted(folder, STANDARD_USER, CREATE_FOLDERS)
    )
    return _verdict(ok, describe_acl(folder))


def _program_files(a: Answers) -> tuple[str, str, str]:
    pf = a.snap("read").entry("C:\\Program Files")
    io_sids = {str(ace.get("sid")) for ace in pf.acl if ace.get("inherit_only")}
    ok = (
        pf.protected
        and pf.owner == TRUSTED_INSTALLER
        and not pf.writable_by_others()
        and granted(pf, STANDARD_USER, READ_EXECUTE)
        and {TRUSTED_INSTALLER, "S-1-3-0", "S-1-15-2-1"} <= io_sids
    )
    return _verdict(ok, describe_acl(pf))


def _inherit_only(a: Answers) -> tuple[str, str, str]:
    snap = a.snap("read")
    sub, probe = snap.entry(a.paths["sub"]), snap.entry(a.paths["file"])
    on_sub = [x for x in sub.acl if x.get("sid") == USERS and not x.get("inherited")]
    on_file = [x for x in probe.acl if x.get("sid") == USERS and x.get("inherited")]
    ok = (
        any(
            x.get("inherit_only") and x.get("inherit") == "both" and int(x["rights"]) == MODIFY
            for x in on_sub
        )
        and not granted(sub, {USERS}, MODIFY & ~READ_EXECUTE)
        and any(int(x["rights"]) == MODIFY and not x.get("inherit_only") for x in on_file)
        and USERS in probe.writable_by_others()
    )
    return _verdict(ok, f"{a.paths['sub']}: {describe_acl(sub)} | {a.paths['file']}: {describe_acl(probe)}")


def _case(a: Answers) -> tuple[str, str, str]:
    lower = a.snap("read").entry(a.paths["file"])
    upper = a.snap("after").entry(a.paths["file"].upper())  # the after step read it in upper case only
    ok = lower.type == "file" and upper.type == "file" and lower.sha256 == upper.sha256
    return _verdict(ok, f"{upper.path}: {upper.type} sha256 {upper.sha256}")


def _host_read_file(a: Answers) -> tuple[str, str, str]:
    probe = a.snap("read").entry(a.paths["file"])
    want = hashlib.sha256(FILE_CONTENT).hexdigest()
    ok = (
        probe.type == "file"
        and probe.owner == ADMINS
        and probe.size == len(FILE_CONTENT)
        and probe.sha256 == want
        and probe.content == FILE_CONTENT
    )
    value = f"owner {name_of(str(probe.owner))}, size {probe.size}, sha256 {probe.sha256}"
    value += "" if probe.content == FILE_CONTENT else f", content {probe.content!r}"
    return _verdict(ok, value, "" if ok else f"wrote {len(FILE_CONTENT)} bytes, sha256 {want}")


def _secure(a: Answers) -> tuple[str, str, str]:
    snap = a.snap("after")
    tree, sub, probe = (snap.entry(a.paths[k]) for k in ("tree", "sub", "file"))
    want = {(SYSTEM, FULL), (ADMINS, FULL), (USERS, READ_EXECUTE)}
    top = {(str(x.get("sid")), int(x.get("rights") or 0)) for x in tree.acl}
    top_ok = (
        tree.protected
        and tree.owner == ADMINS
        and top == want
        and all(x.get("inherit") == "both" and not x.get("inherited") for x in tree.acl)
    )
    below_ok = all(
        e.type in ("file", "dir") and e.owner == ADMINS and e.acl and all(x.get("inherited") for x in e.acl)
        for e in (sub, probe)
    )
    value = " | ".join(f"{e.path}: {describe_acl(e)}" for e in (tree, sub, probe))
    return _verdict(top_ok and below_ok and not probe.writable_by_others(), value)


def _junction_create(a: Answers) -> tuple[str, str, str]:
    rc = a.junction.get("rc")
    listing = a.snap("read").entry(a.paths["tree"]).children or []
    child = next((c for c in listing if str(c.get("name", "")).lower() == "link"), None)
    ok = rc == 0 and bool(child and child.get("dir"))
    return _verdict(ok, f"mklink rc {rc}; listed as {child}", str(a.junction.get("stderr") or "").strip())


def _reparse(raw: Mapping[str, Any]) -> bool:
    """The host script's word for a reparse point: a ``reparse`` key or the type ``reparse``."""
    return bool(raw.get("reparse")) or raw.get("type") == "reparse"


def _junction_read(a: Answers) -> tuple[str, str, str]:
    raw = next(
        (r for r in (a.read.get("reads") or []) if fh.key(str(r.get("path", ""))) == fh.key(a.paths["link"])),
        {},
    )
    names = [str(c.get("name")) for c in raw.get("children") or []]
    ok = _reparse(raw) and "inside.txt" not in [n.lower() for n in names]
    value = f"type {raw.get('type')}, reparse {raw.get('reparse')!r}, children {names}"
    note = "" if ok else "intended: reported as a reparse point, never listed through (issue 23 item 2)"
    return _verdict(ok, value, note)


def _junction_secure(a: Answers) -> tuple[str, str, str]:
    applied = (a.secured.get("applied") or [{}])[0]
    skipped = applied.get("skipped") or []
    link = next((s for s in skipped if fh.key(str(s.get("path", ""))) == fh.key(a.paths["link"])), None)
    before, after = a.snap("read").entry(a.paths["outside"]), a.snap("after").entry(a.paths["outside"])
    same = (before.owner, before.protected, before.acl) == (after.owner, after.protected, after.acl)
    ok = link is not None and same
    return _verdict(
        ok, f"skipped {link}; target {'unchanged' if same else 'changed: ' + describe_acl(after)}"
    )


def _arguments(a: Answers) -> tuple[str, str, str]:
    if not a.python:
        return NOT_CHECKED, "", "no Python only an admin can change (ArcGIS Pro's, a secured Miniconda)"
    run = a.run("arguments")
    try:
        got = json.loads(str(run.get("stdout") or "").strip() or "null")
    except ValueError:
        got = None
    ok = got == list(TRICKY_ARGS)
    value = (
        json.dumps(got) if got is not None else f"rc {run.get('rc')}: {run.get('stderr') or run.get('error')}"
    )
    note = f"{a.python} {fh.command_line(list(TRICKY_ARGS))}"
    return _verdict(ok, value, note if not ok else a.python)


def _tree(a: Answers) -> tuple[str, str, str]:
    if not a.python:
        return NOT_CHECKED, "", "no Python only an admin can change (ArcGIS Pro's, a secured Miniconda)"
    run = a.run("tree")
    snap = a.snap("processes")
    try:
        pids = json.loads(snap.text(a.paths["pids"]) or "{}")
    except (ValueError, fh.NotObserved):
        pids = {}
    alive = [p for p in snap.session.get("processes") or [] if p.get("pid") in set(pids.values())]
    ok = bool(pids) and not alive and bool(run.get("error")) and run.get("rc") is None
    value = f"run error {run.get('error')!r}; pids {pids}; still running {alive}"
    return _verdict(ok, value)


def _processes(a: Answers) -> tuple[str, str, str]:
    procs = a.snap("read").session.get("processes") or []
    ok = bool(procs) and all(ntpath.isabs(str(p.get("path") or "")) for p in procs)
    return _verdict(ok, f"{len(procs)} programs, e.g. {procs[0].get('path') if procs else None}")


def _quotas(a: Answers) -> tuple[str, str, str]:
    session = a.snap("read").session
    shell, plugin = session.get("shell_max_memory_mb"), session.get("plugin_max_memory_mb")
    ok = isinstance(shell, int) and isinstance(plugin, int)
    note = "" if (shell, plugin) == (1024, 1024) else "not the default 1024: a site setting (Group Policy?)"
    return _verdict(ok, f"{fh.SHELL_QUOTA} {shell}; {fh.PLUGIN_QUOTA} {plugin}", note)


def _hive(a: Answers) -> tuple[str, str, str]:
    steps = a.hive
    rcs = {k: (steps.get(k) or {}).get("rc") for k in ("save", "load", "unload")}
    loaded, gone = steps.get("loaded") or {}, steps.get("unloaded") or {}
    ok = (
        rcs == {"save": 0, "load": 0, "unload": 0}
        and loaded.get("exists") is True
        and loaded.get("value") == HIVE_VALUE[1]
        and gone.get("exists") is False
    )
    errors = "; ".join(
        str((steps.get(k) or {}).get("stderr") or "").strip() for k in ("save", "load", "unload") if rcs[k]
    )
    return _verdict(
        ok, f"rc {rcs}; value read {loaded.get('value')!r}; after unload {gone.get('exists')}", errors
    )


def _profiles(a: Answers) -> tuple[str, str, str]:
    profiles = a.snap("read").profiles
    # Local and domain accounts (S-1-5-21-...) and Entra ID accounts (S-1-12-1-...).
    users = [p for p in profiles if str(p.get("sid", "")).startswith(("S-1-5-21-", "S-1-12-1-"))]
    ok = all(p.get("path") for p in users) and any(p.get("account") for p in users)
    unnamed = len([p for p in users if not p.get("account")])
    value = "; ".join(f"{p.get('sid')} {p.get('account')} {p.get('path')}" for p in users[:5])
    return _verdict(
        ok, value, f"{unnamed} profile(s) of deleted accounts (SID does not translate)" if unnamed else ""
    )


def _env(a: Answers) -> tuple[str, str, str]:
    path = str(a.snap("read").env.get("PATH") or "")
    folders = [f.strip().rstrip("\\").lower() for f in path.split(";")]
    ok = any(f in ("%systemroot%\\system32", "c:\\windows\\system32") for f in folders)
    return _verdict(ok, path)


def _store(a: Answers) -> tuple[str, str, str]:
    store = a.snap("read").store
    ok = store.get(MS_ROOT_2011) is True and store.get(NO_SUCH_THUMBPRINT) is False
    return _verdict(ok, json.dumps(store, sort_keys=True))


def _conda2(a: Answers) -> tuple[str, str, str]:
    if not a.conda:
        return (
            NOT_CHECKED,
            "",
            (
                f"no Miniconda2 only an admin can change at {CONDA2_GLOB} with an admin-only "
                f"{fh.PROGRAMDATA_CONDA} (site.yml makes both)"
            ),
        )
    run = a.run("conda2")
    out, err = str(run.get("stdout") or "").strip(), str(run.get("stderr") or "").strip()
    ok = run.get("rc") == 0 and not out and err.startswith("conda ")
    return _verdict(ok, f"rc {run.get('rc')}; stdout {out!r}; stderr {err!r}", a.conda)


JUDGES: dict[str, Callable[[Answers], tuple[str, str, str]]] = {
    "acl.c_root": _c_root,
    "acl.c_new_folder": _c_new,
    "acl.programdata": _programdata,
    "acl.programdata_new_folder": _programdata_new,
    "acl.program_files": _program_files,
    "acl.inherit_only": _inherit_only,
    "path.case_insensitive": _case,
    "host_read.file": _host_read_file,
    "apply_files.secure": _secure,
    "junction.create": _junction_create,
    "junction.read": _junction_read,
    "junction.secure": _junction_secure,
    "process.arguments": _arguments,
    "process.tree_timeout": _tree,
    "session.processes": _processes,
    "winrm.quotas": _quotas,
    "registry.hive": _hive,
    "profiles.list": _profiles,
    "env.machine": _env,
    "store.root": _store,
    "conda2.version_stream": _conda2,
}


def judge(answers: Answers, accepted: Sequence[str] = ()) -> list[Outcome]:
    """Every check, in catalogue order. A check whose evidence is missing (its step failed) differs, with the
    reason; ``accepted`` lists check ids whose difference the admin has reported and accepts for now."""
    out = []
    for check in CHECKS:
        try:
            result, value, note = JUDGES[check.id](answers)
        except fh.NotObserved as exc:
            result, value, note = DIFFERS, "", f"no answer to judge: {type(exc).__name__}: {exc}"
        out.append(
            Outcome(
                check.id,
                result,
                value,
                check.fact,
                check.source,
                note,
                check.id in accepted and result == DIFFERS,
            )
        )
    return out


def summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    return {
        "holds": len([o for o in outcomes if o.result == HOLDS]),
        "differs": [o.id for o in outcomes if o.result == DIFFERS and not o.accepted],
        "accepted": [o.id for o in outcomes if o.accepted],
        "not_checked": [o.id for o in outcomes if o.result == NOT_CHECKED],
    }
