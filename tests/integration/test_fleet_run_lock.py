"""One run at a time per fleet state (issue 27 item 5): site.yml takes a lock in the state folder before
observing any host. A live holder stops the second run before its first host call, naming that run and how
to break a stale lock; a holder whose process is gone (a killed controller) is broken with a warning.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_lock as fl
from simwin.testing import fleet_run, make_lab

pytestmark = pytest.mark.slow


def holder(pid: int) -> dict:
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "started": fl.process_start(pid),
        "since": "2026-01-05T08:00:00Z",
        "playbook": "ansible-playbook site.yml --limit lab_gis101",
        "user": "other-admin",
    }


def test_a_second_run_stops_before_any_host_call_and_a_dead_runs_lock_is_broken(tmp_path: Path) -> None:
    lab = make_lab(tmp_path, "pro33")
    lock = lab.dir / ".cache" / "run.lock"
    lock.parent.mkdir(parents=True)
    other = subprocess.Popen(["sleep", "300"])
    try:
        lock.write_text(json.dumps(holder(other.pid)))
        rc, out, _rows = fleet_run(lab, "site.yml")
        assert rc != 0
        assert "another run of this fleet state is running" in out, out[-3000:]
        assert f"pid {other.pid}" in out and "--limit lab_gis101" in out and f"rm '{lock}'" in out
        assert [c for c in lab.calls() if c.get("kind") == "module"] == [], "a host was contacted"
        assert json.loads(lock.read_text())["pid"] == other.pid, "the other run's lock was touched"
    finally:
        other.kill()
        other.wait()
    rc, out, rows = fleet_run(lab, "site.yml")
    assert rc == 0, out[-3000:]
    assert "broke a stale run lock" in out and f"pid {other.pid}" in out
    assert rows[lab.hosts[0]]["status"] == "ok"
    assert not lock.exists(), "the run did not release its lock"


def test_the_lock_is_reentrant_for_its_holder_and_only_it_releases(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    mine = fl.me(os.getpid(), "ansible-playbook site.yml")
    assert fl.acquire(path, mine) == ""
    assert fl.acquire(path, mine) == ""  # the next serial batch
    with pytest.raises(fl.LockHeld, match=r"is running: ansible-playbook site.yml \(pid"):
        fl.acquire(path, fl.me(os.getppid(), "ansible-playbook playbooks/uninstall.yml"))
    assert not fl.release(path, os.getppid()) and path.exists()
    assert fl.release(path, os.getpid()) and not path.exists()


def test_atomic_writes_use_unique_temporary_names(tmp_path: Path) -> None:
    """Many writers of one file at once (the old lock writer's one fixed temporary name lost a rename)."""
    target = tmp_path / "key.txt"
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for _ in range(50):
                fl.atomic_write(target, f"writer {n}\n")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_text().startswith("writer ") and list(tmp_path.glob(".*.tmp")) == []


def test_a_state_folder_set_only_in_the_inventory_is_refused_before_any_host_call(tmp_path: Path) -> None:
    """The fact cache is set up before the inventory is read: a fleet_state_dir there would split the state
    (facts in one folder, locks and reports in another), so the run stops and says how to give it."""
    lab = make_lab(tmp_path, "pro33")
    elsewhere = tmp_path / "elsewhere"
    (lab.dir / "inventory" / "group_vars" / "lab_sim.yml").write_text(f"fleet_state_dir: {elsewhere}\n")
    rc, out, _rows = fleet_run(lab, "site.yml")
    assert rc != 0
    text = " ".join(out.split())
    assert f"fleet_state_dir is {elsewhere} for this play but the fact cache follows {lab.dir}" in text, out[
        -3000:
    ]
    assert f"-e fleet_state_dir={elsewhere}" in text and "ARCGIS_FLEET_STATE_DIR" in text
    assert [c for c in lab.calls() if c.get("kind") == "module"] == [], "a host was contacted"
    assert not elsewhere.exists()  # the failed run's report is where the fact cache is
    assert (lab.dir / "reports" / "latest" / "lab_sim.json").exists()
