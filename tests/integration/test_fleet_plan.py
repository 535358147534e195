"""playbooks/plan.yml for real: offline, against the shipped example inventory and a fact cache."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest
from test_fleet_progress import TableParser

PROBED_HOST = "gis101-ws01.lab.example.org"
PROBED_FACTS = {
    "arcgis": [
        {
            "id": "desktop-10.4.1-32",
            "product": "desktop",
            "version": "10.4.1",
            "install_dir": "C:\\Program Files (x86)\\ArcGIS\\Desktop10.4\\",
            "python_exe": "C:\\Python27\\ArcGIS10.4\\python.exe",
            "python_version": "2.7.10",
            "python_major_minor": "2.7",
            "bits": 32,
            "prefix": "C:\\Python27\\ArcGIS10.4",
            "site_packages": ["C:\\Python27\\ArcGIS10.4\\lib\\site-packages"],
            "user_site": "C:\\Users\\u\\AppData\\Roaming\\Python\\Python27\\site-packages",
            "user_site_enabled": True,
            "packages": {"numpy": "1.9.2", "matplotlib": "1.4.3", "scipy": "0.15.1"},
            "pro_conda_root": None,
            "pro_conda_env": None,
            "status": "ok",
            "problems": [],
        }
    ]
}


def run_plan(
    repo_root: Path, tmp_path: Path, *extra: str, licensed: bool = True
) -> tuple[subprocess.CompletedProcess[str], Path]:
    facts_file = tmp_path / "arcgis.json"
    facts_file.write_text(json.dumps(PROBED_FACTS["arcgis"]))
    # Delegating to the workstation reads its connection variables: the example's demo vault password.
    vault_pass = tmp_path / "demo-vault-pass"
    vault_pass.write_text("arcgis-conda-demo\n")
    # The test's own fleet state: its fact cache, locks, solver cache and reports (reports/plan).
    report_dir = tmp_path / "reports" / "plan"
    env = {
        **os.environ,
        "ARCGIS_FLEET_STATE_DIR": str(tmp_path),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
    }
    env.pop("ANSIBLE_CACHE_PLUGIN_CONNECTION", None)
    seed_args = ["-e", f"probed_host={PROBED_HOST}", "-e", f"facts_file={facts_file}"]
    seed = subprocess.run(
        [
            "ansible-playbook",
            "tests/integration/playbooks/seed_fact_cache.yml",
            *extra,
            *seed_args,
            "--vault-password-file",
            str(vault_pass),
        ],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert seed.returncode == 0, seed.stdout[-2000:] + seed.stderr
    proc = subprocess.run(
        [
            "ansible-playbook",
            "playbooks/plan.yml",
            # The example inventory leaves the licence to the organisation (no default): this test decides.
            *(["-e", "fleet_anaconda_channels=licensed"] if licensed else []),
            *extra,
        ],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc, report_dir


def plan_result(proc: subprocess.CompletedProcess[str]) -> dict:
    """The fleet_plan task's result on localhost, whichever play of plan.yml runs it."""
    run = json.loads(proc.stdout)
    found = [
        task["hosts"]["localhost"]
        for play in run["plays"]
        for task in play["tasks"]
        if "summary" in task["hosts"].get("localhost", {})
    ]
    assert len(found) == 1, proc.stdout[-3000:]
    return found[0]


@pytest.fixture(scope="module")
def example_plan(repo_root, tmp_path_factory):
    proc, report_dir = run_plan(repo_root, tmp_path_factory.mktemp("plan"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    return plan_result(proc), report_dir


@pytest.mark.slow
def test_plan_runs_offline_on_the_example_lab(example_plan):
    result, _ = example_plan
    summary = result["summary"]
    assert summary["hosts"] == 5
    # lab_gis101's unprobed hosts declare Desktop 10.8.1, whose stack the table cannot source: incomplete.
    # The outcomes the reports show (never observed: a first run would change them).
    assert summary["labs"] == {
        "lab_gis101": {"incomplete": 2, "would change": 1},
        "lab_gis102": {"would change": 2},
    }
    assert summary["failed"] == []


@pytest.mark.slow
def test_probed_facts_win_over_declared_releases(example_plan):
    result, _ = example_plan
    rows = {r["host"]: r for r in result["hosts"]}
    probed = rows[PROBED_HOST]
    assert probed["source"] == "probe"
    assert probed["arcgis"] == ["desktop-10.4.1-32 python 2.7 numpy 1.9.2 matplotlib 1.4.3 scipy 0.15.1"]
    assert probed["miniconda"][0].startswith("Miniconda2 x86 ")
    assert not any("Miniconda3" in line for line in probed["miniconda"])
    # arcgis_env plans from miniconda's published installs, as in a real run: the seed's env and pins.
    assert probed["arcgis_env"][0] == (
        "arc1041 (conda, win-32, python 2.7): numpy==1.9.2 matplotlib==1.4.3 scipy==0.15.1"
    )
    # The bridge pairs the probed ArcGIS Python with that env (machine scope: files in site-packages).
    assert probed["startup_bridge"][0] == "scope machine"
    assert any(line.endswith("arcgis_conda_bridge.json") for line in probed["startup_bridge"])
    # Its lab-mate was never probed: the inventory's declared Desktop 10.8.1 + Pro 3.1 are planned.
    declared = rows["gis101-ws02.lab.example.org"]
    assert declared["source"] == "declared"
    assert [a.split()[0] for a in declared["arcgis"]] == ["desktop-10.8.1-32", "pro-3.1-64"]
    assert any(line.startswith("Miniconda3 x64") for line in declared["miniconda"])
    assert any(line.startswith("Miniconda2 x86") for line in declared["miniconda"])
    assert "Demo Lab Root CA" in declared["doi_cert"][0]
    # No env for the 10.8.1 it declares: the host says so and names the fixes; ArcMap's retirement is a note.
    assert declared["status"] == "incomplete"
    assert "numpy, matplotlib, scipy unknown for this release" in declared["error"]
    assert "playbooks/probe.yml --limit gis101-ws02.lab.example.org" in declared["error"]
    assert [line.split()[0] for line in declared["arcgis_env"]][:1] == ["arcpro31"]
    assert declared["notes"][0].startswith("ArcMap (ArcGIS Desktop 10.8.1) is retired")
    assert probed["status"] == "ok" and probed["notes"][0].startswith("ArcMap (ArcGIS Desktop 10.4.1)")
    # lab_gis102 declares Pro 3.3 only.
    assert [a.split()[0] for a in rows["gis102-ws01.lab.example.org"]["arcgis"]] == ["pro-3.3-64"]


@pytest.mark.slow
def test_reports_match_the_plan(example_plan):
    result, report_dir = example_plan
    rows = {r["host"]: r for r in result["hosts"]}
    for lab, hosts in (("lab_gis101", 3), ("lab_gis102", 2)):
        data = json.loads((report_dir / f"{lab}.json").read_text())
        assert data["lab"] == lab and len(data["hosts"]) == hosts
        for row in data["hosts"]:
            assert row == rows[row["host"]]
        with (report_dir / f"{lab}.csv").open(newline="") as fh:
            csv_rows = list(csv.DictReader(fh))
        assert [r["Host"] for r in csv_rows] == [r["host"] for r in data["hosts"]]
        assert [r["Miniconda"] for r in csv_rows] == ["\n".join(r["miniconda"]) for r in data["hosts"]]
        parser = TableParser()
        parser.feed((report_dir / f"{lab}.html").read_text())
        assert parser.external == []
        header, *cells = parser.rows
        assert header[0] == "Host" and "Miniconda" in header
        assert [c[0] for c in cells] == [r["host"] for r in data["hosts"]]


@pytest.mark.slow
def test_a_bad_declaration_fails_its_host_only(repo_root, tmp_path):
    inventory = tmp_path / "hosts.yml"
    demo_ca = repo_root / "files/demo-lab-root-ca.crt"
    inventory.write_text(
        f"all:\n  vars:\n    doi_cert_certificates: [{{path: {demo_ca}}}]\n"
        "  children:\n    windows_workstations:\n      children:\n"
        "        lab_x:\n          hosts:\n"
        "            good: {fleet_arcgis_releases: [{product: pro, version: '3.3'}]}\n"
        "            typo: {fleet_arcgis_releases: [{product: desktop, version: '10.9.9'}]}\n"
        "            bare: {}\n"
        "            stack: {fleet_arcgis_releases: [{product: desktop, version: '10.8.1', numpy: '1.9.3',"
        " matplotlib: '1.5.2', scipy: '0.17.0'}]}\n"
        "            contra: {fleet_arcgis_releases: [{product: pro, version: '3.3', numpy: '1.26.4'}]}\n"
        "            nocert: {fleet_arcgis_releases: [{product: pro, version: '3.3'}],"
        " doi_cert_certificates: []}\n"
    )
    proc, _ = run_plan(repo_root, tmp_path, "-i", str(inventory))
    # The plan exits non-zero when any host cannot be planned, after planning (and reporting) all of them.
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "3 workstation(s) cannot be planned (reasons above" in proc.stdout
    for host in ("contra", "nocert", "typo"):  # each reason on the console, with its host
        assert f"[1 host: {host}] " in proc.stdout
    rows = {r["host"]: r for r in plan_result(proc)["hosts"]}
    assert rows["good"]["status"] == "ok"
    assert rows["typo"]["status"] == "failed"
    assert "typo:" in rows["typo"]["error"] and "10.9.9" in rows["typo"]["error"]
    assert "10.8.1" in rows["typo"]["error"]  # the known releases are listed
    assert rows["bare"]["status"] == "skipped"
    # A declared stack fills what the table cannot source; it may not contradict what Esri publishes.
    assert rows["stack"]["status"] == "ok", rows["stack"]["error"]
    assert rows["stack"]["arcgis_env"][0] == (
        "arc1081 (conda, win-32, python 2.7): numpy==1.9.3 matplotlib==1.5.2 scipy==0.17.0"
    )
    assert rows["contra"]["status"] == "failed"
    assert "numpy 1.26.4 contradicts the release table's 1.24.3" in rows["contra"]["error"]
    assert "Demo Lab Root CA" in rows["good"]["doi_cert"][0]
    assert rows["nocert"]["status"] == "failed"
    assert rows["nocert"]["error"].startswith("nocert: doi_cert_certificates: ")  # host, variable, fix
    assert "Fix: " in rows["nocert"]["error"]


@pytest.mark.slow
def test_plan_locks_each_distinct_stack_once(repo_root, tmp_path):
    from conda_channel import build_channel

    channel = build_channel(tmp_path / "channel")
    lock_dir = tmp_path / ".cache" / "locks"  # the state's, where site.yml reads them
    proc, _ = run_plan(
        repo_root,
        tmp_path,
        "-e",
        json.dumps(
            {
                "arcgis_env_channels": [channel.url],
                "fleet_plan_lock": True,
            }
        ),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    summary = plan_result(proc)["summary"]
    # Only the probed Desktop 10.4.1 host has a plain conda stack (Pro is cloned; 10.8.1's pins are unknown).
    assert summary["distinct_stacks"] == 1
    [(key, outcome)] = summary["locks"].items()
    assert outcome["status"] == "solved"
    assert Path(outcome["path"]) == lock_dir / f"{key}.txt"
    text = (lock_dir / f"{key}.txt").read_text()
    assert "@EXPLICIT" in text
    assert "/win-32/numpy-1.9.2-py27_0.tar.bz2#" in text
    assert "/win-32/matplotlib-1.4.3-" in text and "/win-32/scipy-0.15.1-" in text


@pytest.mark.slow
def test_without_the_licence_choice_the_plan_stops_and_explains_it(repo_root, tmp_path):
    """Issue 25 item 6: fleet_anaconda_channels has no default. The example inventory leaves it to the
    organisation, so plan.yml stops every host, naming the three choices, Anaconda's terms (universities and
    non-profits included, with the pages) and the choices that fit each host: a 32-bit ArcMap only
    licensed/mirror_only, never Miniforge."""
    proc, _ = run_plan(repo_root, tmp_path, licensed=False)
    assert proc.returncode != 0, proc.stdout[-3000:]
    result = plan_result(proc)
    rows = {r["host"]: r for r in result["hosts"]}
    assert len(rows) == 5 and {r["status"] for r in rows.values()} == {"failed"}
    for row in rows.values():
        error = row["error"]
        assert "fleet_anaconda_channels is not set" in error, error
        for choice in ("(1) licensed", "(2) not_licensed", "(3) mirror_only"):
            assert choice in error
        assert "https://www.anaconda.com/pricing/terms-of-service-faqs" in error
        assert "https://www.anaconda.com/legal/terms/academic-non-profit" in error
        assert "accredited university" in error and "non-profit" in error
        # The setting in force is in the report of a host whose plan failed, too.
        assert any(s.startswith("Anaconda licence: not set") for s in row["sources"]), row["sources"]
    probed = rows[PROBED_HOST]["error"]  # Desktop 10.4.1, 32-bit, Python 2.7
    assert "desktop-10.4.1-32): only Anaconda's channels carry its stack" in probed
    assert "licensed or mirror_only (never conda-forge or Miniforge)" in probed
    pro_only = next(r for h, r in rows.items() if h.startswith("gis102"))["error"]  # a declared Pro 3.3
    assert "pro-3.3-64): any of the three" in pro_only and "only Anaconda's channels" not in pro_only
    # The console says it too, once for the hosts that share it.
    message = next(
        t["hosts"]["localhost"]["msg"]
        for p in json.loads(proc.stdout)["plays"]
        for t in p["tasks"]
        if "cannot be planned" in str(t["hosts"].get("localhost", {}).get("msg", ""))
    )
    assert "fleet_anaconda_channels is not set" in message


@pytest.mark.slow
def test_a_declared_release_is_not_reported_broken(example_plan):
    """Issue 25: a Pro planned from the inventory's declared releases was reported "broken (status
    declared)". It is only not observed yet: the bridge column says so, and no warning is raised."""
    result, _ = example_plan
    rows = {r["host"]: r for r in result["hosts"]}
    declared = [r for h, r in rows.items() if r["source"] == "declared"]
    assert declared
    for row in declared:
        assert not [line for line in row["startup_bridge"] if "broken" in line], row["startup_bridge"]
        assert any("declared (fleet_arcgis_releases), not observed yet" in x for x in row["startup_bridge"])
