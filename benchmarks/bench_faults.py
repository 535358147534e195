"""Benchmark: the 40-host fault run of issue 27's "Done when"; exit 1 when it is not met.

A simulated lab of 40 workstations (reference, pro33, pro35, desktop1041; 10 each), a fifth of them faulty
in turn: ``conda create`` fails, the connection drops after the Miniconda installer, the installer hangs
past ``fleet_task_timeout``, a student planted the system condarc and pip.ini. Defaults as shipped (one batch,
max_fail_percentage 20). The lab must converge in at most two ``site.yml`` runs, and after each run every
host's report row must agree with ``verify.yml`` and the retry file, and no planted file be lost
(``tests/simwin/faultrun.py``). Prints each run's outcome counts and seconds. Run from the repository root::

    .venv/bin/python benchmarks/bench_faults.py [--per 10] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from simwin import faultrun  # noqa: E402

SCENARIOS = ["reference", "pro33", "pro35", "desktop1041"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per", type=int, default=10)
    parser.add_argument("--keep", type=Path)
    opts = parser.parse_args()
    work = opts.keep.resolve() if opts.keep else Path(tempfile.mkdtemp(prefix="bench-faults-"))
    started = time.perf_counter()
    lab, faulty = faultrun.build(work, SCENARIOS, opts.per)
    print(f"{len(lab.hosts)} hosts, {len(faulty)} faulty: {dict(Counter(faulty.values()))}")
    steps = faultrun.converge(lab, faulty)
    ok = True
    for n, found in enumerate(steps, 1):
        counts = dict(Counter(found.status.values()))
        print(f"run {n}: site.yml rc {found.rc}; {counts}; retry {len(found.retry)}")
        for problem in found.problems:
            print(f"  NOT TRUE: {problem}")
        ok = ok and not found.problems
    converged = all(s in faultrun.GOOD for s in steps[-1].status.values()) and all(
        steps[-1].verified.values()
    )
    print(f"converged in {len(steps)} run(s): {converged}  (target: at most 2, every row true, nothing lost)")
    print(f"seconds: {time.perf_counter() - started:.0f}")
    if not opts.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok and converged else 1


if __name__ == "__main__":
    sys.exit(main())
