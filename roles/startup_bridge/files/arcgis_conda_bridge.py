# -*- coding: utf-8 -*-
"""arcgis_conda_bridge: the ArcGIS <-> conda start-up bridge (installed by arcgis_conda.fleet).

Python 2.7 and 3.x, standard library only. Installed by the role startup_bridge beside a data file,
arcgis_conda_bridge.json, that lists which interpreter gets which paths. Run at interpreter start-up by
usercustomize.py (scope user) or by zzz_arcgis_conda_bridge.pth (scope machine), each passing its own data
file to run().

An entry applies only when the running interpreter matches its Python major.minor, its bitness and (when
given) its sys.prefix. Then, for that entry:
  - each of its site_dirs is appended to the END of sys.path, followed by the path lines of the .pth files
    in it (Esri's Desktop10.x.pth / DTBGGP64.pth / ArcGISPro.pth, ...), in the order site.py reads them;
    .pth "import" lines are never executed: they are the other interpreter's own start-up code;
  - each of its paths is appended;
  - each of its environ variables is set when the process has not set it;
  - each of its dll_dirs is made reachable for DLL loading: os.add_dll_directory on Windows with
    Python 3.8+, the end of PATH on older Windows Pythons.
Only existing folders are added, never one already on sys.path. run() never raises: a missing or broken
data file must not break ArcGIS's Python. Set ARCGIS_CONDA_BRIDGE_DEBUG=1 to see on stderr what it does;
set ARCGIS_CONDA_BRIDGE_DISABLE=1 to switch it off for one process.
"""

import json
import os
import struct
import sys

DATA_FILE_NAME = "arcgis_conda_bridge.json"
SCHEMA = 1
DEBUG_VAR = "ARCGIS_CONDA_BRIDGE_DEBUG"
DISABLE_VAR = "ARCGIS_CONDA_BRIDGE_DISABLE"

# One record per run(): what was read, matched, added and skipped. The verify script reads it.
REPORT = []
# Handles from os.add_dll_directory: closing one removes its folder from the DLL search path.
_DLL_HANDLES = []


def _flag(name, environ=None):
    value = (environ if environ is not None else os.environ).get(name, "")
    return value.strip().lower() not in ("", "0", "false", "no", "off")


def _debug(message):
    if not _flag(DEBUG_VAR):
        return
    try:
        sys.stderr.write("arcgis_conda_bridge: %s\n" % (message,))
    except Exception:
        return


def _native(path):
    """Python 2 reads JSON strings as unicode; sys.path entries there are best kept as str."""
    if sys.version_info[0] < 3 and not isinstance(path, str):
        try:
            return path.encode(sys.getfilesystemencoding() or "mbcs")
        except Exception:
            return path
    return path


def norm(path):
    """Compare paths the way the OS does: absolute, normalised, case-folded on Windows."""
    return os.path.normcase(os.path.normpath(os.path.abspath(path)))


def _safe_norm(path):
    try:
        return norm(path)
    except Exception:
        return None


def current_interpreter():
    return {
        "python": "%d.%d" % tuple(sys.version_info[:2]),
        "bits": struct.calcsize("P") * 8,
        "prefix": sys.prefix,
    }


def mismatch(match, interpreter):
    """Why an entry's match does not fit this interpreter, or None when it does."""
    if not isinstance(match, dict):
        return "entry has no match"
    if str(match.get("python")) != interpreter["python"]:
        return "python %s != %s" % (match.get("python"), interpreter["python"])
    try:
        bits = int(match.get("bits"))
    except (TypeError, ValueError):
        return "bits %r is not a number" % (match.get("bits"),)
    if bits != interpreter["bits"]:
        return "bits %s != %s" % (bits, interpreter["bits"])
    prefix = match.get("prefix")
    if prefix and norm(prefix) != norm(interpreter["prefix"]):
        return "prefix %s != %s" % (prefix, interpreter["prefix"])
    return None


def pth_lines(sitedir):
    """Folders named by the .pth files in sitedir, as site.addpackage adds them; import lines skipped."""
    found = []
    try:
        names = sorted(os.listdir(sitedir))
    except Exception:
        return found
    for name in names:
        if not name.endswith(".pth"):
            continue
        fullname = os.path.join(sitedir, name)
        try:
            with open(fullname) as handle:
                lines = handle.readlines()
        except Exception as err:
            _debug("cannot read %s: %s" % (fullname, err))
            continue
        for line in lines:
            if line.startswith("#") or not line.strip():
                continue
            if line.startswith(("import ", "import\t")):
                _debug("not executing import line of %s" % fullname)
                continue
            found.append(os.path.join(sitedir, line.rstrip()))
    return found


def entry_paths(entry):
    """The folders an entry asks for, in order: each site dir then its .pth folders, then plain paths."""
    wanted = []
    for sitedir in entry.get("site_dirs") or []:
        sitedir = _native(sitedir)
        wanted.append(sitedir)
        wanted.extend(pth_lines(sitedir))
    for path in entry.get("paths") or []:
        wanted.append(_native(path))
    return wanted


def append_paths(candidates, path_list=None):
    """Append existing, not yet present folders to the end of path_list (sys.path); return those added."""
    path_list = sys.path if path_list is None else path_list
    known = set(_safe_norm(existing) for existing in path_list)
    added = []
    for candidate in candidates:
        try:
            key = norm(candidate)
            if key in known:
                continue
            if not os.path.isdir(candidate):
                _debug("skipping missing folder %s" % candidate)
                continue
            path_list.append(candidate)
            known.add(key)
            added.append(candidate)
        except Exception as err:
            _debug("skipping %r: %s" % (candidate, err))
    return added


def add_dll_dirs(dirs):
    """Make DLL folders reachable: os.add_dll_directory (Windows, 3.8+) or the end of PATH (older Windows)."""
    added = []
    if os.name != "nt":
        return added
    for folder in dirs or []:
        folder = _native(folder)
        try:
            if not os.path.isdir(folder):
                _debug("skipping missing DLL folder %s" % folder)
                continue
            adder = getattr(os, "add_dll_directory", None)
            if adder is not None:
                _DLL_HANDLES.append(adder(folder))
                added.append(folder)
                continue
            path = os.environ.get("PATH", "")
            if norm(folder) not in [norm(p) for p in path.split(os.pathsep) if p]:
                os.environ["PATH"] = path + os.pathsep + folder if path else folder
                added.append(folder)
        except Exception as err:
            _debug("cannot add DLL folder %s: %s" % (folder, err))
    return added


def set_environ(values, environ=None):
    """Set the entry's variables that are not set yet (CONDA_DLL_SEARCH_MODIFICATION_ENABLE: Anaconda's
    Python 3.8/3.9 ignore os.add_dll_directory without it, conda/conda#10897). A user's own value wins."""
    environ = os.environ if environ is None else environ
    if not isinstance(values, dict):
        return
    for name, value in values.items():
        try:
            if _native(name) not in environ:
                environ[_native(name)] = _native(value)
        except Exception as err:
            _debug("cannot set %s: %s" % (name, err))


def load(data_path):
    """Read the data file; raise ValueError with a reason when it is not usable."""
    with open(data_path, "rb") as handle:
        raw = handle.read()
    # utf-8-sig drops a BOM (Notepad writes one). Not a "\ufeff" literal: without unicode_literals,
    # Python 2.7 reads it as six bytes, the BOM stays and json.loads fails.
    text = raw.decode("utf-8-sig")
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise ValueError("no list of entries")
    if data.get("schema") != SCHEMA:
        raise ValueError("schema %r, this hook reads %r" % (data.get("schema"), SCHEMA))
    return data


def apply_data(data, interpreter, path_list=None):
    """Apply every matching entry of data; return the run record."""
    record = {"matched": [], "skipped": [], "added": [], "dll_dirs": []}
    for entry in data.get("entries"):
        if not isinstance(entry, dict):
            record["skipped"].append({"id": None, "why": "entry is not an object"})
            continue
        why = mismatch(entry.get("match"), interpreter)
        if why:
            record["skipped"].append({"id": entry.get("id"), "why": why})
            _debug("entry %s skipped: %s" % (entry.get("id"), why))
            continue
        record["matched"].append(entry.get("id"))
        added = append_paths(entry_paths(entry), path_list)
        record["added"].extend(added)
        set_environ(entry.get("environ"))
        record["dll_dirs"].extend(add_dll_dirs(entry.get("dll_dirs")))
        _debug("entry %s appended %s" % (entry.get("id"), added))
    return record


def run(data_path=None):
    """Start-up entry point. Never raises."""
    record = {"data": data_path, "error": None}
    try:
        if _flag(DISABLE_VAR):
            record["error"] = "disabled by %s" % DISABLE_VAR
            return
        if data_path is None:
            data_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), DATA_FILE_NAME)
            record["data"] = data_path
        try:
            data = load(data_path)
        except Exception as err:
            record["error"] = "data file %s unusable: %s" % (data_path, err)
            _debug(record["error"])
            return
        record.update(apply_data(data, current_interpreter()))
    except Exception as err:
        record["error"] = "unexpected: %r" % (err,)
        _debug(record["error"])
    finally:
        REPORT.append(record)
