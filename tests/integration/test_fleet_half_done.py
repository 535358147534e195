"""Half-done installs are found and finished (issue 27 item 4): the connection drops right after the
Miniconda installer, before the run secures and marks the prefix. The record the run wrote before starting
the installer lets the next run finish it (secure the prefix, write the marker) and uninstall remove it;
before, the next run took it for a Miniconda that was not the fleet's and uninstall skipped it, exit 0.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from simwin.testing import fleet_run, make_lab

pytestmark = pytest.mark.slow

PREFIX = "C:\\Miniconda2"
MARKER = PREFIX + "\\.arcgis-conda-fleet"


def test_an_install_cut_off_after_the_installer_is_finished_and_uninstalled(tmp_path: Path) -> None:
    lab = make_lab(tmp_path, "desktop1041")
    name = lab.hosts[0]
    with lab.edit(name) as h:
        h.state["faults"] = {"drop_connection_after": {"module": "ansible.windows.win_package", "times": 1}}
    rc, out, _rows = fleet_run(lab, "site.yml")
    assert rc != 0 and "UNREACHABLE" in out, out[-3000:]
    host = lab.host(name)
    assert host.exists(PREFIX + "\\Scripts\\conda.exe") and not host.exists(MARKER)

    rc, out, rows = fleet_run(lab, "site.yml")
    assert rc == 0, out[-3000:]
    finished = [(c["action"], c["target"]) for c in rows[name]["planned"] if c["role"] == "miniconda"]
    assert ("secure", PREFIX) in finished and ("write", MARKER) in finished, finished
    node = lab.host(name).node(PREFIX)
    assert lab.host(name).exists(MARKER) and node["owner"] == "S-1-5-32-544" and node["protected"]

    rc, out, removed = fleet_run(lab, "playbooks/uninstall.yml", None, "-e", "fleet_confirm=yes")
    assert rc == 0, out[-3000:]
    assert ("uninstall", PREFIX) in [(c["action"], c["target"]) for c in removed[name]["planned"]]
    assert not lab.host(name).exists(PREFIX)
