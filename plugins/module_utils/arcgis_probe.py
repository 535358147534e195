# ruff: noqa: ANN001, ANN201, UP010, UP024, SIM105, RUF005
# (Python 2.7 must run this file: no annotations, IOError is not OSError there, __future__ matters, no
# contextlib.suppress, no [a, *b].)
"""Report one ArcGIS Python interpreter's version, paths and package versions as one JSON object.

Run it with the interpreter to measure, WITHOUT site processing::

    <python> -E -S arcgis_probe.py [package ...]

With no package arguments it measures DEFAULT_PACKAGES. It prints exactly one JSON object::

    {"python": {"version": "2.7.10", "executable": "...", "prefix": "...", "bits": 32,
                "site_packages": ["..."], "user_site": "...", "user_site_enabled": true},
     "packages": {"numpy": "1.9.2", "matplotlib": "1.4.3", "scipy": "0.15.1", ...}}

Every value describes a NORMAL start of that interpreter (no -S, no -s): ``prefix`` is sys.prefix after
site.py ran (a venv's own directory), ``site_packages`` what ``site.getsitepackages()`` returns (only the
directories named site-packages/dist-packages when there are any), ``user_site`` what
``python -m site --user-site`` prints and ``user_site_enabled`` what ``site.ENABLE_USER_SITE`` would be.
``null`` stands for a package not on the search path, or found without metadata and without a literal
``__version__`` (below). Exit status 0 whenever the
report was printed (missing packages are not an error).

Why -S: the fleet's admin account runs this on lab workstations, where any user can write to
``C:\\Python27\\ArcGIS10.x\\Lib\\site-packages``. site.py, at start-up, executes ``import`` lines of
every ``.pth`` file there and imports ``sitecustomize``/``usercustomize``: a student's code as admin.
So this probe never lets site.py run and never imports anything but the standard library:

- On 2.7 it does not even ``import site`` (2.7's site.py runs main(), .pth files included, whenever it
  is imported, -S or not): it computes the site-packages, user site and ENABLE_USER_SITE as 2.7's
  site.py does. On 3.x ``import site`` is inert under -S; getsitepackages(), getusersitepackages() and
  check_enableusersite() process nothing; site.venv() (pyvenv.cfg) is re-done here without its .pth run.
- Package versions come from metadata only: ``*.dist-info/METADATA``, ``*.egg-info`` files,
  ``*.egg-info/PKG-INFO`` and ``*.egg/EGG-INFO/PKG-INFO`` on the search path a normal start would have:
  sys.path, then (site.main()'s order) the venv's site-packages, the user site when enabled, the global
  site-packages, each followed by the existing plain paths its ``.pth`` files name. ``.pth`` lines that
  start with ``import`` are skipped, never executed. The first entry that has a package is the one
  ``import`` would use. No package is ever imported (earlier versions imported packages without
  metadata for ``__version__``; that ran third-party code as admin and was removed).
- A package installed without metadata (copied in, or a distutils install whose record was deleted) but
  found where import would find it (``<entry>/<name>/__init__.py`` or ``<entry>/<name>.py``, the import
  name being ``dateutil`` for python-dateutil) is versioned from its source read as TEXT, never compiled
  or executed: a top-level ``__version__ = '<literal>'`` in ``__init__.py`` (or the module), else
  ``__version__``/``version = '<literal>'`` in the package's ``version.py`` (numpy's and scipy's
  generated file; their ``__init__`` imports it), one plain-name alias (``__version__ = VERSION``, as
  pytz writes it) followed within that file. Anything computed is reported ``null``.

Rules (the arcgis_facts action plugin sends this file to Windows hosts as it is):
- Valid Python 2.7 (ArcMap's Python) and 3.x; standard library only (tests prove 2.7 validity with vermin
  and run it under a real 2.7).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import struct
import sys
import zipfile

# The ArcGIS stack the env roles pin: numpy/scipy/pandas share numpy's C ABI; matplotlib needs its own
# pure-Python companions (python-dateutil, pyparsing, pytz, six) at versions it was released with.
DEFAULT_PACKAGES = (
    "numpy",
    "matplotlib",
    "scipy",
    "pandas",
    "python-dateutil",
    "pyparsing",
    "pytz",
    "six",
)
METADATA_KINDS = (".dist-info", ".egg-info")
# Distribution name -> the name ``import`` uses, where they differ (for the text fallback).
IMPORT_NAMES = {"python-dateutil": "dateutil"}
# A top-level ``NAME = 'literal'`` or ``NAME = OTHER_NAME`` line (indented ones are conditional: skipped).
ASSIGNMENT = re.compile(
    r"""^([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(?:[uU]?(['"])([^'"\\\r\n]*)\2|([A-Za-z_][A-Za-z0-9_]*))"""
    r"""[ \t]*(?:#.*)?\r?$""",
    re.M,
)
VERSION_TEXT = re.compile(r"^\d+(\.\d+)*[\w.+!-]*$")
SITE_DIR_NAMES = ("site-packages", "dist-packages")
PY2 = sys.version_info[0] < 3


def normalize(name):
    """PEP 503 name: 'Python_DateUtil' and 'python-dateutil' are the same distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def text(value):
    """A path or name as text (Python 2 paths are bytes in the file system encoding)."""
    if value is None or not isinstance(value, bytes):
        return value
    return value.decode(sys.getfilesystemencoding() or "utf-8", "replace")


def parse_headers(raw):
    """Name and Version from RFC 822 style metadata (METADATA / PKG-INFO), or (None, None)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    name = version = None
    for line in raw.splitlines():
        if not line.strip():
            break  # the headers end at the first blank line; the long description follows
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "name" and name is None:
            name = value.strip()
        elif key == "version" and version is None:
            version = value.strip()
    return name, version


def read_file(path):
    with open(path, "rb") as handle:
        return handle.read()


def egg_metadata(entry):
    """(name, version) of a ``.egg`` directory or zip on sys.path, or None."""
    try:
        if os.path.isdir(entry):
            raw = read_file(os.path.join(entry, "EGG-INFO", "PKG-INFO"))
        else:
            archive = zipfile.ZipFile(entry)
            try:
                raw = archive.read("EGG-INFO/PKG-INFO")
            finally:
                archive.close()
    except (IOError, OSError, KeyError, zipfile.BadZipfile):
        return None
    name, version = parse_headers(raw)
    if not name or not version:
        return None
    return name, version


def metadata_candidates(directory, wanted):
    """{normalized name: [(rank, mtime, version)]} for wanted packages with metadata in directory."""
    found = {}
    try:
        names = os.listdir(directory)
    except (IOError, OSError):
        return found
    for entry in names:
        lower = entry.lower()
        kind = None
        for suffix in METADATA_KINDS:
            if lower.endswith(suffix):
                kind = suffix
        if kind is None:
            continue
        stem = entry[: -len(kind)]
        file_name, _sep, file_version = stem.partition("-")
        key = normalize(text(file_name))
        if key not in wanted:
            continue
        path = os.path.join(directory, entry)
        if kind == ".dist-info":
            meta = os.path.join(path, "METADATA")
        elif os.path.isdir(path):
            meta = os.path.join(path, "PKG-INFO")
        else:
            meta = path  # an .egg-info file is the PKG-INFO itself (distutils installs)
        try:
            name, version = parse_headers(read_file(meta))
            mtime = os.path.getmtime(meta)
        except (IOError, OSError):
            name, version, mtime = None, None, 0.0
        if name and normalize(name) != key:
            continue
        if not version:
            version = text(file_version.partition("-")[0]) or None
        if not version:
            continue
        # A directory holding two records of one package (a stale egg-info left by an upgrade) cannot
        # say which one import gets: trust pip's dist-info over egg-info, then the newest file.
        rank = 1 if kind == ".dist-info" else 0
        found.setdefault(key, []).append((rank, mtime, version))
    return found


def literal_version(source, names):
    """The string literal the first of ``names`` is assigned at the top level of ``source`` (text; the
    last top-level assignment wins, as when the module runs), following one plain-name alias; or None."""
    if isinstance(source, bytes):
        source = source.decode("utf-8", "replace")
    assigned = {}
    for match in ASSIGNMENT.finditer(source):
        assigned[match.group(1)] = (match.group(3), match.group(4))
    for name in names:
        literal, alias = assigned.get(name, (None, None))
        if literal is None and alias is not None:
            literal = assigned.get(alias, (None, None))[0]
        if literal is not None:
            return literal if VERSION_TEXT.match(literal.strip()) else None
    return None


def source_version(entry, key):
    """(found, version) of a package without metadata in ``entry``: found when import would take it from
    here; the version from its source read as text (see the module docstring), or None."""
    name = IMPORT_NAMES.get(key, key.replace("-", "_"))
    package = os.path.join(entry, name)
    if os.path.isfile(os.path.join(package, "__init__.py")):
        candidates = (
            (os.path.join(package, "__init__.py"), ("__version__",)),
            (os.path.join(package, "version.py"), ("__version__", "version")),
        )
    elif os.path.isfile(package + ".py"):
        candidates = ((package + ".py", ("__version__",)),)
    else:
        return False, None
    for path, names in candidates:
        try:
            version = literal_version(read_file(path), names)
        except (IOError, OSError):
            continue
        if version:
            return True, version.strip()
    return True, None


def versions_from_metadata(packages, path_entries):
    """{package: version} for the packages on path_entries (first entry wins, as for import): from their
    metadata, else from their source as text (:func:`source_version`), else None."""
    wanted = dict((normalize(name), name) for name in packages)
    result = {}
    for entry in path_entries:
        if len(result) == len(wanted):
            break
        entry = entry or os.curdir
        if entry.lower().endswith(".egg"):
            meta = egg_metadata(entry)
            if meta and normalize(meta[0]) in wanted and normalize(meta[0]) not in result:
                result[normalize(meta[0])] = meta[1]
            continue
        if not os.path.isdir(entry):
            continue
        for key, candidates in metadata_candidates(entry, wanted).items():
            if key not in result:
                result[key] = max(candidates)[2]
        for key in wanted:
            if key not in result:
                found, version = source_version(entry, key)
                if found:
                    result[key] = version
    return dict((wanted[key], version) for key, version in result.items())


def makepath(*parts):
    """site.makepath(): an absolute path and its case-folded key."""
    path = os.path.join(*parts)
    try:
        path = os.path.abspath(path)
    except (OSError, ValueError):
        pass
    return path, os.path.normcase(path)


def pth_lines(path):
    """The lines of a .pth file, decoded as the running site.py would, or [] if unreadable."""
    try:
        raw = read_file(path)
    except (IOError, OSError):
        return []
    if not PY2:
        try:
            raw = raw.decode("utf-8-sig")  # 3.13+; older 3.x read it in the locale encoding
        except UnicodeDecodeError:
            import locale  # stdlib, needed only for a .pth file that is not UTF-8

            raw = raw.decode(locale.getpreferredencoding(False), "replace")
    return raw.splitlines()


def add_site_dir(search, known, sitedir):
    """site.addsitedir() WITHOUT executing anything: sitedir, then the existing plain paths its .pth files
    name. A .pth line starting with ``import`` (site.py would exec it) is skipped, never run."""
    sitedir, key = makepath(sitedir)
    if key not in known:
        search.append(sitedir)
        if not PY2:  # 2.7's addsitedir() does not record it: a blank .pth line there appends it again
            known.add(key)
    try:
        names = os.listdir(sitedir)
    except (IOError, OSError):
        return
    hidden_skipped = sys.version_info >= (3, 13)  # 3.13's site.py ignores .pth files named ".*"
    for name in sorted(n for n in names if n.endswith(".pth") and not (hidden_skipped and n.startswith("."))):
        for line in pth_lines(os.path.join(sitedir, name)):
            if line.startswith("#") or (not PY2 and not line.strip()):
                continue  # (2.7 takes a blank line for sitedir itself)
            if line.startswith(("import ", "import\t")):
                continue  # code: site.py would exec it at start-up; the probe never does
            path, path_key = makepath(sitedir, line.rstrip())
            if path_key not in known and os.path.exists(path):
                search.append(path)
                known.add(path_key)


def venv_config():
    """(venv prefix, include-system-site-packages) as site.venv() reads pyvenv.cfg, or None (3.3+ only)."""
    if PY2:
        return None  # 2.7's site.py knows no pyvenv.cfg
    if sys.platform == "darwin" and "__PYVENV_LAUNCHER__" in os.environ:
        executable = os.environ["__PYVENV_LAUNCHER__"]
    else:
        executable = sys.executable
    exe_dir = os.path.dirname(os.path.abspath(executable))
    site_prefix = os.path.dirname(exe_dir)
    for conf in (os.path.join(exe_dir, "pyvenv.cfg"), os.path.join(site_prefix, "pyvenv.cfg")):
        if os.path.isfile(conf):
            break
    else:
        return None
    system_site = "true"
    try:
        lines = read_file(conf).decode("utf-8", "replace").splitlines()
    except (IOError, OSError):
        lines = []
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip().lower() == "include-system-site-packages":
            system_site = value.strip().lower()
    return site_prefix, system_site == "true"


def py2_site_packages(prefixes):
    """Python 2.7's site.getsitepackages() for the given prefixes (2.7 cannot import site, see below)."""
    paths, seen = [], set()
    for prefix in prefixes:
        if not prefix or prefix in seen:
            continue
        seen.add(prefix)
        if sys.platform in ("os2emx", "riscos"):
            paths.append(os.path.join(prefix, "Lib", "site-packages"))
        elif os.sep == "/":
            paths.append(os.path.join(prefix, "lib", "python" + sys.version[:3], "site-packages"))
            paths.append(os.path.join(prefix, "lib", "site-python"))
        else:  # Windows: C:\Python27\ArcGIS10.x and C:\Python27\ArcGIS10.x\lib\site-packages
            paths.append(prefix)
            paths.append(os.path.join(prefix, "lib", "site-packages"))
    return paths


def py2_user_site():
    """Python 2.7's site.getusersitepackages(), which asks sysconfig (Windows: the user base is
    %APPDATA%\\Python, the user site <base>\\Python27\\site-packages)."""
    import sysconfig  # stdlib; 2.7's site.py imports it the same way

    if sys.platform == "darwin" and sysconfig.get_config_var("PYTHONFRAMEWORK"):
        return sysconfig.get_path("purelib", "osx_framework_user")
    return sysconfig.get_path("purelib", os.name + "_user")


def py2_user_site_allowed():
    """Python 2.7's site.check_enableusersite() (the same test as 3.x's)."""
    if sys.flags.no_user_site:
        return False
    if hasattr(os, "getuid") and hasattr(os, "geteuid") and os.geteuid() != os.getuid():
        return None
    if hasattr(os, "getgid") and hasattr(os, "getegid") and os.getegid() != os.getgid():
        return None
    return True


def normal_start():
    """What site.main() would set up for a normal start of this interpreter, computed without running it.

    The probe runs with -S (no site processing), so planted .pth files, sitecustomize and usercustomize
    never run. Returns {"prefix", "site_packages", "user_site", "user_site_enabled", "search_path"}:
    search_path is sys.path as site.main() would leave it (duplicates removed, then the venv's
    site-packages, the user site when enabled, then the global site-packages, each followed by the plain
    paths its .pth files add), in that order.
    """
    if PY2:
        # 2.7's site.py runs main() whenever it is imported, -S or not: it must never be imported here.
        site = None
        base_prefixes = [sys.prefix, sys.exec_prefix]
    else:
        # 3.x: importing site runs main() only if not sys.flags.no_site, i.e. when it already ran at start-up.
        import site

        # site.py's PREFIXES before site.venv() moved sys.prefix (also right when the probe runs without -S).
        base_prefixes = [
            getattr(sys, "base_prefix", sys.prefix),
            getattr(sys, "base_exec_prefix", sys.exec_prefix),
        ]

    def site_packages_for(prefixes):
        return list(site.getsitepackages(prefixes)) if site else py2_site_packages(prefixes)

    search, known = [], set()
    for entry in sys.path:  # site.removeduppaths()
        path, key = makepath(entry)
        if key not in known:
            search.append(path)
            known.add(key)
    prefix, prefixes, user_site_forced_off = sys.prefix, base_prefixes, False
    venv = venv_config()
    if venv:  # site.venv(): the venv's site-packages first, ahead of the user site
        prefix, system_site = venv
        for sitedir in site_packages_for([prefix]):
            if os.path.isdir(sitedir):
                add_site_dir(search, known, sitedir)
        if system_site:
            prefixes = [prefix] + prefixes
        else:
            prefixes, user_site_forced_off = [prefix], True
    if site:
        user_site = site.getusersitepackages()
        enabled = False if user_site_forced_off or user_site is None else site.check_enableusersite()
    else:
        user_site = py2_user_site()
        enabled = False if user_site_forced_off else py2_user_site_allowed()
    if enabled and os.path.isdir(user_site):
        add_site_dir(search, known, user_site)
    global_dirs = site_packages_for(prefixes)
    for sitedir in global_dirs:
        if os.path.isdir(sitedir):
            add_site_dir(search, known, sitedir)
    return {
        "prefix": prefix,
        "site_packages": global_dirs,
        "user_site": user_site,
        "user_site_enabled": bool(enabled),
        "search_path": search,
    }


def reported_site_packages(paths):
    """site.getsitepackages() as reported: the directories named site-packages (Windows also lists the
    prefix itself, which is no site-packages directory)."""
    named = [entry for entry in paths if os.path.basename(entry.rstrip("\\/")).lower() in SITE_DIR_NAMES]
    return [text(entry) for entry in (named or paths)]


def python_info(start):
    return {
        "version": ".".join(str(part) for part in sys.version_info[:3]),
        "executable": text(sys.executable),
        "prefix": text(start["prefix"]),
        "bits": struct.calcsize("P") * 8,
        "site_packages": reported_site_packages(start["site_packages"]),
        "user_site": text(start["user_site"]),
        "user_site_enabled": start["user_site_enabled"],
    }


def main(argv):
    packages = list(argv) or list(DEFAULT_PACKAGES)
    start = normal_start()
    found = versions_from_metadata(packages, start["search_path"])
    by_key = dict((normalize(name), version) for name, version in found.items())
    versions = dict((name, by_key.get(normalize(name))) for name in packages)
    report = {"python": python_info(start), "packages": versions}
    sys.stdout.write(json.dumps(report, sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
