# -*- coding: utf-8 -*-
"""Print, as one JSON object, this interpreter's Python version and its numpy, matplotlib and scipy.

Runs under each arcgis_env conda env's own python.exe (Python 2.7 or 3.x, standard library only);
the controller compares the result with the versions ArcGIS ships. Usage: python arcgis_env_versions.py
"""

from __future__ import print_function

import json
import platform
import sys

PACKAGES = ("numpy", "matplotlib", "scipy")


def main():
    report = {"python": platform.python_version(), "executable": sys.executable, "packages": {}, "errors": {}}
    for name in PACKAGES:
        try:
            module = __import__(name)
            report["packages"][name] = str(getattr(module, "__version__", ""))
        except Exception as exc:  # any import failure is a finding, not a crash
            report["packages"][name] = None
            report["errors"][name] = "{}: {}".format(type(exc).__name__, exc)
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
