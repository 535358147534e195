"""Benchmark: plan and lock a 1,000-host fleet spread over 6 distinct ArcGIS stacks (not a timed test).

Builds the tests' local conda channel (plus unrelated filler records, so repodata is not trivially
small), gives every host a Desktop (10.4.1 or 10.6.1) and a Pro (2.2, 2.8 or 3.3, as plain conda envs)
install, every fifth host also 64-bit Background Geoprocessing, then plans and locks the fleet with the
real py-rattler solver and prints: distinct stacks, solves, envs, wall times and peak memory.

The same fleet through a real ``ansible-playbook`` is ``benchmarks/bench_fleet_plan.py`` (every role's
plan, each distinct stack locked once).

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_arcgis_env_lock.py [--hosts 1000]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder  # noqa: E402

_AnsibleCollectionFinder(paths=[str(ROOT / "collections")], scan_sys_paths=True)._install()

from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_lock import (  # noqa: E402
    Locker,
    lock_fleet,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_spec import (  # noqa: E402
    EnvSettings,
    plan_fleet,
)
from conda_channel import MINICONDA2_X86, MINICONDA3_X64, STACKS, build_channel  # noqa: E402

DESKTOPS = ("desktop-10.4.1-32", "desktop-10.6.1-32")
PROS = ("pro-2.2-64", "pro-2.8-64", "pro-3.3-64")


def fleet_inputs(n_hosts: int) -> dict[str, dict]:
    hosts = {}
    for i in range(n_hosts):
        ids = [DESKTOPS[i % 2], PROS[i % 3]] + (["desktop_bgp-10.4.1-64"] if i % 5 == 0 else [])
        hosts[f"lab{i // 40:02d}-pc{i:04d}"] = {
            "arcgis": [copy.deepcopy(STACKS[a]) for a in ids],
            "conda_installs": [MINICONDA2_X86, MINICONDA3_X64],
        }
    return hosts


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def plan_and_lock(work: Path, inputs: dict[str, dict], settings: EnvSettings, trace: bool) -> dict:
    """One full pass: plan, fetch + solve, serialise the action's result. ``trace`` measures the heap."""
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    fleet = plan_fleet(inputs, settings)
    t1 = time.perf_counter()
    locker = Locker(work / "cache")
    outcomes = lock_fleet(fleet.specs, fleet.releases, work / "locks", locker)
    t2 = time.perf_counter()
    plans = {h: [p.to_dict() for p in ps] for h, ps in fleet.plans.items()}
    result_bytes = len(json.dumps({"plans": plans, "locks": {k: o.to_dict() for k, o in outcomes.items()}}))
    t3 = time.perf_counter()
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    if trace:
        tracemalloc.stop()
    locker.close()
    return {
        "envs": sum(len(p) for p in fleet.plans.values()),
        "stacks": len(fleet.specs),
        "solves": locker.solves,
        "statuses": sorted({o.status for o in outcomes.values()}),
        "plan": t1 - t0,
        "lock": t2 - t1,
        "serialise": t3 - t2,
        "total": t3 - t0,
        "json_bytes": result_bytes,
        "heap_peak": peak,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--filler", type=int, default=5000, help="unrelated repodata records per subdir")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-arcgis-env-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        channel = build_channel(work / "channel", filler=args.filler)
        channel_s = time.perf_counter() - started
        subdirs = ("win-32", "win-64", "noarch")
        repodata_bytes = sum((work / "channel" / s / "repodata.json").stat().st_size for s in subdirs)
        inputs = fleet_inputs(args.hosts)
        settings = EnvSettings(
            channels=(channel.url,), pro_mode="conda", products=("desktop", "desktop_bgp", "pro")
        )
        rss_before = rss_mb()
        timed = plan_and_lock(work / "timed", inputs, settings, trace=False)
        traced = plan_and_lock(work / "traced", inputs, settings, trace=True)

        print(f"hosts                      {len(inputs)}")
        print(f"envs planned               {timed['envs']}")
        print(f"distinct stacks            {timed['stacks']}")
        print(f"distinct solves            {timed['solves']}")
        print(f"lock outcomes              {timed['statuses']}")
        size = repodata_bytes / 1e6
        print(f"repodata (3 subdirs)       {size:.1f} MB, {args.filler} filler records per subdir")
        print(f"channel generation         {channel_s:.2f} s (not counted below)")
        print(f"plan                       {timed['plan']:.3f} s")
        print(f"fetch repodata + solve     {timed['lock']:.3f} s")
        json_mb = timed["json_bytes"] / 1e6
        print(f"serialise result           {timed['serialise']:.3f} s ({json_mb:.1f} MB of JSON)")
        print(f"wall time plan+lock        {timed['total']:.3f} s")
        print(f"peak Python heap           {traced['heap_peak'] / 1e6:.1f} MB (tracemalloc, second pass)")
        print(
            f"peak RSS                   {rss_mb():.1f} MB (getrusage; {rss_before:.1f} MB before planning)"
        )
        ok = timed["solves"] == timed["stacks"] and timed["total"] < 10 and rss_mb() < 500
        print(f"target (1 solve/stack, <10 s, <500 MB): {'met' if ok else 'NOT met'}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
