"""Benchmark: what securing one folder tree costs on the host, before and after issue 22's icacls securing.

For trees of N items (folders of 10 files, each file with an entry of its own, as a user-writable install
leaves them) on a simulated workstation (tests/simwin) it runs the apply script's ``secure`` operation
once and prints::

    items  module_calls  acl_reads  acl_writes_before  acl_writes_after  icacls_processes  seconds

``module_calls``: the one ``apply_files`` call (both before and after). ``acl_reads``: ``Get-Acl`` of each
item in the walk (owner, own entries), which the old script also did, twice. ``acl_writes_before``: the old
script's one ``Set-Acl`` per item (plus the folder's), each after a ``Get-Acl`` and followed by another
(three passes per item, plugins/module_utils/fleet_apply_files.ps1 at c63e1b6). ``acl_writes_after``: the
folder's own ``Set-Acl`` (1) and ``icacls_processes``, counted from the simulator's program records
(tests/simwin/invariant.py): one ``icacls <folder>\\* /reset /T /C /L /Q`` for everything below, none when
nothing needs it. The seconds are the simulator's, not Windows'.

    .venv/bin/python benchmarks/bench_secure.py [N ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh  # noqa: E402
from simwin import host as H  # noqa: E402
from simwin import scripts  # noqa: E402
from simwin.invariant import events  # noqa: E402
from simwin.modules import Ctx  # noqa: E402
from simwin.scenario import create_host  # noqa: E402

TREE = "C:\\ProgramData\\lab-tree"
TEMP = "C:\\Users\\svc_fleet\\AppData\\Local\\Temp"


def measure(items: int) -> tuple[int, ...]:
    with tempfile.TemporaryDirectory() as tmp:
        host = create_host(Path(tmp) / "host", "no_arcgis")
        admin = host.principal()
        host.mkdir(TREE, admin)
        made = 0
        while made < items:
            folder = f"{TREE}\\d{made // 10}"
            host.mkdir(folder, admin)
            made += 1
            for n in range(min(9, items - made)):
                path = f"{folder}\\f{n}.py"
                host.write(path, b"x", admin)
                host.set_security(path, acl=[H.ace(H.USERS, "modify")])
                made += 1
        before = len(events(host.dir))
        started = time.perf_counter()
        scripts.apply_files(Ctx(host, admin, False, TEMP, "m"), {"Items": [fh.secure_item(TREE)]})
        seconds = time.perf_counter() - started
        icacls = sum(1 for e in events(host.dir)[before:] if e["kind"] == "program")
        below = len(host.descendants(TREE))
        return below, 1, below, below + 1, 1, icacls, round(seconds, 2)


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [100, 1000, 10000]
    print("\t".join(("items", "module_calls", "acl_reads", "acl_writes_before", "acl_writes_after")), end="")
    print("\ticacls_processes\tseconds")
    for size in sizes:
        print("\t".join(str(v) for v in measure(size)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
