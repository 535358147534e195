# ruff: noqa: ANN001, ANN201, UP010, UP024
# (Python 2.7 must run this file: no annotations, IOError is not OSError there, __future__ matters.)
"""Report one ArcGIS Python interpreter's version, paths and package versions as one JSON object.

Run it with the interpreter to measure::

    <python> arcgis_probe.py [package ...]

With no package arguments it measures DEFAULT_PACKAGES. It prints exactly one JSON object::

    {"python": {"version": "2.7.10", "executable": "...", "prefix": "...", "bits": 32,
                "site_packages": ["..."], "user_site": "...", "user_site_enabled": true},
     "packages": {"numpy": "1.9.2", "matplotlib": "1.4.3", "scipy": "0.15.1", ...}}

``null`` stands for a package the interpreter cannot import. Exit status 0 whenever the report was
printed (missing packages are not an error).

Rules (the arcgis_facts action plugin sends this file to Windows hosts as it is):
- Valid Python 2.7 (ArcMap's Python) and 3.x; standard library only (tests prove 2.7 validity with vermin).
- Never imports arcpy (slow, and it checks out a licence) nor any package whose metadata can be read:
  versions come from ``*.dist-info/METADATA``, ``*.egg-info`` files, ``*.egg-info/PKG-INFO`` and
  ``*.egg/EGG-INFO/PKG-INFO`` found on the interpreter's own ``sys.path``, in ``sys.path`` order (the
  first entry that has a package is the one ``import`` would use). Only a package with no metadata on
  any entry is imported, with its output kept off stdout.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import site
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
# Distribution name -> importable module, where they differ (used only for the import fallback).
IMPORT_NAMES = {
    "python-dateutil": "dateutil",
    "pyyaml": "yaml",
    "pillow": "PIL",
    "beautifulsoup4": "bs4",
    "scikit-learn": "sklearn",
}
NEVER_IMPORT = frozenset(["arcpy", "arcgisscripting", "arcgis"])
METADATA_KINDS = (".dist-info", ".egg-info")
SITE_DIR_NAMES = ("site-packages", "dist-packages")
STRING_TYPES = (str, bytes, type(b"".decode("ascii")))  # the last is unicode on Python 2


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
        file_name, _, file_version = stem.partition("-")
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


def versions_from_metadata(packages, path_entries):
    """{package: version} for the packages whose metadata is on path_entries (first entry wins)."""
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
    return dict((wanted[key], version) for key, version in result.items())


def version_by_import(package):
    """__version__ of an importable package without metadata, or None. Never arcpy."""
    mapped = IMPORT_NAMES.get(normalize(package), package.replace("-", "_"))
    for module_name in (mapped, mapped.lower()):
        if module_name.split(".")[0].lower() in NEVER_IMPORT:
            return None
        module = import_quietly(module_name)
        if module is None:
            continue
        for attribute in ("__version__", "version"):
            value = getattr(module, attribute, None)
            if isinstance(value, STRING_TYPES):
                return text(value)
        return None
    return None


def import_quietly(module_name):
    """The imported module, or None; a chatty import must not corrupt the JSON on stdout."""
    stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        module = __import__(module_name)
        for part in module_name.split(".")[1:]:
            module = getattr(module, part)
        return module
    except (Exception, SystemExit):  # any failure to import means "not usable here"
        return None
    finally:
        sys.stdout = stdout


def package_versions(packages, path_entries):
    versions = versions_from_metadata(packages, path_entries)
    for package in packages:
        if package not in versions:
            versions[package] = version_by_import(package)
    return versions


def site_packages():
    """The interpreter's global site-packages directories, as site.py computes them."""
    if hasattr(site, "getsitepackages"):
        paths = list(site.getsitepackages())
    else:  # old virtualenv copies of site.py (Python 2) have no getsitepackages()
        paths = [entry for entry in sys.path if os.path.basename(entry.rstrip("\\/")) in SITE_DIR_NAMES]
    named = [entry for entry in paths if os.path.basename(entry.rstrip("\\/")).lower() in SITE_DIR_NAMES]
    return [text(entry) for entry in (named or paths)]


def user_site():
    if hasattr(site, "getusersitepackages"):
        return text(site.getusersitepackages())  # what `python -m site --user-site` prints
    return text(getattr(site, "USER_SITE", None))


def python_info():
    return {
        "version": ".".join(str(part) for part in sys.version_info[:3]),
        "executable": text(sys.executable),
        "prefix": text(sys.prefix),
        "bits": struct.calcsize("P") * 8,
        "site_packages": site_packages(),
        "user_site": user_site(),
        "user_site_enabled": bool(getattr(site, "ENABLE_USER_SITE", False)),
    }


def main(argv):
    packages = list(argv) or list(DEFAULT_PACKAGES)
    report = {"python": python_info(), "packages": package_versions(packages, list(sys.path))}
    sys.stdout.write(json.dumps(report, sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
