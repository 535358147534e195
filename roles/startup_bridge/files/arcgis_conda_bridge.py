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

A student's own envs (docs/students.md): after the machine's entries, run() reads the running account's
own data file, %USERPROFILE%\\.arcgis-conda\\bridge.json, which the student writes with the one-line command

    python -m arcgis_conda_bridge add NAME       (NAME in %USERPROFILE%\\.conda\\envs, or a folder there)

run with the Python that should see the env (ArcGIS's, or a lab env's); `remove NAME` and `list` too.
An ArcGIS Pro env (a clone of arcgispro-py3, or Pro's own Python) is refused with Esri's way instead: Pro
uses an env as the account's active environment (Package Manager, or `proswap NAME` in Pro's Python Command
Prompt), and a clone imports arcpy on its own (its ArcGISPro.pth); arcgispro-py3 has no bridge to link.
Its entries apply only to the account whose profile holds them (on POSIX the file's owner must also be the
running uid; on Windows a profile folder is its owner's, SYSTEM's and Administrators' alone by default),
only to folders inside that profile, never in an elevated or administrator's process (shell32
IsUserAnAdmin; root on POSIX: what the admin runs must not load what a user can write) and never when the
interpreter runs with -E, -s or -I (sys.flags): the caller asked for no user state. A broken entry is
skipped and recorded, as any other.
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


USER_DIR_NAME = ".arcgis-conda"
USER_DATA_NAME = "bridge.json"
# Variables a user entry may set (the machine entries' own, for Anaconda's DLL search): nothing else.
USER_ENVIRON = ("CONDA_DLL_SEARCH_MODIFICATION_ENABLE",)
# POSIX only, for the tests under real interpreters run as root: never read on Windows.
POSIX_ROOT_IS_USER_VAR = "ARCGIS_CONDA_BRIDGE_TEST_POSIX_ROOT_IS_USER"


def user_profile(environ=None):
    """The running account's profile: %USERPROFILE% on Windows (what Python 3.8+'s expanduser reads), HOME
    elsewhere."""
    environ = os.environ if environ is None else environ
    return environ.get("USERPROFILE" if os.name == "nt" else "HOME") or None


def user_data_path(environ=None):
    profile = user_profile(environ)
    return os.path.join(profile, USER_DIR_NAME, USER_DATA_NAME) if profile else None


def elevated():
    """Whether this process runs with administrator rights (fails closed: unknown counts as elevated)."""
    try:
        if os.name == "nt":
            import ctypes

            return bool(ctypes.windll.shell32.IsUserAnAdmin())
        return os.geteuid() == 0 and not _flag(POSIX_ROOT_IS_USER_VAR)
    except Exception:
        return True


def user_refusal(flags=None):
    """Why this process must not read a user's own entries, or None."""
    flags = sys.flags if flags is None else flags
    for name, option in (("ignore_environment", "-E"), ("no_user_site", "-s"), ("isolated", "-I")):
        if getattr(flags, name, 0):
            return "started with %s" % option
    if elevated():
        return "an elevated or administrator's process"
    return None


def inside(path, folder):
    """Whether path lies inside folder, links resolved, compared as the OS does."""
    try:
        real, base = norm(os.path.realpath(path)), norm(os.path.realpath(folder))
    except Exception:
        return False
    return real.startswith(base.rstrip(os.sep) + os.sep)


def user_entry_problem(entry, profile):
    """Why a user's entry is not applied (a folder outside their profile, or a bad shape), or None."""
    if not isinstance(entry, dict) or not isinstance(entry.get("match"), dict):
        return "entry is not an object with a match"
    if not entry["match"].get("prefix"):
        return "entry names no interpreter prefix"
    for key in ("site_dirs", "paths", "dll_dirs"):
        folders = entry.get(key) or []
        if not isinstance(folders, list):
            return "%s is not a list" % key
        for folder in folders:
            if not inside(_native(folder), profile):
                return "%s is outside the profile %s" % (folder, profile)
    environ = entry.get("environ") or {}
    if not isinstance(environ, dict) or any(n not in USER_ENVIRON for n in environ):
        return "environ may only set %s" % ", ".join(USER_ENVIRON)
    return None


def owned_by_me(path):
    """POSIX: the file is the running uid's. Windows: its place in the account's profile decides (the
    profile's default ACL: the account, SYSTEM and Administrators)."""
    if os.name == "nt":
        return True
    try:
        return os.stat(path).st_uid == os.getuid()
    except Exception:
        return False


_USER_DONE = []


def run_user(environ=None, flags=None, path_list=None):
    """The running account's own entries, once per process. Never raises; returns the run record."""
    record = {"data": None, "user": True, "error": None, "matched": [], "skipped": [], "added": []}
    record["dll_dirs"] = []
    try:
        if _USER_DONE:
            return None
        _USER_DONE.append(True)
        data_path = user_data_path(environ)
        if not data_path or not os.path.isfile(data_path):
            return None  # nothing to record: most accounts have no file
        record["data"] = data_path
        why = user_refusal(flags)
        if why:
            record["error"] = "user entries not read: %s" % why
            return record
        profile = user_profile(environ)
        if not inside(data_path, profile) or not owned_by_me(data_path):
            record["error"] = "user entries not read: %s is not this account's own" % data_path
            return record
        try:
            data = load(data_path)
        except Exception as err:
            record["error"] = "data file %s unusable: %s" % (data_path, err)
            return record
        usable = []
        for entry in data.get("entries"):
            problem = user_entry_problem(entry, profile)
            if problem:
                record["skipped"].append({"id": isinstance(entry, dict) and entry.get("id"), "why": problem})
                _debug("user entry skipped: %s" % problem)
            else:
                usable.append(entry)
        applied = apply_data({"entries": usable}, current_interpreter(), path_list)
        for key in ("matched", "added", "dll_dirs"):
            record[key].extend(applied[key])
        record["skipped"].extend(applied["skipped"])
    except Exception as err:
        record["error"] = "unexpected: %r" % (err,)
        _debug(record["error"])
    finally:
        if record["data"] is not None:
            REPORT.append(record)
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
        if not _flag(DISABLE_VAR):
            run_user()


# --- The student's command: python -m arcgis_conda_bridge add|remove|list [NAME] ---------------------------

USAGE = """usage: python -m arcgis_conda_bridge add NAME | remove NAME | list

Run it with the Python that should see your env (ArcGIS's python.exe, or a lab env's). NAME is one of your
envs in %USERPROFILE%\\.conda\\envs (conda create -n NAME), or a folder inside your profile. Your entries
live in %USERPROFILE%\\.arcgis-conda\\bridge.json and apply to you only; start the Python again to see them.
"""


def env_folder(arg, profile):
    """An env named as conda names it (in the profile's .conda\\envs), or a folder given as a path."""
    if os.sep in arg or (os.altsep and os.altsep in arg) or arg.startswith("."):
        return os.path.abspath(arg)
    return os.path.join(profile, ".conda", "envs", arg)


PRO_WAY = (
    "%s is an ArcGIS Pro env: Pro has no bridge to link (arcgispro-py3 is never changed). Use your env "
    "in Pro the Esri way: in ArcGIS Pro, Settings > Package Manager > Environment Manager, activate it; "
    "or, in the Python Command Prompt, proswap %s. A clone of arcgispro-py3 imports arcpy on its own.\n"
)


def pro_env(prefix):
    """True for an ArcGIS Pro env: arcgispro-py3's ArcGISPro.pth (copied into every clone) or Esri's arcpy
    package record in conda-meta."""
    site = os.path.join(prefix, "Lib", "site-packages")
    if os.path.isfile(os.path.join(site, "ArcGISPro.pth")):
        return True
    meta = os.path.join(prefix, "conda-meta")
    try:
        names = os.listdir(meta)
    except OSError:
        return False
    return any(n.startswith("arcpy-") and n[6:7].isdigit() and n.endswith(".json") for n in names)


def env_python(prefix):
    """The env's Python (major.minor, bits) from conda's own record, conda-meta\\python-<version>-*.json."""
    meta = os.path.join(prefix, "conda-meta")
    for name in sorted(os.listdir(meta)):
        if name.startswith("python-") and name[7:8].isdigit() and name.endswith(".json"):
            with open(os.path.join(meta, name), "rb") as handle:
                record = json.loads(handle.read().decode("utf-8"))
            version = ".".join(str(record["version"]).split(".")[:2])
            subdir = str(record.get("subdir") or "")
            return version, 32 if subdir.endswith("-32") else 64
    raise ValueError("%s has no Python of its own (no conda-meta\\python-*.json)" % prefix)


def user_entry(prefix, interpreter):
    """The entry that shows the env's packages to this interpreter: its site-packages (and, on Windows,
    its Library\\bin for the DLLs of its compiled packages)."""
    if os.name == "nt":
        site, dlls = os.path.join(prefix, "Lib", "site-packages"), [os.path.join(prefix, "Library", "bin")]
    else:
        site, dlls = os.path.join(prefix, "lib", "python" + interpreter["python"], "site-packages"), []
    return {
        "id": "user:" + os.path.basename(prefix.rstrip(os.sep)),
        "match": {
            "python": interpreter["python"],
            "bits": interpreter["bits"],
            "prefix": interpreter["prefix"],
        },
        "site_dirs": [site],
        "dll_dirs": dlls,
    }


def _read_user_data(path):
    if not os.path.isfile(path):
        return {"schema": SCHEMA, "entries": []}
    return load(path)


def _write_user_data(path, data):
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    with open(path + ".tmp", "wb") as handle:
        handle.write(text.encode("utf-8"))
    if os.path.exists(path):
        os.remove(path)  # os.rename does not replace on Windows (Python 2.7 has no os.replace)
    os.rename(path + ".tmp", path)


def main(argv=None, out=None):
    """add NAME | remove NAME | list; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    out = out or sys.stdout
    command = argv[0] if argv else ""
    if command not in ("add", "remove", "list") or (command != "list" and len(argv) != 2):
        out.write(USAGE)
        return 2
    profile = user_profile()
    if not profile:
        out.write("no profile folder (USERPROFILE/HOME is not set)\n")
        return 1
    path = user_data_path()
    interpreter = current_interpreter()
    try:
        data = _read_user_data(path)
    except Exception as err:
        out.write("%s is unusable (%s): delete it and add your envs again\n" % (path, err))
        return 1
    if command == "list":
        for entry in data["entries"]:
            out.write(
                "%s -> %s\n" % (entry.get("match", {}).get("prefix"), ", ".join(entry.get("site_dirs") or []))
            )
        return 0
    prefix = env_folder(argv[1], profile)
    if command == "add":
        if not inside(prefix, profile):
            out.write(
                "%s is not inside your profile %s: only your own envs can be added\n" % (prefix, profile)
            )
            return 1
        for pro in (prefix, interpreter["prefix"]):
            if pro_env(pro):
                out.write(PRO_WAY % (pro, os.path.basename(prefix.rstrip(os.sep))))
                return 1
        try:
            python, bits = env_python(prefix)
        except Exception as err:
            out.write("%s is not a conda env: %s\n" % (prefix, err))
            return 1
        if (python, bits) != (interpreter["python"], interpreter["bits"]):
            here = (interpreter["python"], interpreter["bits"])
            out.write(
                "%s has Python %s %d-bit; this Python is %s %d-bit: run the command with a Python of the "
                "same version and bitness\n" % ((prefix, python, bits) + here)
            )
            return 1
    entry = user_entry(prefix, interpreter)
    same = (entry["id"], norm(interpreter["prefix"]))
    kept = [
        e
        for e in data["entries"]
        if not (
            isinstance(e, dict) and (e.get("id"), _safe_norm(e.get("match", {}).get("prefix") or "")) == same
        )
    ]
    if command == "add":
        kept.append(entry)
    elif len(kept) == len(data["entries"]):
        out.write("%s was not linked to %s\n" % (prefix, interpreter["prefix"]))
        return 1
    data["entries"] = kept
    try:
        _write_user_data(path, data)
    except Exception as err:
        out.write("cannot write %s: %s\n" % (path, err))
        return 1
    verb = "linked to" if command == "add" else "no longer linked to"
    out.write("%s %s %s (for you only; start that Python again)\n" % (prefix, verb, interpreter["prefix"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
