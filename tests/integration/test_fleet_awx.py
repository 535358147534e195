"""The fleet from AWX/AAP (issue 26 item 6), through ansible-runner (AWX's engine) with AWX's job layout,
on the simulated lab.

What AWX does for each job, and this test does the same way:
- it copies the project into a fresh private data folder per job and throws it away afterwards
  (awx/main/tasks/jobs.py ``BaseTask.run``: ``private_data_dir``/project), and runs there;
- it writes the inventory as an executable script printing JSON (``write_inventory_file``), sliced for a
  sliced job: hosts ordered by name, every ``slice_count``-th from ``slice_number - 1``
  (awx/main/models/inventory.py ``get_script_data``/``get_sliced_hosts``);
- it sets ``JOB_ID``, ``INVENTORY_ID``, ``PROJECT_REVISION``, ``ANSIBLE_RETRY_FILES_ENABLED=False``,
  ``MAX_EVENT_RES`` and ``AWX_HOST`` in the environment (``RunJob.build_env``), and ``awx_job_id``,
  ``awx_workflow_job_id`` (the slices of a sliced job share it) and their ``tower_*`` twins as extra
  variables (awx/main/models/unified_jobs.py ``awx_meta_vars``);
- it calls ``ansible_runner.interface.run`` with ``fact_cache_type='jsonfile'`` when the template's
  Enable Fact Storage is on, else ``''`` (``BaseTask.run``); runner then points ``ANSIBLE_CACHE_PLUGIN`` at
  jsonfile in the job's artifacts folder (ansible_runner/config/_base.py).
Cited from ansible/awx at e21dd0a (2024-10-23) and ansible-runner 2.4.3.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_report as fr
from simwin import lab as simlab
from simwin.testing import DEMO_CA, Lab, make_lab

pytestmark = pytest.mark.slow

AWX_HOST = "https://awx.example.org"
# ansible_runner.interface.run as AWX calls it (its parameters come from a JSON file).
DRIVER = (
    "import json, sys, ansible_runner\n"
    "params = json.load(open(sys.argv[1]))\n"
    "result = ansible_runner.interface.run(**params)\n"
    "sys.exit(0 if result.rc is not None else 3)\n"
)
# Names the controller's own environment must not lend a job: AWX sets only what build_env sets.
NOT_FROM_AWX = (
    "ANSIBLE_CONFIG",
    "ARCGIS_FLEET_STATE_DIR",
    "ANSIBLE_CACHE_PLUGIN",
    "ANSIBLE_CACHE_PLUGIN_CONNECTION",
)


def awx_inventory(lab: Lab, slice_number: int = 1, slice_count: int = 1, hostvars: dict | None = None) -> str:
    """The lab's inventory as AWX's inventory script prints it, sliced as AWX slices it."""
    proc = simlab.run(lab.dir, ["ansible-inventory", "--list"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    names = sorted(data["_meta"]["hostvars"])
    kept = set(names[slice_number - 1 :: slice_count]) if slice_count > 1 else set(names)
    for group in data.values():
        if isinstance(group, dict) and "hosts" in group:
            group["hosts"] = [h for h in group["hosts"] if h in kept]
    data["_meta"]["hostvars"] = {h: v for h, v in data["_meta"]["hostvars"].items() if h in kept}
    for host, extra in (hostvars or {}).items():
        if host in kept:
            data["_meta"]["hostvars"][host].update(extra)
    return f"#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint({json.dumps(data)!r})\n"


class Job:
    def __init__(self, base: Path, job_id: int) -> None:
        self.id = job_id
        self.dir = base / f"awx_{job_id}"
        self.artifacts = self.dir / "artifacts" / str(job_id)

    @property
    def stdout(self) -> str:
        path = self.artifacts / "stdout"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    @property
    def rc(self) -> int:
        return int((self.artifacts / "rc").read_text())

    def artifact_data(self) -> dict[str, Any]:
        """What AWX stores as the job's artifacts: the stats event's artifact_data (set_stats, run-wide)."""
        for path in sorted((self.artifacts / "job_events").glob("*.json")):
            event = json.loads(path.read_text())
            if event.get("event") == "playbook_on_stats":
                return event["event_data"].get("artifact_data") or {}
        raise AssertionError(f"no playbook_on_stats event in job {self.id}:\n{self.stdout[-3000:]}")


def launch(
    lab: Lab,
    base: Path,
    job_id: int,
    playbook: str,
    *,
    extravars: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    inventory: str | None = None,
    workflow_job_id: int | None = None,
    fact_storage: bool = False,
) -> tuple[Job, subprocess.Popen]:
    """Start one AWX job: a fresh copy of the project, AWX's inventory script, environment and extra vars."""
    job = Job(base, job_id)
    shutil.copytree(
        simlab.REPO,
        job.dir / "project",
        symlinks=True,
        ignore=shutil.ignore_patterns(".git", ".venv", ".cache", "reports", "__pycache__", ".pytest_cache"),
    )
    script = job.dir / "inventory" / "hosts"
    script.parent.mkdir(parents=True)
    script.write_text(inventory or awx_inventory(lab))
    script.chmod(0o700)
    lab_env = simlab.environment(lab.dir)
    envvars = {
        "JOB_ID": str(job_id),
        "INVENTORY_ID": "1",
        "PROJECT_REVISION": "0" * 40,
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "MAX_EVENT_RES": "700000",
        "AWX_HOST": AWX_HOST,
        # The simulated workstations' connection (what an EE's WinRM settings are to a real lab).
        "ANSIBLE_CONNECTION_PLUGINS": lab_env["ANSIBLE_CONNECTION_PLUGINS"],
        "ANSIBLE_HOST_KEY_CHECKING": "false",
        "ANSIBLE_GATHERING": "explicit",
        **(env or {}),
    }
    meta: dict[str, Any] = {"awx_job_id": job_id, "tower_job_id": job_id, "awx_job_launch_type": "manual"}
    if workflow_job_id is not None:
        meta.update(awx_workflow_job_id=workflow_job_id, tower_workflow_job_id=workflow_job_id)
    params = {
        "ident": str(job_id),
        "private_data_dir": str(job.dir),
        "playbook": playbook,
        "inventory": str(script),
        "envvars": envvars,
        "extravars": {"doi_cert_certificates": [{"path": str(DEMO_CA)}], **(extravars or {}), **meta},
        "fact_cache_type": "jsonfile" if fact_storage else "",
        "quiet": True,
    }
    (base / f"params_{job_id}.json").write_text(json.dumps(params))
    clean = {k: v for k, v in os.environ.items() if k not in NOT_FROM_AWX}
    clean["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{clean.get('PATH', '')}"
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(base / f"params_{job_id}.json")],
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return job, proc


def run_job(lab: Lab, base: Path, job_id: int, playbook: str, **kwargs: Any) -> Job:
    job, proc = launch(lab, base, job_id, playbook, **kwargs)
    out, _ = proc.communicate(timeout=580)
    assert proc.returncode == 0, out
    return job


def lab_rows(folder: Path, name: str = "lab_sim.json") -> dict[str, dict[str, Any]]:
    return {r["host"]: r for r in json.loads((folder / name).read_text())["hosts"]}


def test_two_jobs_in_fresh_project_copies_share_the_fleet_state(tmp_path: Path) -> None:
    lab = make_lab(tmp_path / "lab", "pro33", per=2)
    state = tmp_path / "persistent-state"  # a persistent volume mounted into the execution environment
    base = tmp_path / "awx"

    # Job 1: site.yml with the state folder as an extra variable (the job template's).
    first = run_job(lab, base, 1, "site.yml", extravars={"fleet_state_dir": str(state)})
    assert first.rc == 0, first.stdout[-4000:]
    facts = sorted(p.name for p in (state / ".cache" / "facts").iterdir())
    assert all(any(name.endswith(h) for name in facts) for h in lab.hosts), facts
    rows = lab_rows(state / "reports" / "latest")
    assert sorted(rows) == sorted(lab.hosts) and {r["status"] for r in rows.values()} == {"ok"}
    assert all(rows[h]["changes"] for h in lab.hosts), "a first run changes every host"
    assert (
        not (first.dir / "project" / ".cache").exists() and not (first.dir / "project" / "reports").exists()
    )
    assert not (state / ".cache" / "run.lock").exists(), "the job left its run lock"
    # set_stats reaches the job's artifacts (AWX stores the stats event's artifact_data).
    artifacts = first.artifact_data()["fleet_report"]
    assert sorted(artifacts) == sorted(lab.hosts)
    published = [f"{c['role']}: {c['action']} {c['target']}" for c in artifacts[lab.hosts[0]]["planned"]]
    assert published == rows[lab.hosts[0]]["changes"]

    # Job 2, another fresh copy: plan.yml with the state folder from the environment (a credential's injector)
    # plans from job 1's observations, which it can only have found in the state folder.
    second = run_job(lab, base, 2, "playbooks/plan.yml", env={"ARCGIS_FLEET_STATE_DIR": str(state)})
    assert second.rc == 0, second.stdout[-4000:]
    plan = lab_rows(state / "reports" / "plan")
    assert {plan[h]["source"] for h in lab.hosts} == {"probe"}, plan
    # site.yml caches what observe read before its apply: the plan is job 1's own change list.
    assert all(len(plan[h]["changes"]) == len(rows[h]["changes"]) for h in lab.hosts), (plan, rows)

    # Job 3: site.yml again sees job 1's report (the previous run's module calls) and changes nothing.
    third = run_job(lab, base, 3, "site.yml", env={"ARCGIS_FLEET_STATE_DIR": str(state)})
    assert third.rc == 0, third.stdout[-4000:]
    again = lab_rows(state / "reports" / "latest")
    assert {h: again[h]["module_calls_previous"] for h in lab.hosts} == {
        h: rows[h]["module_calls"] for h in lab.hosts
    }
    assert all(not again[h]["changes"] for h in lab.hosts)
    assert len(fr.runs(state / "reports")) == 2


def test_without_a_state_folder_a_job_writes_into_the_copy_awx_throws_away(tmp_path: Path) -> None:
    """The old behaviour the state folder replaces, and AWX's fact storage: said, with the fix."""
    lab = make_lab(tmp_path / "lab", "pro33")
    base = tmp_path / "awx"
    job = run_job(lab, base, 7, "playbooks/probe.yml")
    assert job.rc == 0, job.stdout[-3000:]
    assert any((job.dir / "project" / ".cache" / "facts").iterdir())
    # Enable Fact Storage on: the fact cache is the job's own folder, and plan.yml says why that cannot work.
    state = tmp_path / "state"
    stored = run_job(
        lab, base, 8, "playbooks/plan.yml", fact_storage=True, extravars={"fleet_state_dir": str(state)}
    )
    text = " ".join(stored.stdout.split())
    assert "Enable Fact Storage on" in text and "ansible/ansible#85874" in text, stored.stdout[-3000:]
    assert "turn Enable Fact Storage off" in text and str(state / ".cache" / "facts") in text


def test_two_slices_of_a_sliced_job_share_the_run_lock_and_write_one_report(tmp_path: Path) -> None:
    lab = make_lab(tmp_path / "lab", "pro33", per=4)
    state = tmp_path / "state"
    base = tmp_path / "awx"
    names = sorted(lab.hosts)
    bad = names[1]  # in slice 2: a bad input fails it in the plan, so slice 2 has a failed host
    jobs = [
        launch(
            lab,
            base,
            30 + n,
            "site.yml",
            extravars={"fleet_state_dir": str(state)},
            inventory=awx_inventory(lab, n, 2, {bad: {"startup_bridge_scope": "everyone"}}),
            workflow_job_id=30,
        )
        for n in (1, 2)
    ]
    for _job, proc in jobs:  # both slices run at once, as AWX starts a sliced job's nodes together
        out, _ = proc.communicate(timeout=580)
        assert proc.returncode == 0, out
    (one, _), (two, _) = jobs
    assert one.rc == 0, one.stdout[-4000:]
    assert two.rc != 0, two.stdout[-4000:]
    assert "another run of this fleet state" not in one.stdout + two.stdout
    folders = fr.runs(state / "reports")
    assert len(folders) == 1, [f.name for f in folders]  # one fleet-wide report of the sliced job
    assert fr.run_key_of(folders[0]) == "awx-workflow-30"
    rows = lab_rows(folders[0])
    assert sorted(rows) == names
    assert rows[bad]["status"] == "failed" and "startup_bridge_scope" in rows[bad]["error"]
    assert rows[names[0]]["status"] == rows[names[2]]["status"] == "ok"  # slice 1
    # Slice 2's other host: its batch went over max_fail_percentage (1 of 2 failed), so Ansible stopped it.
    assert rows[names[3]]["status"] == "stopped"
    assert (folders[0] / "failed_hosts.txt").read_text().split() == [bad, names[3]]
    assert sorted(json.loads((folders[0] / "module_calls.json").read_text())) == names
    # Slice 2's play ended at max_fail_percentage, before its release task: the callback released it.
    assert not (state / ".cache" / "run.lock").exists()
    # The retry hint is AWX's relaunch, not a command line with the job's private paths.
    hint = " ".join(two.stdout.split())
    assert "relaunch AWX job 32 on its failed hosts: Relaunch > Failed hosts" in hint, two.stdout[-3000:]
    assert f"POST {AWX_HOST}/api/v2/jobs/32/relaunch/" in hint and "--limit @" not in hint
    # A stopped host is no failed host to AWX (JobHostSummary.failed: failures or unreachable): named apart.
    stopped = (
        "1 host(s) stopped or not run are not failed hosts to AWX: "
        f"launch the template with Limit: {names[3]}"
    )
    assert stopped in hint
