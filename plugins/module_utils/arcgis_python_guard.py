"""Whether the admin run may start an ArcGIS Python, judged from owner and ACL before it ever runs.

ArcGIS Desktop puts its Python 2.7 in ``<PythonDir>\\ArcGIS10.x`` (``C:\\Python27`` by default), folders made
under ``C:\\``, which inherit its "Authenticated Users: Modify" (the reason for constructor's
CVE-2022-26526 fix). Whoever can write there can replace ``python.exe``, drop a DLL beside it (the loader
searches the application's folder first:
https://learn.microsoft.com/en-us/windows/win32/dlls/dynamic-link-library-search-order), or change the
standard library: ``-E -S`` protects against none of that. So the observe step's first call reads the
owner and ACL of each ArcGIS Python folder, the folder above it, its ``python.exe``, the DLLs beside it,
``Lib`` and ``DLLs`` (a data read, ``host_read``'s ``PythonReads``), and before the probe runs it:

- ``run``: all of them are an administrator's and nobody else can write them;
- ``secure``: an administrator owns the folder and ``python.exe`` but users could write: the run secures
  the folder above (owner Administrators, admin-only ACL, what no administrator owns moved aside, no
  reparse point followed; ``fleet_host.secure_item``) first, and only then runs it (not in check mode,
  nor in the read-only playbooks, where it is not run at all);
- ``refuse``: a user owns the folder, the folder above or ``python.exe``: a Python a user made or
  replaced; it is never secured (that would adopt it) nor run, and the host stops with the path and the fix.

Pythons outside the folders the registry dump lists (ArcGIS Pro's and Server's, in their installers'
folders, Program Files by default) are not judged here; audit.yml reports them when users can write them.
Pure functions; no Ansible imports.
"""

from __future__ import annotations

import ntpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_discovery as discovery
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh

# What host_read reads in each ArcGIS* Python folder (besides the folder and the one above it).
PYTHON_READS = ("python.exe", "*.dll", "Lib", "DLLs")


@dataclass(frozen=True)
class Verdict:
    python_exe: str
    action: str  # run | secure | refuse
    root: str  # what the run secures first (action secure)
    reason: str


def _entries(folder: discovery.PythonDir) -> list[fh.Entry]:
    return [fh.Entry.from_raw(raw) for raw in folder.security]


def secure_root(folder: discovery.PythonDir) -> str:
    """The folder above the ArcGIS* folders (C:\\Python27), or the Python folder itself under a drive root."""
    return folder.path if re.fullmatch(r"[A-Za-z]:\\?", folder.root) else folder.root.rstrip("\\")


def judge_python(dump: discovery.RegistryDump, python_exe: str) -> Verdict:
    """Run, secure first, or refuse: one ArcGIS Python, from the dump's reads (see the module's text)."""
    here = fh.key(ntpath.dirname(python_exe))
    folder = next((d for d in dump.python_dirs if fh.key(d.path) == here), None)
    if folder is None:
        return Verdict(python_exe, "run", "", "not in a folder the registry dump lists")
    entries = _entries(folder)
    by_key = {fh.key(e.path): e for e in entries}
    exe = by_key.get(fh.key(python_exe))
    needed = [by_key.get(fh.key(folder.root)), by_key.get(here), exe]
    unread = [e for e in needed if e is None or e.type not in ("file", "dir") or e.owner is None]
    if unread:
        what = "; ".join(f"{e.path}: {e.error or e.type}" for e in unread if e) or "not read"
        return Verdict(
            python_exe,
            "refuse",
            "",
            f"{python_exe}: the owner and ACL of its folder could not be read ({what}), so it is not run as "
            "admin. Fix: give the administrators read access to it (and its folder), and run again.",
        )
    made = [e for e in needed if e is not None and e.owner not in fh.ADMIN_SIDS]
    if made:
        first = made[0]
        return Verdict(
            python_exe,
            "refuse",
            "",
            f"{python_exe}: {first.path} is owned by {first.owner}, not an administrator: a Python a user "
            "made or replaced is never run, secured or trusted by the admin run. Fix: remove it, repair or "
            "reinstall ArcGIS's Python so an administrator owns it, and run again.",
        )
    writable = [e for e in entries if e.type in ("file", "dir") and not e.trusted()]
    if not writable:
        return Verdict(python_exe, "run", "", "admin-only")
    who = sorted({sid for e in writable for sid in e.writable_by_others()})
    return Verdict(
        python_exe,
        "secure",
        secure_root(folder),
        f"{', '.join(e.path for e in writable)} can be changed by {', '.join(who)}",
    )


def not_run_reason(verdict: Verdict, why: str) -> str:
    return (
        f"{verdict.python_exe} was not run: {verdict.reason}, and {why}. site.yml secures {verdict.root} "
        "(owner Administrators, admin-only ACL, files no administrator owns moved aside) before its first "
        "run."
    )


def secured_problems(record: Mapping[str, Any]) -> list[str]:
    """What securing a Python folder left that the Python may still load (the apply_files record)."""
    failed = [*(record.get("skipped") or [])]
    for command in record.get("commands") or []:
        failed += fh.icacls_failures(command)
    return [f"{f.get('path')} ({f.get('why')})" for f in failed]
