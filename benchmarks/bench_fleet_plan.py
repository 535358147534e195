"""Benchmark: plan a 1,000-host fleet offline with playbooks/plan.yml; print wall time and peak memory.

Generates an inventory of HOSTS workstations in labs of 25, each lab declaring one of six ArcGIS mixes
(Desktop 10.x, Pro 3.x, both), runs the real ``ansible-playbook playbooks/plan.yml`` on it and reports the
whole process's wall time, the plugin's own planning time and the peak resident memory of the run.
Target (issue 8): under 10 s for 1,000 hosts. Run from the repository root:

    .venv/bin/python benchmarks/bench_fleet_plan.py [--hosts 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MIXES = [
    [{"product": "desktop", "version": "10.4.1"}],
    # 10.8.1's numpy/matplotlib/scipy are not in the release table: declared as the README shows.
    [
        {
            "product": "desktop",
            "version": "10.8.1",
            "numpy": "1.9.3",
            "matplotlib": "1.5.2",
            "scipy": "0.17.0",
        },
        {"product": "pro", "version": "3.1"},
    ],
    [{"product": "pro", "version": "3.3"}],
    [{"product": "pro", "version": "2.9"}],
    [{"product": "desktop", "version": "10.4.1"}, {"product": "pro", "version": "3.0"}],
    [{"product": "pro", "version": "3.5"}],
]


def inventory(hosts: int, per_lab: int = 25) -> dict:
    labs: dict[str, dict] = {}
    for n in range(hosts):
        lab = f"lab_{n // per_lab:03d}"
        entry = labs.setdefault(lab, {"hosts": {}, "vars": {"fleet_arcgis_releases": MIXES[len(labs) % 6]}})
        entry["hosts"][f"ws{n:04d}.lab.example.org"] = {}
    # The demo root CA stands for the agency's DOI root, as in the example inventory.
    certs = [{"path": str(ROOT / "files" / "demo-lab-root-ca.crt")}]
    return {
        "all": {
            "vars": {"doi_cert_certificates": certs},
            "children": {"windows_workstations": {"children": labs}},
        }
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inv = Path(tmp) / "hosts.yml"
        inv.write_text(yaml.safe_dump(inventory(opts.hosts)))
        env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"}
        env["ARCGIS_FLEET_STATE_DIR"] = tmp  # its fact cache and reports (reports/plan)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        started = time.perf_counter()
        proc = subprocess.run(
            [
                "ansible-playbook",
                "playbooks/plan.yml",
                "-i",
                str(inv),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        return 1
    out = proc.stdout
    plays = json.JSONDecoder().raw_decode(out[out.index("{") :])[0]["plays"]
    summary = next(
        task["hosts"]["localhost"]["summary"]
        for play in plays
        for task in play["tasks"]
        if "summary" in task["hosts"].get("localhost", {})
    )
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    statuses: dict[str, int] = {}
    for counts in summary["labs"].values():
        for status, n in counts.items():
            statuses[status] = statuses.get(status, 0) + n
    print(f"hosts planned:            {summary['hosts']} in {len(summary['labs'])} labs {statuses}")
    print(f"distinct plans computed:  {summary['distinct_plans']} (hosts with equal input share one)")
    print(f"planning (plugin) time:   {summary['seconds']:.2f} s")
    print(f"ansible-playbook wall:    {wall:.2f} s (target < 10 s)")
    print(f"peak memory (RSS):        {peak_mb:.0f} MB")
    # A declared host is planned in full ("would change": its first run's plan), never "incomplete"/"failed".
    return 0 if set(statuses) <= {"ok", "would change"} else 1


if __name__ == "__main__":
    sys.exit(main())
