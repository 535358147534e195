"""site.yml's canary rollout (fleet_canary) on a simulated two-lab fleet: each lab's first workstation runs
the selftest and the whole flow first; a failed canary holds back its own lab only, the report and the console
name it, and the other lab goes on. Real ansible-playbook runs; only the hosts' answers are simulated."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from simwin.testing import Lab, fleet_run, make_lab

pytestmark = pytest.mark.slow

# Every selftest fact holds on the simulated workstation: nothing needs accepting.
ACCEPTED: list[str] = []


def two_labs(tmp_path: Path) -> Lab:
    """lab_a: two Pro 3.3 workstations; lab_b: two without ArcGIS (inventory order: -01 first)."""
    lab = make_lab(tmp_path, "pro33", "no_arcgis", per=2)
    inventory = lab.dir / "inventory" / "hosts.yml"
    data = yaml.safe_load(inventory.read_text())
    labs = data["all"]["children"]["windows_workstations"]["children"]
    hosts = labs.pop("lab_sim")["hosts"]
    labs["lab_a"] = {"hosts": {k: v for k, v in hosts.items() if "pro33" in k}}
    labs["lab_b"] = {"hosts": {k: v for k, v in hosts.items() if "no-arcgis" in k}}
    inventory.write_text(yaml.safe_dump(data, sort_keys=False))
    return lab


def rows(lab: Lab) -> dict[str, dict]:
    out = {}
    for name in ("lab_a", "lab_b"):
        report = lab.dir / "reports" / "latest" / f"{name}.json"
        out.update({r["host"]: r for r in yaml.safe_load(report.read_text())["hosts"]})
    return out


def selftested(lab: Lab, host: str) -> bool:
    return (lab.dir / "reports" / "selftest" / f"{host}.json").exists()


def test_a_failed_canary_holds_back_its_lab_and_the_other_lab_goes_on(tmp_path: Path) -> None:
    lab = two_labs(tmp_path)
    with lab.edit("sim-pro33-01") as host:
        host.store().clear()  # the canary of lab_a is a stripped image: its Root store lacks Microsoft's root
    variables = {"fleet_canary": True, "fleet_selftest_accepted": ACCEPTED}
    rc, out, _ = fleet_run(lab, "site.yml", variables)
    assert rc != 0
    got = rows(lab)
    assert got["sim-pro33-01"]["status"] == "failed" and "store.root" in got["sim-pro33-01"]["error"]
    assert got["sim-pro33-02"]["status"] == "not run"
    assert got["sim-pro33-02"]["error"].startswith("held back: sim-pro33-01, the canary of lab_a, failed")
    assert not lab.calls("sim-pro33-02"), "a held-back workstation was contacted"
    # The canary failed its selftest before the flow changed it.
    assert not lab.host("sim-pro33-01").is_dir("C:\\ProgramData\\conda")
    # lab_b: its canary ran the selftest and the flow, then the rest followed.
    assert selftested(lab, "sim-no-arcgis-01") and not selftested(lab, "sim-no-arcgis-02")
    assert got["sim-no-arcgis-01"]["outcome"] == got["sim-no-arcgis-02"]["outcome"] == "nothing managed"
    flat = " ".join(out.split())
    assert (
        "lab_a: its canary sim-pro33-01 failed, so 1 other workstation(s) of the lab were held back" in flat
    )
    assert "lab_b: its canary" not in flat
    assert "--limit @" in flat  # the retry includes the held-back workstation
    retry = next((lab.dir / "reports").glob("*-site/failed_hosts.txt")).read_text().split()
    assert sorted(retry) == ["sim-pro33-01", "sim-pro33-02"]


def test_passing_canaries_let_every_lab_follow_and_only_canaries_run_the_selftest(tmp_path: Path) -> None:
    lab = two_labs(tmp_path)
    rc, out, _ = fleet_run(lab, "site.yml", {"fleet_canary": True, "fleet_selftest_accepted": ACCEPTED})
    assert rc == 0, out
    got = rows(lab)
    assert got["sim-pro33-01"]["outcome"] == got["sim-pro33-02"]["outcome"] == "changed"
    assert [h for h in lab.hosts if selftested(lab, h)] == ["sim-pro33-01", "sim-no-arcgis-01"]
    # The rest of a lab costs what a run without canary costs; the canary adds the selftest's calls.
    assert got["sim-pro33-02"]["module_calls"] == 13
    assert got["sim-pro33-01"]["module_calls"] > 13
    rc, out, _ = fleet_run(
        lab, "site.yml", {"fleet_canary": True, "fleet_selftest_accepted": ACCEPTED}, "--check"
    )
    assert rc == 0, out
    assert rows(lab)["sim-pro33-02"]["outcome"] == "ok"  # converged; check mode skips the selftest


def test_without_fleet_canary_there_is_no_canary_and_a_bad_value_is_refused(tmp_path: Path) -> None:
    lab = two_labs(tmp_path)
    rc, out, _ = fleet_run(lab, "site.yml", {"fleet_canary": "yes"})
    assert rc != 0
    assert 'fleet_canary = "yes" is not true or false' in " ".join(out.split())
    assert not any(lab.calls(h) for h in lab.hosts), "a host was contacted before the input was refused"
    rc, out, _ = fleet_run(lab, "site.yml")
    assert rc == 0, out
    assert not any(selftested(lab, h) for h in lab.hosts)
    assert {r["module_calls"] for h, r in rows(lab).items() if "pro33" in h} == {13}
