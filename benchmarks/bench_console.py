"""Benchmark: how many lines the default console prints for site.yml on a 10-host simulated lab.

Makes a fresh simulated lab of 10 workstations (tests/simwin: two each of five scenarios, one of them
with no ArcGIS), runs the real ``ansible-playbook site.yml`` (first run, then a re-run with nothing to
change) at the default verbosity and at ``-v``, and prints one line per run::

    run      verbosity  rc  console_lines  hosts_named

``console_lines`` counts stdout + stderr lines. Target (issue 25 item 7): under 150 lines for the first
run at the default verbosity, every host still named with its outcome. Run from the repository root::

    .venv/bin/python benchmarks/bench_console.py [--keep DIR] [--print]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from simwin import lab as simlab  # noqa: E402

CERT = ROOT / "files" / "demo-lab-root-ca.crt"
SCENARIOS = ["reference", "desktop1041", "pro33", "pro35", "no_arcgis"]


def run(directory: Path, *extra: str) -> tuple[int, str]:
    variables = directory / "extra.json"
    variables.write_text(json.dumps({"doi_cert_certificates": [{"path": str(CERT)}]}))
    proc = simlab.run(
        directory,
        ["ansible-playbook", "site.yml", "-e", f"@{variables}", *extra],
        capture_output=True,
        text=True,
    )
    return proc.returncode, proc.stdout + proc.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="keep the lab in this folder")
    parser.add_argument("--print", action="store_true", help="print the first run's default console")
    args = parser.parse_args()
    directory = Path(args.keep or tempfile.mkdtemp(prefix="bench-console-"))
    data = simlab.init(directory, SCENARIOS, per=2)
    hosts = list(data["all"]["children"]["windows_workstations"]["children"][simlab.LAB_GROUP]["hosts"])
    print(f"{'run':8} {'verbosity':9} {'rc':>3} {'console_lines':>13} {'hosts_named':>11}")
    try:
        for label, extra in (("first", ()), ("re-run", ()), ("re-run", ("-v",))):
            rc, out = run(directory, *extra)
            named = sum(1 for h in hosts if h in out)
            verbosity = extra[0] if extra else "default"
            print(f"{label:8} {verbosity:9} {rc:>3} {len(out.splitlines()):>13} {named:>8}/{len(hosts)}")
            if args.print and label == "first":
                print(out)
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
