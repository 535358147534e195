"""Benchmark: WinRM module calls per host for site.yml on the simulated workstations (tests/simwin).

For each shipped scenario it makes a fresh simulated lab, runs the real ``ansible-playbook site.yml``
twice (first run, then a re-run with nothing to change) and prints one line per scenario and run::

    scenario run host module_calls raw_commands put_files changed callback_calls programs escalations
    observe_bytes hives_loaded seconds

``module_calls``, ``raw_commands`` and ``put_files`` are counted by the simulated connection itself
(tests/simwin/calls.py, one line per exec_command), independently of the ``fleet_progress`` callback,
whose own count is printed beside them. ``changed`` is the recap's changed count. ``programs`` and
``escalations`` are this run's records of the lab's security rule (tests/simwin/invariant.py: programs the
admin session started, and what they trusted that a non-admin could change; must be 0). ``observe_bytes``
is the size of the answers (JSON) of the host_read calls that read ArcGIS and the profiles (observe's),
``hives_loaded`` how many offline user hives (NTUSER.DAT) every host_read of the run loaded with
``reg load`` (both recorded by the simulated connection). Targets (issue 11) on
the reference host (Desktop 10.4.1 32-bit + Pro 3.3): first run <= 25 module calls, re-run <= 5 and
changed=0. Run from the repository root::

    .venv/bin/python benchmarks/bench_calls.py [--scenario reference ...] [--keep DIR]

A figure from a simulated host is the number of round trips the flow asks for; the seconds are this
machine's, not a real WinRM link's (about a second or more per module call).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from simwin import lab as simlab  # noqa: E402
from simwin.calls import calls, reset_calls  # noqa: E402
from simwin.invariant import events  # noqa: E402
from simwin.scenario import scenario_names  # noqa: E402

CERT = ROOT / "files" / "demo-lab-root-ca.crt"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", re.M)


def run_once(directory: Path, hosts: list[str]) -> tuple[dict[str, dict[str, int]], float, dict[str, int]]:
    seen = {host: len(events(directory / "state" / host)) for host in hosts}
    for host in hosts:
        reset_calls(directory / "state" / host)
    extra = directory / "extra.json"
    extra.write_text(json.dumps({"doi_cert_certificates": [{"path": str(CERT)}]}))
    started = time.perf_counter()
    proc = simlab.run(
        directory, ["ansible-playbook", "site.yml", "-e", f"@{extra}"], capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"site.yml failed on {directory}:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    changed = {m.group(1): int(m.group(2)) for m in RECAP.finditer(proc.stdout)}
    counts: dict[str, dict[str, int]] = {}
    for host in hosts:
        records = calls(directory / "state" / host)
        counts[host] = {
            "module_calls": sum(1 for r in records if r.get("kind") == "module"),
            "raw_commands": sum(1 for r in records if r.get("kind") == "raw"),
            "put_files": sum(1 for r in records if r.get("kind") == "put_file"),
            "changed": changed.get(host, -1),
        }
        new = events(directory / "state" / host)[seen[host] :]
        counts[host]["programs"] = sum(1 for e in new if e["kind"] == "program")
        counts[host]["escalations"] = sum(1 for e in new if e["kind"] == "escalation")
        counts[host]["observe_bytes"] = sum(
            r.get("answer_bytes", 0) for r in records if r.get("profiles_read")
        )
        counts[host]["hives_loaded"] = sum(r.get("hives_loaded", 0) for r in records)
    # Each run writes its own report folder; reports/latest points at this one.
    callback = json.loads((directory / "reports" / "latest" / "module_calls.json").read_text())
    return counts, seconds, callback


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario",
        action="append",
        help="scenario name (default: every shipped one, scale scenarios such as lab500_profiles too)",
    )
    parser.add_argument("--keep", type=Path, help="keep the labs under this folder")
    args = parser.parse_args()
    scenarios = args.scenario or scenario_names(scale=True)
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-calls-"))
    header = (
        "scenario",
        "run",
        "host",
        "module_calls",
        "raw_commands",
        "put_files",
        "changed",
        "callback_calls",
        "programs",
        "escalations",
        "observe_bytes",
        "hives_loaded",
    )
    print("\t".join((*header, "seconds")))
    try:
        for scenario in scenarios:
            directory = base / scenario
            shutil.rmtree(directory, ignore_errors=True)
            data = simlab.init(directory, [scenario], 1)
            hosts = list(
                data["all"]["children"]["windows_workstations"]["children"][simlab.LAB_GROUP]["hosts"]
            )
            for run in ("first", "no-op"):
                counts, seconds, callback = run_once(directory, hosts)
                for host in hosts:
                    c = counts[host]
                    row = (
                        scenario,
                        run,
                        host,
                        c["module_calls"],
                        c["raw_commands"],
                        c["put_files"],
                        c["changed"],
                    )
                    events_row = (
                        callback.get(host),
                        c["programs"],
                        c["escalations"],
                        c["observe_bytes"],
                        c["hives_loaded"],
                        f"{seconds:.1f}",
                    )
                    print("\t".join(str(v) for v in (*row, *events_row)))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
