# arcgis_conda.fleet selftest: a program that never answers and has a child of its own.
# Python 2.7 and 3.x. Usage: python selftest_tree.py <pid file>. It starts a copy of itself as a child
# (which sleeps), writes {"parent": pid, "child": pid} to the pid file, and sleeps: the caller's timeout
# must end both (the whole process tree), or the child keeps the output pipes open.
import json
import os
import subprocess
import sys
import time

if len(sys.argv) > 2 and sys.argv[2] == "child":
    time.sleep(600)
    sys.exit(0)
child = subprocess.Popen([sys.executable, "-E", "-s", os.path.abspath(sys.argv[0]), sys.argv[1], "child"])
with open(sys.argv[1], "w") as handle:
    handle.write(json.dumps({"parent": os.getpid(), "child": child.pid}))
time.sleep(600)
