"""A run that stops half-way leaves a true picture (issue 27 item 6 of "Why"): its report folder is marked in
progress from the start and ``reports/latest`` points at it, so a killed controller never leaves the previous
report looking current; the next run says that run was interrupted. doi_cert writes its record first, so a
run stopped after it made its folders still names them (before, the next run took them for pre-existing
folders and ``state=absent`` left them behind).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from simwin import lab as simlab
from simwin.testing import fleet_run, make_lab

pytestmark = pytest.mark.slow

MANIFEST = "C:\\ProgramData\\arcgis-conda\\doi_cert-state.json"
CERT_DIR = "C:\\ProgramData\\arcgis-conda\\certs"


def state_of(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


def test_a_killed_run_is_marked_in_progress_and_the_next_run_says_it_was_interrupted(tmp_path: Path) -> None:
    lab = make_lab(tmp_path, "pro33")
    reports = lab.dir / "reports"
    rc, out, _rows = fleet_run(lab, "site.yml")
    assert rc == 0, out[-3000:]
    finished = (reports / "latest").resolve()
    assert state_of(finished)["status"] == "complete" and (finished / "lab_sim.json").exists()
    # The next run hangs in observe (a host that answers after a minute), and its controller is killed.
    hang = {"module": "ansible.windows.win_powershell", "seconds": 120, "times": 1}
    with lab.edit() as h:
        h.state["faults"] = {"delay": hang}
    extra = lab.dir / "extra.json"  # fleet_run's, with the demo CA
    command = simlab.command_line(lab.dir, ["ansible-playbook", "site.yml", "-e", f"@{extra}"])
    proc = subprocess.Popen(
        command,
        env=simlab.environment(lab.dir),
        cwd=simlab.REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            latest = (reports / "latest").resolve()
            if latest != finished and (latest / "run.json").exists():
                break
            time.sleep(0.5)
        else:
            pytest.fail("the run never marked its report folder in progress")
        time.sleep(3)  # well inside the observe call
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the controller and its workers, as a crash or kill -9 would
        proc.wait()
    with lab.edit() as h:
        h.state["faults"] = {}  # the killed worker never saved the host, nor consumed its fault
    killed = (reports / "latest").resolve()
    assert killed != finished, "latest still shows the earlier, finished run as if it were current"
    assert state_of(killed)["status"] == "in progress" and state_of(killed)["run"]["pid"] == proc.pid
    assert "Run in progress" in (killed / "index.html").read_text() and not (killed / "lab_sim.json").exists()

    rc, out, rows = fleet_run(lab, "site.yml")
    assert rc == 0, out[-3000:]
    assert f"the run {killed.name}" in out and "did not finish" in out, out[-3000:]
    assert state_of(killed)["status"] == "interrupted"
    assert "Interrupted run" in (killed / "index.html").read_text()
    now = (reports / "latest").resolve()
    assert now not in (killed, finished) and state_of(now)["status"] == "complete"
    assert json.loads((now / "index.json").read_text())["meta"]["interrupted_before"] == killed.name
    assert rows[lab.hosts[0]]["status"] == "ok"
    # Said once: the run after that finds nothing interrupted.
    rc, out, _rows = fleet_run(lab, "site.yml")
    assert rc == 0 and "did not finish" not in out, out[-3000:]


def test_doi_cert_keeps_the_folders_an_interrupted_run_made_in_its_record(tmp_path: Path) -> None:
    lab = make_lab(tmp_path, "pro33")
    with lab.edit() as h:  # the connection drops at the Root-store import, after the certificate files
        h.state["faults"] = {
            "module_fails": [
                {"module": "ansible.windows.win_certificate_store", "times": 1, "msg": "connection reset"}
            ]
        }
    store = {"doi_cert_windows_store": True}
    rc, out, rows = fleet_run(lab, "site.yml", store)
    assert rc != 0 and rows[lab.hosts[0]]["status"] == "failed", out[-3000:]
    host = lab.host()
    assert host.is_dir(CERT_DIR)
    admin = host.principal("svc_fleet")
    record = json.loads(host.read_bytes(MANIFEST, admin))
    assert CERT_DIR.lower() in {d.lower() for d in record["dirs"]}, record

    rc, out, rows = fleet_run(lab, "site.yml", store)  # the next run finishes the job
    assert rc == 0 and rows[lab.hosts[0]]["status"] in ("ok", "changed"), out[-3000:]
    rc, out, _rows = fleet_run(lab, "playbooks/uninstall.yml", {**store, "fleet_confirm": "yes"})
    assert rc == 0, out[-3000:]
    host = lab.host()
    assert not host.exists(CERT_DIR), "state=absent left the folder the interrupted run made"
    assert not host.exists(MANIFEST)
