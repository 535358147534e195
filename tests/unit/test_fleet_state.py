"""Where the fleet keeps its state, AWX detection, and the run lock an AWX job's slices share (issue 26)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_lock as fl
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_plan as fp
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_state as fs


def test_the_state_folder_is_the_variable_else_the_environment_else_the_project(tmp_path: Path) -> None:
    cfg = str(tmp_path / "project" / "ansible.cfg")
    env = {fs.ENV: "/srv/fleet-env"}
    assert fs.state_dir("/srv/fleet-var", cfg, env) == Path("/srv/fleet-var")
    assert fs.state_dir("", cfg, env) == Path("/srv/fleet-env")
    assert fs.state_dir(None, cfg, {}) == tmp_path / "project"
    assert fs.state_dir("state", cfg, {}) == tmp_path / "project" / "state"  # relative: to the project
    state = Path("/srv/s")
    assert fs.facts_dir(state) == Path("/srv/s/.cache/facts")
    assert fs.locks_dir(state) == Path("/srv/s/.cache/locks")
    assert fs.solver_dir(state) == Path("/srv/s/.cache/rattler")
    assert fs.run_lock(state) == Path("/srv/s/.cache/run.lock")
    assert fs.reports_dir(state) == Path("/srv/s/reports")


def test_an_awx_job_is_known_from_awxs_environment_and_extra_variables() -> None:
    assert fs.awx_job({}, {}) is None
    assert fs.awx_job({}, {"JOB_ID": "5"}) is None  # JOB_ID alone is any CI's variable
    job = fs.awx_job(
        {"awx_job_id": 12, "awx_workflow_job_id": 10}, {"JOB_ID": "12", "AWX_HOST": "https://awx/"}
    )
    assert job is not None and job.run_key == "awx-workflow-10"
    hint = job.relaunch_hint(["pc2"])
    assert (
        "Relaunch > Failed hosts" in hint
        and 'POST https://awx/api/v2/jobs/12/relaunch/ with {"hosts": "failed"}' in hint
    )
    assert "each failed slice of workflow job 10" in hint and "Limit: pc2" in hint
    single = fs.awx_job({"tower_job_id": 3}, {})
    assert single is not None and single.run_key == "awx-job-3" and "POST" not in single.relaunch_hint([])


def test_the_fact_cache_must_follow_the_state_folder() -> None:
    state, cli = Path("/srv/state"), Path("/proj")
    error, _ = fs.fact_cache_problem("arcgis_conda.fleet.fleet_facts", None, state, cli, None)
    assert "set up before Ansible reads the inventory" in error and "-e fleet_state_dir=/srv/state" in error
    assert fs.fact_cache_problem("arcgis_conda.fleet.fleet_facts", None, state, state, None) == ("", "")
    awx = fs.awx_job({"awx_job_id": 1}, {})
    _, warning = fs.fact_cache_problem("jsonfile", "/runner/artifacts/1/fact_cache", state, state, awx)
    assert "Enable Fact Storage on" in warning and "ansible/ansible#85874" in warning
    assert fs.fact_cache_problem("jsonfile", "/srv/state/.cache/facts", state, state, awx) == ("", "")


def test_a_replaced_folder_variable_names_the_state_folder() -> None:
    errors = fp.unknown_variable_errors(
        {"arcgis_env_lock_dir": "/x"}, {"fleet_state_dir"}, [], ("fleet_", "arcgis_env_")
    )
    assert errors == [
        "arcgis_env_lock_dir = '/x' was replaced in 1.0.0 by fleet_state_dir (locks in "
        "<state>/.cache/locks). Fix: remove it and give the state folder with -e "
        "fleet_state_dir=<folder> or ARCGIS_FLEET_STATE_DIR"
    ]


@pytest.fixture
def other_process():
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def test_slices_of_one_run_share_the_lock_and_the_last_one_out_removes_it(
    tmp_path: Path, other_process
) -> None:
    path = tmp_path / "run.lock"
    first = fl.me(other_process.pid, "ansible-playbook site.yml (AWX job 21)", "awx-workflow-20")
    second = fl.me(os.getpid(), "ansible-playbook site.yml (AWX job 22)", "awx-workflow-20")
    assert fl.acquire(path, first) == ""
    assert fl.acquire(path, second) == ""  # the other slice joins
    assert [h.pid for h in fl.read_holders(path)] == [other_process.pid, os.getpid()]
    # Another run (another job, or a CLI run) is refused while any slice holds it.
    with pytest.raises(fl.LockHeld, match="awx-workflow-20"):
        fl.acquire(path, fl.me(os.getppid(), "ansible-playbook uninstall.yml (AWX job 30)", "awx-job-30"))
    assert fl.release(path, other_process.pid) and path.exists()  # the first slice is done, the second runs
    assert [h.pid for h in fl.read_holders(path)] == [os.getpid()]
    assert fl.release(path, os.getpid()) and not path.exists()
    assert not fl.release(path, os.getpid())


def test_a_lock_of_another_run_is_not_joined(tmp_path: Path, other_process) -> None:
    path = tmp_path / "run.lock"
    assert fl.acquire(path, fl.me(other_process.pid, "site.yml", "awx-workflow-1")) == ""
    with pytest.raises(fl.LockHeld):
        fl.acquire(path, fl.me(os.getpid(), "site.yml", "awx-workflow-2"))
    with pytest.raises(fl.LockHeld):
        fl.acquire(path, fl.me(os.getpid(), "site.yml"))  # a CLI run has no run key
    assert json.loads(path.read_text())["members"] == []
