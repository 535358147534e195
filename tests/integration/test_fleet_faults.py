"""The fault run of issue 27's "Done when", small (``make bench-faults`` runs it on 40 hosts): each kind of
fault on a host of its own (conda create fails, the connection drops after the installer, the installer
hangs past fleet_task_timeout, a student planted the system condarc and pip.ini) beside clean hosts. The lab
converges in at most two runs; after each run every host's report row agrees with verify.yml and the retry
file; nothing a student owned is lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from simwin import faultrun

pytestmark = pytest.mark.slow


def test_a_lab_with_every_kind_of_fault_converges_in_two_runs_with_true_rows(tmp_path: Path) -> None:
    # 8 hosts, every 2nd faulty: one of each kind (50%: the batch goes on past them, none is "stopped").
    lab, faulty = faultrun.build(tmp_path, ["pro33", "desktop1041"], per=4, every=2)
    assert sorted(faulty.values()) == sorted(faultrun.KINDS)
    steps = faultrun.converge(lab, faulty, fleet_max_fail_percentage=60)
    first = steps[0]
    assert first.rc != 0 and not first.problems, first
    for host, kind in faulty.items():  # each fault shows as what it is
        expected = {
            "create_fails": {"failed"},
            "drops": {"unreachable"},
            "hangs": {"failed"},
            "planted": faultrun.GOOD,
        }
        assert first.status[host] in expected[kind], (host, kind, first.status[host])
    assert all(first.status[h] in faultrun.GOOD for h in lab.hosts if h not in faulty), first.status
    assert len(steps) == 2, "did not converge in two runs"
    last = steps[-1]
    assert last.rc == 0 and not last.problems, last
    assert all(last.verified.values()) and last.retry == []
