"""ArcGIS upgrades on a simulated workstation: env records, drift in the plan, safe rebuilds (issue 15).

Pro 3.3 is set up; then Pro 3.5 is installed over it (tests/simwin/scenario.py ``upgrade``: Pro's
arcgispro-py3 replaced, the clone left with 3.3's packages). The next run's plan says why the env is
rebuilt, builds the 3.5 env beside the old one, verifies, then retires the old one; an injected failure
mid-rebuild leaves the old env and its record as they were.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from simwin.programs import write_conda_record
from simwin.scenario import upgrade
from simwin.testing import Lab, fleet_run, make_lab

pytestmark = pytest.mark.slow

ENVS = "C:\\ProgramData\\arcgis-conda\\envs"
RECORDS = "C:\\ProgramData\\arcgis-conda\\arcgis_env\\records"


def run(lab: Lab, *extra: str) -> tuple[int, str, dict[str, Any]]:
    return fleet_run(lab, "site.yml", None, *extra)


def record(lab: Lab, name: str) -> dict[str, Any] | None:
    host = lab.host()
    node = host.node(f"{RECORDS}\\{name}.json")
    return None if node is None else json.loads(host.node_bytes(node))


def targets(row: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["role"], c["action"], c["target"]) for c in row["planned"]]


@pytest.fixture
def pro33(tmp_path: Path) -> Lab:
    lab = make_lab(tmp_path, "pro33")
    rc, out, _ = run(lab)
    assert rc == 0, out
    built = record(lab, "arcpro33")
    assert built is not None
    assert built["arcgis"]["product"] == "pro" and built["arcgis"]["version"] == "3.3.0"
    assert built["pins"] == {"matplotlib": "3.6.3", "numpy": "1.24.3", "scipy": "1.9.3"}
    assert lab.host().node(f"{RECORDS}\\arcpro33.json")["owner"] == "S-1-5-32-544"  # Administrators
    with lab.edit() as host:
        upgrade(host, "pro35")
    return lab


def test_an_upgrade_is_planned_as_a_rebuild_beside_then_a_retire_with_the_reason(pro33: Lab) -> None:
    lab, host = pro33, pro33.hosts[0]
    rc, out, rows = run(lab, "--check")
    assert rc == 0, out
    assert (
        "arcpro33: ArcGIS upgraded: ArcGIS pro 3.3.0 -> 3.5.0: Python 3.11 -> 3.11, numpy 1.24.3 -> 1.26.4"
        in (out.replace("\n        ", " "))
    )
    planned = targets(rows[host])
    new, old = f"{ENVS}\\arcpro35", f"{ENVS}\\arcpro33"
    assert ("arcgis_env", "clone", new) in planned
    assert planned[-2:] == [
        ("arcgis_env_retire", "delete", old),
        ("arcgis_env_retire", "delete", f"{RECORDS}\\arcpro33.json"),
    ]
    # The retire comes after every role's changes (site.yml applies it after verify passed).
    assert [r for r, _a, _t in planned].index("arcgis_env_retire") > max(
        i for i, (r, _a, _t) in enumerate(planned) if r != "arcgis_env_retire"
    )
    assert lab.host().exists(old + "\\python.exe")  # check mode changed nothing

    rc, out, rows = run(lab)
    assert rc == 0, out  # verify passed: it runs before the retire step, and a failure stops the host
    host_now = lab.host()
    assert not host_now.exists(old) and record(lab, "arcpro33") is None
    assert host_now.exists(new + "\\python.exe")
    assert record(lab, "arcpro35")["arcgis"]["version"] == "3.5.0"
    assert record(lab, "arcpro35")["pins"]["numpy"] == "1.26.4"
    rc, out, rows = run(lab)
    assert rc == 0 and rows[host]["planned"] == [], out


def test_a_failure_mid_rebuild_leaves_the_old_env_in_use(pro33: Lab) -> None:
    lab = pro33
    old = f"{ENVS}\\arcpro33"
    with lab.edit() as h:
        h.state["faults"] = {
            "module_fails": [
                {
                    "module": "ansible.windows.win_command",
                    "argv_contains": "--clone",
                    "times": 1,
                    "msg": "CondaHTTPError: HTTP 000 CONNECTION FAILED",
                }
            ]
        }
    rc, out, _ = run(lab)
    assert rc != 0 and "CondaHTTPError" in out, out
    after = lab.host()
    assert after.exists(old + "\\python.exe") and after.exists(old + "\\conda-meta\\pinned")
    assert record(lab, "arcpro33")["arcgis"]["version"] == "3.3.0"
    assert record(lab, "arcpro35") is None
    # The next run finishes the rebuild and only then retires the old env.
    rc, out, _ = run(lab)
    assert rc == 0, out
    assert not lab.host().exists(old) and record(lab, "arcpro35") is not None


def test_a_hand_change_is_reported_not_repaired(tmp_path: Path) -> None:
    lab = make_lab(tmp_path, "pro33")
    host = lab.hosts[0]
    rc, out, _ = run(lab)
    assert rc == 0, out
    env = f"{ENVS}\\arcpro33"
    with lab.edit() as h:  # an administrator's `conda install numpy=1.26.0` in the clone
        admin = h.principal("svc_fleet")
        for node in [
            n
            for n in h.children(env + "\\conda-meta")
            if n["path"].lower().startswith((env + "\\conda-meta\\numpy-").lower())
        ]:
            h.delete(node["path"], admin)
        write_conda_record(h, admin, env, "numpy", "1.26.0", "py311h0_0")
    rc, out, rows = run(lab, "--check")
    assert rc == 0, out
    flat = out.replace("\n        ", " ")
    assert "arcpro33: changed by hand: numpy 1.26.0 (ArcGIS ships 1.24.3)" in flat
    assert "arcgis_env_repair: true brings it back" in flat
    assert [t for t in targets(rows[host]) if t[0].startswith("arcgis_env")] == []
    rc, out, rows = run(lab, "--check", "-e", "arcgis_env_repair=true")
    assert rc == 0, out
    repair = [t for t in targets(rows[host]) if t[1] == "repair env"]
    assert repair == [("arcgis_env", "repair env", env)]
