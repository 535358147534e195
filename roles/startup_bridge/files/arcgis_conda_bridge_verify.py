# -*- coding: utf-8 -*-
"""What one interpreter sees after start-up, as one JSON line (arcgis_conda.fleet startup_bridge verify).

Python 2.7 and 3.x, standard library only. The seed's "Testing and Troubleshooting" made automatic:
    python arcgis_conda_bridge_verify.py [--expect FOLDER ...] [--arcpy]
    python - [--expect FOLDER ...] [--arcpy] < arcgis_conda_bridge_verify.py
prints one line "ARCGIS_CONDA_BRIDGE_VERIFY {json}" with sys.path, where each expected folder sits in it,
what the bridge hook did at start-up, and with --arcpy whether `import arcpy` works (and the error when
not). It only gathers facts; the controller (startup_bridge_verify in module_utils) judges them.
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
    expect, arcpy = [], False
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--arcpy":
            arcpy = True
        elif arg == "--expect" and args:
            expect.append(args.pop(0))
    return expect, arcpy


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
    expect, want_arcpy = parse(argv)
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
