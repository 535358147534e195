"""Windows facts the plan must respect, on simulated workstations (tests/simwin): programs running from a
prefix hold its files (the plan refuses the host before any change), and WinRM's shell memory quota (the
plan warns before an on-host solve). Real ansible-playbook runs; only the hosts' answers are simulated."""

from __future__ import annotations

from pathlib import Path

import pytest
from simwin import host as H
from simwin.testing import Lab, fleet_run, make_lab

pytestmark = pytest.mark.slow


def run(lab: Lab, playbook: str, *extra: str) -> tuple[int, str]:
    rc, out = fleet_run(lab, playbook, None, *extra)[:2]
    return rc, out


def changed_anything(lab: Lab) -> bool:
    return any(c.get("effects") for c in lab.calls() if c.get("kind") == "module")


def test_a_program_running_from_an_env_stops_the_host_before_any_change(tmp_path: Path) -> None:
    lab = make_lab(tmp_path, "desktop1041")
    rc, out = run(lab, "site.yml")
    assert rc == 0, out
    prefix = "C:\\Miniconda2\\envs\\arc1041"
    with lab.edit() as host:
        assert host.is_dir(prefix)
        host.state["processes"] = [{"name": "pythonw.exe", "pid": 4242, "image": prefix + "\\pythonw.exe"}]
    rc, out = run(lab, "playbooks/uninstall.yml", "-e", "fleet_confirm=yes")
    assert rc != 0
    assert f"{prefix} is in use by pythonw.exe (pid 4242" in out and "nothing is changed on this host" in out
    assert not changed_anything(lab), "the refused host was changed"
    with lab.edit() as host:
        assert host.is_dir(prefix)
        host.state["processes"] = []  # the student closed Spyder
    rc, out = run(lab, "playbooks/uninstall.yml", "-e", "fleet_confirm=yes")
    assert rc == 0, out
    assert not lab.host().is_dir(prefix)


@pytest.mark.parametrize(("quota", "plugin_quota", "warned"), [(1024, 4096, True), (4096, 1024, False)])
def test_a_small_winrm_memory_quota_is_named_before_an_on_host_solve(
    tmp_path, quota, plugin_quota, warned
) -> None:
    """The winrm connection (simwin imitates it) runs in a winrs shell: its Shell quota is the one that
    applies and the one the fix names; the PowerShell plugin's quota (psrp's) does not matter here."""
    lab = make_lab(tmp_path, "pro33")
    with lab.edit() as host:
        host.state["session"]["max_memory_mb"] = quota
        host.state["session"]["plugin_max_memory_mb"] = plugin_quota
    rc, out = run(lab, "site.yml", "--check")
    assert rc == 0, out
    flat = " ".join(out.split())
    assert ("MaxMemoryPerShellMB is 1024; conda solves on the host" in flat) is warned, out
    if warned:
        assert "Set-Item WSMan:\\localhost\\Shell\\MaxMemoryPerShellMB 2048" in flat
    assert "Plugin\\Microsoft.PowerShell" not in flat


def test_lab_clones_are_listed_for_every_account_by_the_system_condarc(tmp_path: Path) -> None:
    """The clone lives outside any user's profile; conda finds named envs through envs_dirs, and every
    account's conda reads C:\\ProgramData\\conda\\condarc.d (conda/conda#8272)."""
    lab = make_lab(tmp_path, "pro33")
    rc, out = run(lab, "site.yml")
    assert rc == 0, out
    path = "C:\\ProgramData\\conda\\condarc.d\\arcgis_env.yml"
    host = lab.host()
    text = host.node_bytes(host.node(path)).decode()
    # Each account's own envs folder first (a student's `conda create -n` lands in their profile).
    assert "envs_dirs:\n  - '~\\.conda\\envs'\n  - 'C:\\ProgramData\\arcgis-conda\\envs'\n" in text
    assert host.is_dir("C:\\ProgramData\\arcgis-conda\\envs\\arcpro33\\conda-meta")
    student = host.principal("student1")
    node = host.node(path)
    assert host.allowed(node, student, H.READ), "students' conda must read it"
    assert not host.allowed(node, student, H.WRITE_DATA), "a student could point every account's conda away"
    rc, out = run(lab, "playbooks/uninstall.yml", "-e", "fleet_confirm=yes")
    assert rc == 0, out
    assert lab.host().node(path) is None and lab.host().node("C:\\ProgramData\\conda") is None
