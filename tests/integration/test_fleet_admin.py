"""The admin's view on simulated workstations: bad variables stop a host before any change, naming every
public variable at once; a misspelled one is pointed at the nearest; unreachable is not failed; the
retry hint repeats the playbook, inventory and options; plan.yml exits non-zero when a host cannot be
planned."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest
from simwin import lab as simlab
from simwin.testing import Lab, fleet_run, make_lab

pytestmark = pytest.mark.slow

CERT = Path(__file__).resolve().parents[2] / "files" / "demo-lab-root-ca.crt"


def run(lab: Lab, playbook: str, variables: dict, *extra: str) -> tuple[int, str]:
    rc, out = fleet_run(lab, playbook, variables, *extra)[:2]
    return rc, out


def rows(lab: Lab, folder: str = "reports/latest") -> dict:
    data = json.loads((lab.dir / folder / "lab_sim.json").read_text())
    return {row["host"]: row for row in data["hosts"]}


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    return make_lab(tmp_path_factory.mktemp("admin"), "reference", "pro33")


def test_bad_values_stop_every_host_before_any_change_naming_each_public_variable(lab: Lab) -> None:
    bad = {
        "startup_bridge_scope": "everyone",
        "miniconda_remote_max_retries": "lots",
        "miniconda_stat": "absent",
    }
    rc, _out = run(lab, "site.yml", bad)
    assert rc != 0
    for host in lab.hosts:
        error = rows(lab)[host]["error"]
        assert "startup_bridge_scope must be one of: machine, user, got: everyone" in error
        assert "miniconda_remote_max_retries" in error
        assert "did you mean miniconda_state?" in error
        assert [e for c in lab.calls(host) for e in c.get("effects") or []] == []


def test_plan_exits_non_zero_when_a_host_cannot_be_planned(lab: Lab) -> None:
    rc, out = run(
        lab,
        "playbooks/plan.yml",
        {"startup_bridge_scope": "everyone"},
    )
    assert rc != 0, out
    assert "cannot be planned" in out
    assert all(row["status"] == "failed" for row in rows(lab, "reports/plan").values())


def test_unreachable_is_not_failed_and_the_retry_hint_repeats_the_run(lab: Lab) -> None:
    unreachable, failed = lab.hosts
    with lab.edit(unreachable) as host:
        host.state["faults"] = {
            "drop_connection_after": {"module": "ansible.windows.win_package", "times": 1}
        }
    with lab.edit(failed) as host:
        host.state["faults"] = {
            "module_fails": [
                {"module": "ansible.windows.win_command", "argv_contains": "clone", "msg": "boom"}
            ]
        }
    rc, out = run(lab, "site.yml", {}, "--tags", "miniconda,arcgis_env")
    assert rc != 0
    report = rows(lab)
    assert report[unreachable]["status"] == "unreachable" and "unreachable" in report[unreachable]["error"]
    assert report[failed]["status"] == "failed" and "boom" in report[failed]["error"]
    assert "[fleet] lab_sim: 2/2 hosts done, 1 failed, 1 unreachable" in out
    assert "[fleet] lab_sim: 1 failed, 1 unreachable" in out
    hint = next(line for line in out.splitlines() if "retry only the failed hosts" in line)
    words = shlex.split(hint.split(": ", 1)[1])
    assert words[:2] == ["ansible-playbook", "site.yml"]
    assert words[words.index("-i") + 1] == str(lab.dir / "inventory")
    assert sorted(words[words.index("--tags") + 1].split(",")) == ["arcgis_env", "miniconda"]
    assert words[-2] == "--limit" and Path(words[-1][1:]).read_text().split() == sorted(lab.hosts)


def test_a_host_that_keeps_a_task_waiting_is_named_while_it_waits(tmp_path: Path) -> None:
    lab = make_lab(tmp_path, "pro33")
    with lab.edit() as host:
        host.state["faults"] = {
            "delay": {"module": "ansible.windows.win_powershell", "seconds": 2.5, "times": 1}
        }
    env = simlab.environment(lab.dir)
    env["ARCGIS_FLEET_WAIT_INTERVAL"] = "1"
    proc = subprocess.run(
        simlab.command_line(lab.dir, ["ansible-playbook", "playbooks/probe.yml"]),
        env=env,
        cwd=simlab.REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout
    task = "Find every ArcGIS install and measure its Python"
    assert f"[fleet] still waiting on 1 host(s) for '{task}': {lab.hosts[0]}" in proc.stdout


def test_uninstall_asks_first_and_removes_nothing_unconfirmed(lab: Lab) -> None:
    """No one to answer the prompt (no terminal) and no -e fleet_confirm=yes: nothing is removed."""
    rc, out = run(lab, "playbooks/uninstall.yml", {})
    assert rc != 0, out
    assert "TASK [Ask before removing anything" in out and "pass -e fleet_confirm=yes" in out, out
    for host in lab.hosts:
        assert [c for c in lab.calls(host) if c.get("kind") == "module"] == [], "the uninstall reached a host"
