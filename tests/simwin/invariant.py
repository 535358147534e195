"""The lab's one security rule, checked at every program the admin session starts.

Whatever an administrator's process executes, loads or trusts must be writable by nobody but SYSTEM,
Administrators and TrustedInstaller at the moment it starts. :func:`program_started` is called by
``programs.run_program`` for every start (``win_command``, ``win_package``, the host script's runs,
installers, uninstallers, conda, Python); it appends one ``program`` record and, for each path that a
non-admin principal could change, one ``escalation`` record to ``events.jsonl`` in the host's state
folder (``python -m tests.simwin.lab events --dir D``). A start by a non-admin principal is not recorded:
it runs with that user's own rights.

What a start trusts, by the kind of program (the simulated ``program`` attribute):

- every program: its executable (file rule), the folder it is in (plant rule: the loader searches "the
  folder from which the application loaded" before the system folders, so a DLL planted beside the
  executable is loaded: https://learn.microsoft.com/en-us/windows/win32/dlls/dynamic-link-library-search-order),
  and each folder above that one (replace rule: whoever may rename or re-permission a folder may put
  another tree in its place);
- ``python``: the standard library ``Lib`` and ``DLLs`` folders (plant rule; sys.path on Windows:
  https://docs.python.org/3/using/windows.html#finding-modules); unless ``-S``, ``Lib\\site-packages``
  (plant rule) and its start-up files, ``*.pth``, ``sitecustomize.py``, ``usercustomize.py`` and the
  bridge's ``arcgis_conda_bridge.py``/``.json`` (file rule); unless ``-s``/``-I``, the user site folder
  (``PYTHONUSERBASE`` unless ``-E``) when it exists, with the same rules
  (https://docs.python.org/3/library/site.html: ``-S`` skips site, ``-s`` the user site, ``.pth`` import
  lines are executed);
- ``conda``: its root prefix (plant rule), the root's ``python.exe`` and that Python's folders as above
  (``Scripts\\conda.exe`` starts ``..\\python.exe``, conda-launchers README), and the machine condarc
  files: ``C:\\ProgramData\\conda\\{.condarc,condarc,condarc.d}`` and ``<root>\\{.condarc,condarc,condarc.d}``
  (conda's search path, "Searching for .condarc":
  https://docs.conda.io/projects/conda/en/latest/user-guide/configuration/use-condarc.html#searching-for-condarc);
  a missing one counts when its folder lets others create it; the CA bundle a machine condarc names in
  ``ssl_verify``;
- ``python -m pip``: pip's global ``C:\\ProgramData\\pip\\pip.ini``
  (https://pip.pypa.io/en/stable/topics/configuration/) and the CA bundle it names in ``cert``; the site
  file ``<sys.prefix>\\pip.ini`` and the CA bundle or constraints file it names (pip_model.py).

Not a program's: the doi_cert record (``C:\\ProgramData\\arcgis-conda\\doi_cert-state.json``) is read by
the controller's plan, which judges its owner and ACL before trusting it (moved aside otherwise); the
invariant cannot see what the controller trusts, tests/integration/test_fleet_security.py does.

Rules (rights from https://learn.microsoft.com/en-us/windows/win32/fileio/file-security-and-access-rights
and https://learn.microsoft.com/en-us/windows/win32/secauthz/standard-access-rights): a principal other
than SYSTEM/Administrators/TrustedInstaller "could write" an item when it owns it (an owner implicitly has
WRITE_DAC: https://learn.microsoft.com/en-us/windows/win32/secauthz/owner-of-a-new-object) or an allow
entry that applies to the item itself (not inherit-only) gives it, for a file, WriteData, AppendData,
WRITE_DAC, WRITE_OWNER or DELETE; for a folder it trusts the content of (plant), also
DELETE_CHILD; for a folder above (replace), DELETE, DELETE_CHILD, WRITE_DAC or WRITE_OWNER. Generic
GENERIC_ALL/GENERIC_WRITE count. A junction or symbolic link among the items counts as writable by its
owner's rights over the link (the loader follows it; the target is judged too).
"""

from __future__ import annotations

import ntpath
import os
import re
from pathlib import Path
from typing import Any

from . import host as H
from .calls import append_lines, read_lines

EVENTS = "events.jsonl"
TRUSTED = {H.SYSTEM, H.ADMINISTRATORS, H.TRUSTED_INSTALLER}
GENERIC_ALL = 0x10000000
GENERIC_WRITE = 0x40000000
FILE_RULE = H.WRITE_DATA | H.APPEND_DATA | H.WRITE_DAC | H.WRITE_OWNER | H.DELETE
PLANT_RULE = FILE_RULE | H.DELETE_CHILD
REPLACE_RULE = H.DELETE | H.DELETE_CHILD | H.WRITE_DAC | H.WRITE_OWNER
RULES = {"file": FILE_RULE, "plant": PLANT_RULE, "replace": REPLACE_RULE}
STARTUP_FILES = ("sitecustomize.py", "usercustomize.py", "arcgis_conda_bridge.py", "arcgis_conda_bridge.json")
PROGRAMDATA_CONDA = "C:\\ProgramData\\conda"
PIP_INI = "C:\\ProgramData\\pip\\pip.ini"
DOI_CERT_RECORD = "C:\\ProgramData\\arcgis-conda\\doi_cert-state.json"


def writers(host: H.Host, node: dict[str, Any], rule: str) -> list[str]:
    """Names of the principals other than SYSTEM/Administrators/TrustedInstaller (and the accounts in
    Administrators: the admin session's own profile is its own) that could change node."""
    mask = RULES[rule] | GENERIC_ALL | GENERIC_WRITE
    admins = TRUSTED | {info["sid"] for info in host.users().values() if info.get("admin")}
    found: list[str] = []
    if node.get("owner") not in admins:
        found.append(node.get("owner"))
    denied = {e["sid"]: e["rights"] for e in node.get("acl") or [] if e["type"] == "deny"}
    for entry in node.get("acl") or []:
        sid = entry["sid"]
        if entry["type"] != "allow" or entry.get("inherit_only") or sid in admins or sid == H.CREATOR_OWNER:
            continue
        granted = entry["rights"] & mask & ~denied.get(sid, 0)
        if granted and sid not in found:
            found.append(sid)
    return [host.account_name(sid) or sid for sid in found]


class Trust:
    """The items one start trusts: (path, rule, what) in order, deduplicated."""

    def __init__(self, host: H.Host) -> None:
        self.host = host
        self.items: list[tuple[str, str, str]] = []
        self._seen: set[str] = set()

    def add(self, path: str, rule: str, what: str) -> None:
        key = H.key_of(path)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append((H.norm_path(path), rule, what))

    def program(self, exe: str) -> None:
        folder = H.parent_of(exe)
        self.add(exe, "file", "executable")
        if folder:
            self.add(folder, "plant", "folder of the executable (DLL search)")
            above = H.parent_of(folder)
            while above:
                self.add(above, "replace", "folder above the executable")
                above = H.parent_of(above)

    def startup_dir(self, folder: str, what: str) -> None:
        if not self.host.is_dir(folder):
            return
        self.add(folder, "plant", what)
        for child in self.host.children(folder):
            name = ntpath.basename(child["path"]).lower()
            if child["type"] == "file" and (name.endswith(".pth") or name in STARTUP_FILES):
                self.add(child["path"], "file", f"start-up file in {what}")

    def python(self, exe: str, options: list[str], env: dict[str, str], actor: H.Principal) -> None:
        prefix = ntpath.dirname(exe)
        for sub in ("Lib", "DLLs"):
            if self.host.is_dir(ntpath.join(prefix, sub)):
                self.add(ntpath.join(prefix, sub), "plant", "standard library")
        if "-S" in options:
            return
        self.startup_dir(ntpath.join(prefix, "Lib", "site-packages"), "site-packages")
        node = self.host.node(exe) or {}
        attrs = node.get("attrs") or {}
        if "-s" in options or "-I" in options or "version" not in attrs:
            return
        from .programs import PythonModel

        model = PythonModel(self.host, actor, exe, attrs, env)
        model.use_options(options)
        if model.user_site:
            self.startup_dir(model.user_site, "user site-packages")

    def config(self, path: str, what: str, missing_counts: bool = False) -> None:
        node = self.host.node(path)
        if node is not None:
            self.add(path, "plant" if node["type"] == "dir" else "file", what)
            if node["type"] == "dir":
                for child in self.host.children(path):
                    self.add(child["path"], "file", f"file in {what}")
            return
        if not missing_counts:
            return
        # Missing: whoever may create it (the nearest existing folder lets them add) decides its content.
        parent = H.parent_of(path)
        while parent and not self.host.exists(parent):
            parent = H.parent_of(parent)
        if parent:
            self.add(parent, "plant", f"folder where {what} ({H.norm_path(path)}) could be created")

    def conda(self, root: str) -> None:
        self.add(root, "plant", "conda's prefix")
        python = ntpath.join(root, "python.exe")
        if self.host.is_file(python):
            self.add(python, "file", "conda's python.exe")
            self.python(python, [], {}, H.Principal("SYSTEM", H.SYSTEM, True))
        for base in (PROGRAMDATA_CONDA, root):
            for name in (".condarc", "condarc", "condarc.d"):
                self.config(ntpath.join(base, name), "machine condarc", missing_counts=True)
        for path, _rule, _what in list(self.items):
            if "condarc" in path.lower() and self.host.is_file(path):
                self.ca_bundles(path, r"^\s*ssl_verify\s*:\s*['\"]?([A-Za-z]:\\[^'\"\r\n]+)")

    def ca_bundles(self, config: str, pattern: str) -> None:
        node = self.host.node(config)
        if not node or node.get("synthetic"):
            return
        text = self.host.node_bytes(node).decode("utf-8", "replace")
        for match in re.finditer(pattern, text, re.M):
            self.config(match.group(1).strip(), f"CA bundle named in {config}")

    def pip_config(self, prefix: str = "") -> None:
        self.config(PIP_INI, "pip.ini", missing_counts=True)
        if self.host.is_file(PIP_INI):
            self.ca_bundles(PIP_INI, r"^\s*cert\s*=\s*([A-Za-z]:\\[^\r\n]+)")
        if prefix:
            # pip's site configuration file, <sys.prefix>\pip.ini (pip_model.py), and what it names.
            site = ntpath.join(prefix, "pip.ini")
            self.config(site, "pip's site pip.ini", missing_counts=True)
            if self.host.is_file(site):
                self.ca_bundles(site, r"^\s*(?:cert|constraint)\s*=\s*([A-Za-z]:\\[^\r\n]+)")


def python_options(args: list[str]) -> list[str]:
    options = []
    for arg in args:
        if arg in ("-s", "-S", "-E", "-u", "-B", "-I"):
            options.append(arg)
        else:
            break
    return options


def trusted_items(
    host: H.Host, actor: H.Principal, exe: str, args: list[str], env: dict[str, str] | None = None
) -> list[tuple[str, str, str]]:
    """What starting exe (with args) executes, loads or trusts: [(path, rule, what)]."""
    trust = Trust(host)
    trust.program(exe)
    attrs = (host.node(exe) or {}).get("attrs") or {}
    program = attrs.get("program")
    if program == "python":
        options = python_options(args)
        trust.python(exe, options, env or {}, actor)
        if args[len(options) : len(options) + 2] == ["-m", "pip"]:
            trust.pip_config(ntpath.dirname(exe))
    elif program == "conda":
        trust.conda(str(attrs.get("root") or ntpath.dirname(ntpath.dirname(exe))))
    return trust.items


def program_started(
    host: H.Host, actor: H.Principal, exe: str, args: list[str], env: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Record one start by an admin session and its escalations; the records written."""
    if not (actor.admin or actor.sid == H.SYSTEM):
        return []
    module = getattr(host, "module_call", "") or ""
    base = {"host": host.dir.name, "module": module, "exe": H.norm_path(exe)}
    program = (host.node(exe) or {}).get("attrs", {}).get("program")
    records = [{"kind": "program", **base, "program": program, "args": list(args)}]
    for path, rule, what in trusted_items(host, actor, exe, args, env):
        node = host.node(path)
        if node is None:
            continue
        who = writers(host, node, rule)
        if who:
            records.append(
                {
                    "kind": "escalation",
                    **base,
                    "program": program,
                    "path": path,
                    "what": what,
                    "writable_by": who,
                }
            )
    log_events(host.dir, records)
    return records


def log_events(state_dir: str | os.PathLike[str], records: list[dict[str, Any]]) -> None:
    append_lines(Path(state_dir) / EVENTS, records)


def events(state_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    return read_lines(Path(state_dir) / EVENTS)


def escalations(state_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    return [e for e in events(state_dir) if e["kind"] == "escalation"]
