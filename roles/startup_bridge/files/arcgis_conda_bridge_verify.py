# -*- coding: utf-8 -*-
"""What one interpreter sees after start-up, as one JSON line (arcgis_conda.fleet startup_bridge verify).

Python 2.7 and 3.x, standard library only. The seed's "Testing and Troubleshooting" made automatic:
    python arcgis_conda_bridge_verify.py [--expect FOLDER ...] [--compiled FOLDER ...] [--arcpy]
    python - [--expect FOLDER ...] [--compiled FOLDER ...] [--arcpy] < arcgis_conda_bridge_verify.py
prints one line "ARCGIS_CONDA_BRIDGE_VERIFY {json}" with sys.path, where each expected folder sits in it,
what the bridge hook did at start-up, with --compiled whether a compiled package this interpreter finds
only in that folder imports (its extension modules load their DLLs across the bridge), and with --arcpy
whether `import arcpy` works (and the error when not). It only gathers facts; the controller
(startup_bridge_verdict in module_utils) judges them.
"""

import json
import os
import struct
import sys
import traceback

MARKER = "ARCGIS_CONDA_BRIDGE_VERIFY "


def text(value):
    if sys.version_info[0] < 3 and isinstance(value, str):
        return value.decode(sys.getfilesystemencoding() or "mbcs", "replace")
    return value


def norm(path):
    return os.path.normcase(os.path.normpath(os.path.abspath(path)))


def parse(argv):
    expect, compiled, arcpy = [], [], False
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--arcpy":
            arcpy = True
        elif arg == "--expect" and args:
            expect.append(args.pop(0))
        elif arg == "--compiled" and args:
            compiled.append(args.pop(0))
    return expect, compiled, arcpy


def extension_suffixes():
    try:
        import importlib.machinery

        return tuple(importlib.machinery.EXTENSION_SUFFIXES)
    except ImportError:  # Python 2.7
        import imp

        return tuple(s for s, _mode, kind in imp.get_suffixes() if kind == imp.C_EXTENSION)


def located(name):
    """The folder this interpreter imports package ``name`` from, or None."""
    try:
        import importlib.util

        spec = importlib.util.find_spec(name)
        locations = list(getattr(spec, "submodule_search_locations", None) or []) if spec else []
        return locations[0] if locations else None
    except ImportError:  # Python 2.7
        import imp

        try:
            handle, path, _desc = imp.find_module(name)
        except ImportError:
            return None
        if handle:
            handle.close()
        return path


def try_compiled(folder):
    """Import the first package that has an extension module and that this interpreter finds in
    ``folder`` (not a copy of its own): proof that the other side's compiled code loads here."""
    result = {"dir": text(folder), "name": None, "module": None, "ok": None, "error": None}
    suffixes = extension_suffixes()
    try:
        names = sorted(os.listdir(folder))
    except Exception as err:
        result["error"] = "cannot list: %s" % (err,)
        return result
    for name in names:
        package = os.path.join(folder, name)
        if name.startswith(("_", ".")) or name in sys.modules or "-" in name or "." in name:
            continue
        if not os.path.isfile(os.path.join(package, "__init__.py")):
            continue
        try:
            extensions = sorted(n for n in os.listdir(package) if n.endswith(suffixes))
        except Exception:  # noqa: S112 - an unreadable folder is simply not a candidate
            continue
        where = located(name) if extensions else None
        if where is None or norm(where) != norm(package):
            continue
        module = "%s.%s" % (name, extensions[0].split(".")[0])
        result.update(name=name, module=module)
        try:
            __import__(module)
            result["ok"] = True
        except BaseException as err:
            result["ok"] = False
            result["error"] = "%s: %s" % (err.__class__.__name__, err)
        return result
    return result


def positions(expect, path):
    keys = [norm(p) for p in path]
    found = []
    for folder in expect:
        key = norm(folder)
        index = keys.index(key) if key in keys else None
        found.append(
            {"path": text(folder), "index": index, "from_end": None if index is None else len(keys) - index}
        )
    return found


def try_arcpy():
    result = {"ok": False, "error": None, "traceback": None, "product": None, "file": None}
    try:
        import arcpy

        result["ok"] = True
        result["file"] = text(getattr(arcpy, "__file__", None))
        try:
            result["product"] = text(arcpy.ProductInfo())
        except Exception as err:
            result["product"] = "ProductInfo failed: %s" % (err,)
    except BaseException as err:
        result["error"] = "%s: %s" % (err.__class__.__name__, err)
        result["traceback"] = "".join(traceback.format_exception(*sys.exc_info())[-6:])
    return result


def main(argv):
    # Verify changes nothing: the imports below must leave no .pyc in the envs or ArcGIS's folders.
    sys.dont_write_bytecode = True
    expect, compiled, want_arcpy = parse(argv)
    path = list(sys.path)
    report = {
        "executable": text(sys.executable),
        "prefix": text(sys.prefix),
        "python": "%d.%d" % tuple(sys.version_info[:2]),
        "version": sys.version.split()[0],
        "bits": struct.calcsize("P") * 8,
        "os_name": os.name,
        "path": [text(p) for p in path],
        "expect": positions(expect, path),
        "conda_meta": os.path.isdir(os.path.join(sys.prefix, "conda-meta")),
        "user_site": None,
        "user_site_enabled": None,
        "bridge": None,
        "arcpy": None,
        "compiled": [],
    }
    try:
        import site

        report["user_site"] = text(getattr(site, "USER_SITE", None))
        report["user_site_enabled"] = getattr(site, "ENABLE_USER_SITE", None)
    except Exception as err:
        report["user_site"] = "unknown: %s" % (err,)
    bridge = sys.modules.get("arcgis_conda_bridge")
    if bridge is not None:
        report["bridge"] = {
            "file": text(getattr(bridge, "__file__", None)),
            "runs": getattr(bridge, "REPORT", None),
        }
    report["compiled"] = [try_compiled(folder) for folder in compiled]
    if want_arcpy:
        report["arcpy"] = try_arcpy()
    try:
        line = json.dumps(report, sort_keys=True, default=repr)
    except Exception:
        report["bridge"] = repr(report["bridge"])
        line = json.dumps(report, sort_keys=True, default=repr)
    sys.stdout.write(MARKER + line + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
