# arcgis_conda.fleet selftest: print the arguments this Python received, as JSON (ASCII only).
# Python 2.7 and 3.x. On Windows, Python 2's sys.argv holds the command line in the ANSI code page
# (GetCommandLineA); it is decoded with 'mbcs' so the answer compares with what the controller sent.
import json
import sys

args = sys.argv[1:]
if sys.version_info[0] == 2:
    encoding = "mbcs" if sys.platform == "win32" else (sys.getfilesystemencoding() or "utf-8")
    args = [a.decode(encoding, "replace") if isinstance(a, bytes) else a for a in args]
sys.stdout.write(json.dumps(args, ensure_ascii=True) + "\n")
