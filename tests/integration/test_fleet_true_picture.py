"""Every run leaves a true picture (issue 27 item 3): with serial batches and max_fail_percentage, a host
Ansible stopped mid-batch is reported ``stopped`` and one whose batch never ran ``not run`` (before, the
first was "ok" and the second had no row), both in the exit code and the retry file with the failed ones;
an unreachable host does not count towards max_fail_percentage (ansible-core's linear strategy divides
only the batch's failed hosts by its size), so the play goes on past it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from simwin.faultrun import FAULTS
from simwin.testing import fleet_run, make_lab

pytestmark = pytest.mark.slow

# The fault run's own faults (tests/simwin/faultrun.py): a conda create that fails, a dropped connection.
CREATE_FAILS = FAULTS["create_fails"]
DROPS = FAULTS["drops"]


def test_stopped_and_never_run_hosts_are_reported_counted_and_retried(tmp_path: Path) -> None:
    lab = make_lab(tmp_path, "desktop1041", "no_arcgis", per=4)
    unreachable, ok, failing, stopped, nothing, *not_run = lab.hosts
    with lab.edit(unreachable) as h:
        h.state["faults"] = DROPS
    with lab.edit(failing) as h:
        h.state["faults"] = CREATE_FAILS
    # Batches of 2, then 3: [unreachable, ok], [failing, stopped, nothing to do], then never run.
    rc, out, rows = fleet_run(lab, "site.yml", {"fleet_serial": [2, 3], "fleet_max_fail_percentage": 0})
    assert rc == 2, out[-3000:]
    status = {name: rows[name]["status"] for name in lab.hosts}
    assert status == {
        unreachable: "unreachable",  # not counted: the first batch went on, and so did the play
        ok: "ok",
        failing: "failed",
        stopped: "stopped",
        nothing: "nothing managed",  # no ArcGIS: it had finished when Ansible stopped its batch
        **{name: "not run" for name in not_run},
    }, out[-3000:]
    assert "max_fail_percentage" in rows[stopped]["error"] and "not run" in rows[not_run[0]]["error"]
    retry = (lab.dir / "reports" / "latest" / "failed_hosts.txt").read_text().split()
    assert sorted(retry) == sorted([unreachable, failing, stopped, *not_run])
    assert "1 stopped, 3 not run" in out
