"""Order per host, by construction (issue 27 item 2): in one batch, a workstation a failed run left half
done and a fresh one each apply their own planned steps in their own planned order. Ansible merges
identical includes across hosts and runs them in one global order; the apply loops over step positions
(the same increasing list on every host) and includes each host's own step kind at each position.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from simwin.testing import fleet_run, make_lab
from test_fleet_e2e import effects, expected_effects

pytestmark = pytest.mark.slow

CREATE_FAILS = {
    "module_fails": [
        {
            "module": "ansible.windows.win_command",
            "argv_contains": "create",
            "times": 1,
            "msg": "CondaHTTPError: HTTP 000 CONNECTION FAILED",
        }
    ]
}


def test_hosts_at_different_stages_in_one_batch_each_apply_in_their_own_order(tmp_path: Path) -> None:
    lab = make_lab(tmp_path, "desktop1041", per=3)
    half, *fresh = lab.hosts
    with lab.edit(half) as h:
        h.state["faults"] = CREATE_FAILS
    # This host's first steps differ (a folder an earlier image left, a student's condarc) while its later
    # steps equal the other fresh host's: Ansible merges those includes across the two hosts.
    with lab.edit(fresh[1]) as h:
        h.mkdir("C:\\ProgramData\\arcgis-conda", h.principal())
        h.as_user("student1").mkdir("C:\\ProgramData\\conda")
        h.as_user("student1").write_file("C:\\ProgramData\\conda\\.condarc", "channels: [mine]\n")
    rc, out, _rows = fleet_run(lab, "site.yml", None, "--limit", half)
    assert rc != 0 and "CondaHTTPError" in out, out[-3000:]

    rc, out, rows = fleet_run(lab, "site.yml")
    assert rc == 0, out[-4000:]
    stages = {name: [c["step"] for c in rows[name]["planned"]] for name in lab.hosts}
    assert stages[half] != stages[fresh[0]], "the hosts were at the same stage"
    assert rows[fresh[0]]["planned"] != rows[fresh[1]]["planned"]
    for name in lab.hosts:
        # A host's first run here also secures Desktop's C:\Python27 in observe, before its Python first runs
        # (the half-done host had that in its earlier run).
        guard = [] if name == half else [{"op": "secure", "path": "C:\\Python27"}]
        expected = guard + expected_effects(rows[name]["planned"])
        assert effects(lab, name) == expected, f"{name} ran out of its order"
