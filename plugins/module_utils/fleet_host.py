"""What the fleet sends to a Windows host, and the host's answers as plain data.

Two PowerShell scripts, kept as files beside this module (as ansible.windows keeps its PowerShell, so a
Windows maintainer can lint them with PSScriptAnalyzer and test them with Pester), both thin, data-driven
and free of decisions (every decision is Python on the controller, in the roles' planners):

- ``fleet_host_read.ps1`` (``HOST_READ_SCRIPT``): read-only (the one transient act: the hive of a user who
  is not logged on is loaded with ``reg load`` to read its ``Software\\ESRI\\ArcGISPro`` and AppData, and
  unloaded in ``finally``, only when that user's data is needed - the SIDs the controller names
  (``load_hives``) or a profile holding a per-user Pro's default folder; a hive that will not load or
  unload is reported, never retried). The ESRI/Uninstall
  registry dump the probe needs, profiles, machine environment variables, Root-store presence, a list of
  file/folder/glob reads (size, SHA-256, content of small files, owner and DACL) and program runs (the
  probe, the checks). Observe and verify use it.
- ``fleet_apply_files.ps1`` (``APPLY_FILES_SCRIPT``): applies an ordered list of file operations (mkdir,
  write, copy, delete, rmdir_empty, secure) in one module call, so a role's small files cost one round
  trip, not one each.

Both go through ``ansible.windows.win_powershell`` (tested upstream on real Windows). The first line of
each names it, which is how the simulated workstation under ``tests/simwin`` recognises them.
:class:`Snapshot` is the answer of ``host_read``, looked up case-insensitively as Windows does; a
planner that asks for a path observe did not read gets :class:`NotObserved`, which is a bug in the
observe spec, never a guess.
"""

from __future__ import annotations

import base64
import functools
import json
import ntpath
import re
import subprocess
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _script(name: str) -> str:
    """A host script's text, read from the collection (as ansible.windows keeps its PowerShell in files)."""
    return Path(__file__).with_name(name).read_text(encoding="utf-8")


HOST_READ_SCRIPT = _script("fleet_host_read.ps1")

APPLY_FILES_SCRIPT = _script("fleet_apply_files.ps1")

# conda hard-codes its machine-wide configuration folder (conda/conda#14912); every conda >= 4.6.9 reads
# its .condarc, condarc and condarc.d\*.yml for every account (conda/conda#8272).
PROGRAMDATA_CONDA = "C:\\ProgramData\\conda"
FILE_OPS = ("mkdir", "write", "copy", "move", "delete", "rmdir_empty", "secure")
# .NET FileSystemRights bits that let a principal change a file or add to a folder, and the generic
# rights that map to them (GENERIC_ALL 0x10000000, GENERIC_WRITE 0x40000000: .NET reports them raw).
WRITE_RIGHTS = (
    0x2 | 0x4 | 0x10 | 0x40 | 0x100 | 0x10000 | 0x40000 | 0x80000 | 0x10000000 | 0x40000000
)  # write/append/ea/attrs/del/dac/owner, generic all/write
# Principals a lab's trusted paths may be owned or written by: SYSTEM, Administrators, TrustedInstaller
# (Program Files), and CREATOR OWNER (an inherit-only placeholder: it grants only what the creator of a
# child already had the right to create).
ADMIN_SIDS = frozenset(
    {
        "S-1-5-18",
        "S-1-5-32-544",
        "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464",
        "S-1-3-0",
    }
)
_GLOB = re.compile(r"[*?]")


class NotObserved(KeyError):
    """A planner asked about a path the observe step did not read: a bug in the observe spec."""

    def __str__(self) -> str:  # KeyError's own str() is the repr of its argument (doubled backslashes)
        return str(self.args[0]) if self.args else ""


@functools.lru_cache(maxsize=1 << 16)  # the same paths on every host of a lab, looked up many times each
def key(path: str) -> str:
    """Windows paths compare case-insensitively and without a trailing separator."""
    return ntpath.normpath(path).rstrip("\\").lower()


@dataclass(frozen=True)
class Read:
    """One read of the observe spec: a file, a folder (with its children's names) or a glob."""

    path: str
    kind: str = "file"  # file | dir | glob
    content: bool = False
    detail: bool = True  # owner, ACL and SHA-256; False: existence and size only (big conda-meta globs)

    def as_param(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "content": self.content, "detail": self.detail}


def merge_reads(reads: Iterable[Read]) -> list[Read]:
    """One read per (path, kind), asking for content when any asker wants it; order kept."""
    merged: dict[tuple[str, str], Read] = {}
    for read in reads:
        k = (key(read.path), read.kind)
        old = merged.get(k)
        merged[k] = (
            read
            if old is None
            else Read(old.path, old.kind, old.content or read.content, old.detail or read.detail)
        )
    return list(merged.values())


@dataclass
class Entry:
    path: str
    type: str  # file | dir | missing | error
    size: int | None = None
    sha256: str | None = None
    content: bytes | None = None
    owner: str | None = None
    protected: bool = False
    acl: list[dict[str, Any]] = field(default_factory=list)
    children: list[dict[str, Any]] | None = None
    error: str | None = None
    reparse: bool = False  # a junction or symbolic link (the ReparsePoint attribute)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any], acls: Sequence[Any] = ()) -> Entry:
        content = raw.get("content_b64")
        acl = raw.get("acl")
        if isinstance(acl, int) and not isinstance(acl, bool):  # the compact form: an index into ``acls``
            acl = acls[acl]
        return cls(
            path=str(raw.get("path", "")),
            type=str(raw.get("type", "missing")),
            size=raw.get("size"),
            sha256=(str(raw["sha256"]).lower() if raw.get("sha256") else None),
            content=base64.b64decode(content) if isinstance(content, str) else None,
            owner=raw.get("owner"),
            protected=bool(raw.get("protected")),
            acl=list(acl or []),
            children=list(raw["children"]) if isinstance(raw.get("children"), list) else None,
            error=raw.get("error"),
            reparse=bool(raw.get("reparse")),
        )

    def to_raw(self, acls: dict[str, int] | None = None) -> dict[str, Any]:
        """The ``host_read`` form; with ``acls`` (JSON text -> index, filled here) each ACL is an index into
        that table: a lab's files share a handful of ACLs, which are otherwise most of a snapshot."""
        raw: dict[str, Any] = {"path": self.path, "type": self.type}
        for name in ("size", "sha256", "owner", "error", "children"):
            value = getattr(self, name)
            if value is not None:
                raw[name] = value
        if self.type in ("file", "dir"):
            raw["protected"] = self.protected
            raw["acl"] = self.acl
            if acls is not None:
                raw["acl"] = acls.setdefault(json.dumps(self.acl, sort_keys=True), len(acls))
        if self.content is not None:
            raw["content_b64"] = base64.b64encode(self.content).decode("ascii")
        if self.reparse:
            raw["reparse"] = True
        return raw

    def trusted(self) -> bool:
        """Owned by an admin principal and writable by no one else: safe for the admin run to trust."""
        return self.type in ("file", "dir") and (self.owner in ADMIN_SIDS) and not self.writable_by_others()

    def writable_by_others(self) -> list[str]:
        """SIDs other than SYSTEM/Administrators that may change this file or add to this folder.

        An inherit-only entry (PropagationFlags.InheritOnly) is only passed on to children and grants
        nothing on the object itself; each child's own read shows what it inherited.
        https://learn.microsoft.com/en-us/dotnet/api/system.security.accesscontrol.propagationflags ,
        https://learn.microsoft.com/en-us/windows/win32/secauthz/ace-inheritance-rules"""
        sids = []
        if self.owner and self.owner not in ADMIN_SIDS:
            sids.append(self.owner)
        for ace in self.acl:
            if ace.get("inherit_only"):
                continue
            if ace.get("type") == "allow" and int(ace.get("rights") or 0) & WRITE_RIGHTS:
                sid = str(ace.get("sid"))
                if sid not in ADMIN_SIDS and sid not in sids:
                    sids.append(sid)
        return sids


# How ``ansible_facts.arcgis_conda_observed`` is kept: the compact snapshot as zlib-compressed JSON, one
# string. Ansible copies every host's facts into the variables of every task; one string costs nothing to
# copy and a few KB in the fact cache, where thousands of small objects cost most of the controller's time
# and memory (issue 27). ``unpack_observed`` reads it back.
OBSERVED_ENCODING = "zlib+base64:json"


def pack_observed(raw: Mapping[str, Any]) -> dict[str, Any]:
    text = json.dumps(raw, sort_keys=True, separators=(",", ":")).encode("utf-8")
    data = base64.b64encode(zlib.compress(text, 6)).decode("ascii")
    return {"encoding": OBSERVED_ENCODING, "bytes": len(text), "data": data}


def unpack_observed(value: Any) -> dict[str, Any] | None:
    """The snapshot dict from the fact (packed, or a plain dict from an older cache); None: not observed."""
    if isinstance(value, Mapping) and value.get("encoding") == OBSERVED_ENCODING:
        return dict(json.loads(zlib.decompress(base64.b64decode(str(value["data"])))))
    return dict(value) if isinstance(value, Mapping) and "reads" in value else None


class Snapshot:
    """A host's ``host_read`` answers, looked up case-insensitively.

    ``exists``/``text``/``sha256`` answer for a path that was read, or that is a child of a folder that
    was read (existence only), or that a glob covered. Anything else raises :class:`NotObserved`.
    """

    def __init__(self, raw: Mapping[str, Any] | None = None) -> None:
        raw = raw or {}
        self.entries: dict[str, Entry] = {}
        self.globs: dict[str, list[str]] = {}
        self._direct: list[str] = []
        acls = list(raw.get("acls") or [])
        for item in raw.get("reads") or []:
            if item.get("type") == "glob":
                matches = [Entry.from_raw(m, acls) for m in item.get("matches") or []]
                self.globs[key(str(item["path"]))] = [m.path for m in matches]
                for match in matches:
                    self._keep(match)
            else:
                entry = Entry.from_raw(item, acls)
                self._keep(entry)
                self._direct.append(key(entry.path))
        self.env = {str(k).upper(): v for k, v in (raw.get("env") or {}).items()}
        self.store = {str(k).upper(): bool(v) for k, v in (raw.get("store") or {}).items()}
        self.profiles = list(raw.get("profiles") or [])
        self.runs = {str(r.get("id")): r for r in raw.get("runs") or []}
        # The WinRM shell's memory quota (MB, None: unknown or none) and the running programs.
        self.session = dict(raw.get("session") or {})

    def _keep(self, entry: Entry) -> None:
        """One entry per path: two reads of one path (a file and a glob over it) keep what each knows."""
        k = key(entry.path)
        old = self.entries.get(k)
        if old is None:
            self.entries[k] = entry
            return
        for name in ("size", "sha256", "content", "owner", "children", "error"):
            if getattr(old, name) is None and getattr(entry, name) is not None:
                setattr(old, name, getattr(entry, name))
        if not old.acl and entry.acl:
            old.acl, old.protected = entry.acl, entry.protected

    def to_raw(self, compact: bool = False) -> dict[str, Any]:
        """The snapshot as ``host_read`` returned it (for the fact cache and offline plans); ``compact``:
        each path once and the ACLs as a table (what the fact cache keeps: ``Snapshot`` reads both)."""
        acls: dict[str, int] | None = {} if compact else None
        reads: list[dict[str, Any]] = [self.entries[k].to_raw(acls) for k in dict.fromkeys(self._direct)]
        for pattern, paths in self.globs.items():
            matches = [
                {"path": self.entries[key(p)].path}
                if compact and key(p) in self._direct
                # (compact: a path read directly is given once, with all the snapshot knows of it)
                else self.entries[key(p)].to_raw(acls)
                for p in paths
            ]
            reads.append({"path": pattern, "type": "glob", "matches": matches})
        out = {
            "reads": reads,
            "env": self.env,
            "store": self.store,
            "profiles": self.profiles,
            "session": self.session,
            "runs": [],
        }
        if acls is not None:
            out["acls"] = [json.loads(text) for text in acls]
        return out

    def holders(self, path: str) -> list[dict[str, Any]]:
        """Running programs whose image lies in ``path`` (a prefix): Windows keeps a running image and
        its DLLs open, so changing or removing that folder would fail half-way."""
        k = key(path)
        return [
            proc
            for proc in self.session.get("processes") or []
            if key(str(proc.get("path") or "")).startswith(k + "\\")
        ]

    def _covered_by_glob(self, path: str) -> bool:
        k = key(path)
        return any(_glob_match(pattern, k) for pattern in self.globs)

    def entry(self, path: str) -> Entry:
        k = key(path)
        found = self.entries.get(k)
        if found is not None:
            return found
        # The nearest ancestor that was read decides: missing, or listed without the next name, means missing.
        below, up = ntpath.basename(k), ntpath.dirname(k)
        while up and up != k:
            ancestor = self.entries.get(up)
            if ancestor is not None:
                if ancestor.type == "missing":
                    return Entry(path=path, type="missing")
                if ancestor.children is None:
                    break
                child = next((c for c in ancestor.children if str(c.get("name", "")).lower() == below), None)
                if child is None:
                    return Entry(path=path, type="missing")
                if up == ntpath.dirname(k):
                    return Entry(path=path, type="dir" if child.get("dir") else "file")
                break
            below, k2 = ntpath.basename(up), ntpath.dirname(up)
            if k2 == up:
                break
            up = k2
        if self._covered_by_glob(path):
            return Entry(path=path, type="missing")
        raise NotObserved(path)

    def exists(self, path: str) -> bool:
        return self.entry(path).type in ("file", "dir")

    def is_dir(self, path: str) -> bool:
        return self.entry(path).type == "dir"

    def sha256(self, path: str) -> str | None:
        entry = self.entry(path)
        if entry.type == "file" and entry.sha256 is None:
            raise NotObserved(path)
        return entry.sha256 if entry.type == "file" else None

    def data(self, path: str) -> bytes | None:
        entry = self.entry(path)
        if entry.type != "file":
            return None
        if entry.content is None:
            raise NotObserved(f"{path} (content)")
        return entry.content

    def text(self, path: str) -> str | None:
        data = self.data(path)
        return None if data is None else data.decode("utf-8-sig", errors="replace")

    def listing(self, path: str) -> list[str] | None:
        entry = self.entry(path)
        if entry.type != "dir":
            return None
        if entry.children is None:
            raise NotObserved(f"{path} (listing)")
        return [str(c.get("name")) for c in entry.children]

    def glob(self, pattern: str) -> list[str]:
        found = self.globs.get(key(pattern))
        if found is None:
            raise NotObserved(pattern)
        return list(found)


def _glob_match(pattern: str, path_key: str) -> bool:
    """Whether a (lower-cased) path lies at or under a glob's matches' depth (``*`` = one segment)."""
    parts = pattern.split("\\")
    names = path_key.split("\\")
    if len(names) != len(parts):
        return False
    for want, got in zip(parts, names, strict=True):
        if _GLOB.search(want):
            regex = "^" + re.escape(want).replace(r"\*", ".*").replace(r"\?", ".") + "$"
            if not re.match(regex, got):
                return False
        elif want != got:
            return False
    return True


def conda_activation(prefix: str) -> list[str]:
    """A run's environment as ``conda activate <prefix>`` sets it on Windows: the PATH folders of conda's
    ``_get_path_dirs`` (conda/activate.py: prefix, Library\\mingw-w64\\bin, Library\\usr\\bin,
    Library\\bin, Scripts, bin) before the session's PATH, and CONDA_PREFIX. Without them a Miniconda
    env's numpy cannot load its MKL DLLs (conda's "NumPy MKL library load failed"). Not run: the env's
    ``etc\\conda\\activate.d`` scripts (none of the checked packages needs one). ``%PATH%`` is expanded on
    the host (``ExpandEnvironmentVariables``); each item is ``NAME=VALUE``."""
    folders = [
        prefix,
        *(
            ntpath.join(prefix, *parts)
            for parts in (("Library", "mingw-w64", "bin"), ("Library", "usr", "bin"))
        ),
        ntpath.join(prefix, "Library", "bin"),
        ntpath.join(prefix, "Scripts"),
        ntpath.join(prefix, "bin"),
    ]
    return [f"PATH={';'.join(folders)};%PATH%", f"CONDA_PREFIX={prefix}", "CONDA_SHLVL=1"]


# conda writes one ``conda-meta\\<name>-<version>-<build>.json`` per installed package (conda's
# PrefixData); the file names alone say what an env holds, with no need to run conda.
CONDA_META_NAME = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)-(?P<build>[^-]+)\.json$", re.IGNORECASE)


def conda_meta_glob(root: str) -> str:
    """The conda package's own record under a conda root (its version decides which files it reads)."""
    return ntpath.join(root, "conda-meta", "conda-*.json")


def conda_packages(paths: Iterable[str]) -> dict[str, tuple[str, str]]:
    """name (lower case) -> (version, build), from observed ``conda-meta\\*.json`` paths."""
    out: dict[str, tuple[str, str]] = {}
    for path in paths:
        match = CONDA_META_NAME.match(ntpath.basename(path))
        if match:
            out[match["name"].lower()] = (match["version"], match["build"])
    return out


def match_profiles(
    profiles: Sequence[Mapping[str, Any]], user: str, *, full: bool = False
) -> list[dict[str, Any]]:
    """ProfileList profiles (``Snapshot.profiles``: sid, path, account) whose account is the user, given as
    DOMAIN\\name or name. By account, never by folder name: Windows names a second profile of the same
    name ``jsmith.LAB`` or ``jsmith.LABPC`` (ProfileImagePath is the truth), and the domain and a local
    account of one name are two users
    (https://learn.microsoft.com/en-us/troubleshoot/windows-server/user-profiles-and-logon/renaming-user-account-not-change-profile-path)."""
    out = []
    for profile in profiles:
        account = str(profile.get("account") or "")
        if account and (
            account.lower() == user.lower() or account.rsplit("\\", 1)[-1].lower() == user.lower()
        ):
            found = {"account": account, "path": str(profile.get("path"))}
            out.append({**dict(profile), **found} if full else found)  # full: sid, appdata, hive_error too
    return out


def redirected_appdata(profile: Mapping[str, Any]) -> str | None:
    """The profile's %APPDATA% when folder redirection moved it out of ``<profile>\\AppData\\Roaming``
    (User Shell Folders AppData of that user's hive, expanded for that user), else None."""
    raw = profile.get("appdata")
    if not raw:
        return None
    home = str(profile.get("path") or "")
    name = str(profile.get("account") or "").rsplit("\\", 1)[-1]
    values = {"userprofile": home, "username": name, "homedrive": home[:2], "systemdrive": home[:2]}
    value = re.sub(r"%([^%]+)%", lambda m: values.get(m.group(1).lower(), m.group(0)), str(raw))
    return None if key(value) == key(ntpath.join(home, "AppData", "Roaming")) else value


def run_output(run: Mapping[str, Any]) -> str:
    """Both streams of a host_read run, stdout first: a program's answer may be on either. conda 4.8.3
    declares ``--version`` with argparse ``action='version'`` (conda/cli/conda_argparse.py), which Python
    2.7 prints to stderr and only Python >= 3.4 to stdout (https://bugs.python.org/issue18920), so
    Miniconda2's ``conda --version`` answers on stderr."""
    return str(run.get("stdout") or "") + str(run.get("stderr") or "")


# The WSMan settings of the two memory quotas: the winrs shell's, and the PowerShell plugin's.
SHELL_QUOTA = "WSMan:\\localhost\\Shell\\MaxMemoryPerShellMB"
PLUGIN_QUOTA = "WSMan:\\localhost\\Plugin\\Microsoft.PowerShell\\Quotas\\MaxMemoryPerShellMB"


def memory_quota(session: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """(MB, WSMan setting) of the memory quota that ends this connection's programs, or (None, None).

    ``session`` is the host's answer (``shell_max_memory_mb``, ``plugin_max_memory_mb``; 0 means none)
    plus ``connection``, the connection plugin observe ran over. Ansible's ``winrm`` connection opens a
    winrs shell (pywinrm's ``open_shell``, resource ``windows/shell/cmd``), governed by
    ``Shell\\MaxMemoryPerShellMB`` (MS-WSMV default 1024:
    https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/7ffb4acd-cf01-4fbe-9e48-7746f5001957);
    ``psrp`` opens a runspace pool on the ``Microsoft.PowerShell`` endpoint (its ``configuration_name``
    default), governed by that plugin's ``Quotas\\MaxMemoryPerShellMB`` (MS-WSMV 3.1.4.1.34.3.4:
    https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/31fa58aa-9fd1-46d2-a3d0-7d981158820f).
    ``ssh`` uses neither. Any other connection (the default ``winrm`` when observe did not say, the test
    bed's imitation of it) is taken as winrm."""
    connection = str(session.get("connection") or "winrm").rsplit(".", 1)[-1].lower()
    if connection == "ssh":
        return None, None
    name, setting = (
        ("plugin_max_memory_mb", PLUGIN_QUOTA)
        if connection == "psrp"
        else ("shell_max_memory_mb", SHELL_QUOTA)
    )
    value = session.get(name)
    return (int(value), setting) if value else (None, None)


def write_item(path: str, content: bytes | str, backup: bool = False) -> dict[str, Any]:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return {
        "op": "write",
        "path": path,
        "content_b64": base64.b64encode(data).decode("ascii"),
        "backup": backup,
    }


# Owners the host's securing keeps: an item below a secured folder owned by anyone else is moved aside.
SECURE_OWNERS = ("S-1-5-18", "S-1-5-32-544", "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464")


def secure_item(path: str) -> dict[str, Any]:
    """The ``secure`` operation of ``apply_files`` for one folder tree: the owners it keeps, and the one
    command that resets the ACL of everything below it to the folder's inherited one.

    ``icacls <path>\\* /reset /T /C /L /Q``: /reset replaces each matching item's ACL with the default
    inherited one, /T recurses, /C goes on after an item's error (printed, and the exit code is non-zero),
    /L acts on a symbolic link itself, not its target, /Q prints errors only
    (https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/icacls). One process
    per tree, as conda's constructor sets an install's permissions ("Use icacls because it is much faster
    than custom NSIS solutions. We continue on error because icacls fails on broken links.",
    conda/constructor constructor/nsis/main.nsi.tmpl, the "Setting installation directory permissions"
    step, since conda/constructor#991). The host runs it only when no reparse point lies in the tree."""
    return {
        "op": "secure",
        "path": path,
        "owners": list(SECURE_OWNERS),
        "tree_arguments": [ntpath.join(path, "*"), "/reset", "/T", "/C", "/L", "/Q"],
    }


_ICACLS_ERROR = re.compile(r"^(?P<path>(?:[A-Za-z]:\\|\\\\).*?): (?P<why>.+)$")


def icacls_failures(command: Mapping[str, Any]) -> list[dict[str, str]]:
    """The items icacls could not change, from its output: one ``<path>: <message>`` line each (with /Q
    the success lines are not printed; the summary line names no path)."""
    failures = []
    for line in str(command.get("output") or "").splitlines():
        match = _ICACLS_ERROR.match(line.strip())
        if match:
            failures.append({"path": match["path"], "why": f"icacls: {match['why']}"})
    if not failures and command.get("rc") not in (0, None):
        failures.append(
            {
                "path": str((command.get("arguments") or ["?"])[0]),
                "why": f"icacls exit {command.get('rc')}: {command.get('output')}",
            }
        )
    return failures


def command_line(args: Sequence[str]) -> str:
    """The arguments as one Windows command line, quoted by the Microsoft C runtime's rules, which every
    program we run parses them by (python.exe, conda.exe; CommandLineToArgvW agrees on all it makes):
    an argument with a space or tab, or an empty one, goes in double quotes; a literal ``"`` is ``\\"``;
    backslashes are literal except before a ``"``, where 2n of them give n (so ``C:\\dir\\`` quoted ends
    ``\\\\"``).
    https://learn.microsoft.com/en-us/cpp/c-language/parsing-c-command-line-arguments ,
    https://learn.microsoft.com/en-us/windows/win32/api/shellapi/nf-shellapi-commandlinetoargvw .
    CPython's ``subprocess.list2cmdline`` implements exactly this (Lib/subprocess.py, used by Popen on
    Windows). No shell is involved (UseShellExecute false), so ``%``, ``^``, ``&`` need nothing."""
    return subprocess.list2cmdline(list(args))


def run_param(run: Mapping[str, Any]) -> dict[str, Any]:
    """One run as host_read takes it: ``file`` (argv[0]) and ``arguments`` (the rest, as one command line
    built here, so PowerShell does no quoting). ``{script}`` stands for the run's script, which the host
    writes as ``<id>.py`` into the working directory it starts the program in (its temp folder), so the
    name is relative and the command line needs no host path. ``argv`` stays for the run log."""
    argv = [str(a) for a in run.get("argv") or []]
    args = [f"{run['id']}.py" if a == "{script}" and run.get("script") else a for a in argv[1:]]
    return {**dict(run), "file": argv[0] if argv else "", "arguments": command_line(args)}


def host_read_params(
    reads: Sequence[Read] = (),
    runs: Sequence[Mapping[str, Any]] = (),
    *,
    arcgis: bool = False,
    profiles: bool = False,
    session: bool = False,
    env_names: Sequence[str] = (),
    thumbprints: Sequence[str] = (),
    python_reads: Sequence[str] = (),
    load_hives: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``win_powershell`` module arguments of one host_read call. ``load_hives``: SIDs of offline
    profiles whose hive (NTUSER.DAT) the call loads and reads (answered as ``user_hives``); the profiles of
    logged-on users are read where they are, the other offline ones are not loaded."""
    return {
        "script": HOST_READ_SCRIPT,
        "parameters": {
            "Arcgis": arcgis,
            "Profiles": profiles,
            "Session": session,
            "EnvNames": list(env_names),
            "Thumbprints": list(thumbprints),
            "PythonReads": list(python_reads),
            "Reads": [r.as_param() for r in merge_reads(reads)],
            "Runs": [run_param(r) for r in runs],
            "LoadHives": list(load_hives),
        },
        "depth": 8,
        "error_action": "stop",
    }


def module_error(result: Mapping[str, Any]) -> str:
    """The most useful error text of a failed win_powershell result."""
    for record in result.get("error") or []:
        if isinstance(record, dict):
            text = record.get("output") or (record.get("exception") or {}).get("message")
            if text:
                return str(text).strip()
    return str(result.get("msg") or "no error text")
