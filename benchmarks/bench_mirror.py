"""Benchmark: build the exact-subset mirror of a 40-host lab with playbooks/mirror.yml, then re-run it.

Two real HTTP servers on 127.0.0.1 (tests/integration/mirror_lab.py): an upstream of generated
Anaconda-shaped channels (pkgs/free, pkgs/main with unrelated filler records, esri) and installers, and
the mirror's web root. Every host declares ArcGIS Desktop 10.4.1, its 64-bit Background Geoprocessing and
Pro 3.3 (three stacks: two conda envs and a Pro clone's tools). Prints, from the upstream server's own
request log: files and bytes fetched (equal to the distinct locked files and chosen installers, once),
the mirror's size, the controller's time (whole ansible-playbook run, and the action's own), and the
same for a re-run (0 fetched). Not a timed test. Run from the repository root:

    .venv/bin/python benchmarks/bench_mirror.py [--hosts 40]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import mirror_lab as ml  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=40)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        upstream = ml.serve(root / "upstream")
        sums = ml.build_upstream(root / "upstream")
        web = ml.serve(root / "web")
        mirror = f"{web.url}/conda"
        inventory = ml.write_inventory(root / "hosts.yml", opts.hosts, upstream.url, mirror, sums)
        argv, extra_env = ml.playbook_command(
            root, inventory, "playbooks/mirror.yml", str(Path(sys.executable).parent / "ansible-playbook")
        )
        env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), **extra_env}
        print(
            f"mirror of {opts.hosts} hosts, 3 stacks (Desktop 10.4.1 32-bit, its 64-bit BGP, Pro 3.3 clone)"
        )
        for label in ("first run", "re-run"):
            before = len(upstream.package_requests())
            started = time.perf_counter()
            proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            if proc.returncode != 0:
                print(proc.stdout[-3000:], proc.stderr[-2000:])
                return 1
            result = ml.playbook_result(proc.stdout, "Download")["mirror"]
            locked = {
                line.split("#", 1)[0]
                for lock in (root / ".cache" / "locks").glob("*.txt")
                for line in lock.read_text().splitlines()
                if "://" in line and not line.startswith("#")
            }
            fetched = upstream.package_requests()[before:]
            fetched_bytes = sum((upstream.root / r.lstrip("/")).stat().st_size for r in fetched)
            print(
                f"{label}: {len(locked)} distinct locked files + {len(result['installers'])} installers; "
                f"fetched from upstream {len(fetched)} file(s), {fetched_bytes} bytes "
                f"(repeats: {len(fetched) - len(set(fetched))}); mirror {result['files']} files, "
                f"{result['size']} bytes in {len(result['channels'])} channels; controller {wall:.2f} s wall "
                f"(fetch + verify + index {result['seconds']:.2f} s)"
            )
        upstream.stop()
        web.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
