"""The doi_cert role through a real ansible-playbook: its argument specs, and the controller-side checks
that must stop a run before any Windows host is contacted (the play targets localhost, which has no
PowerShell: reaching the host scan would fail differently, so these failures prove the order)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))
from doi_cert_testca import make_ca, make_server

pytestmark = pytest.mark.slow
SCAN_TASK = "Read the current set-up (read-only) and decide what to write, import and remove"


def play(tmp_path: Path, repo_root: Path, role_vars: dict) -> subprocess.CompletedProcess[str]:
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "doi_cert",
                    "hosts": "all",
                    "gather_facts": False,
                    "roles": [{"role": "doi_cert", **role_vars}],
                }
            ]
        )
    )
    env = dict(os.environ, ANSIBLE_CONFIG=str(repo_root / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(playbook),
        ],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_a_leaf_certificate_stops_the_run_before_the_host_is_read(tmp_path, repo_root):
    leaf = make_server(make_ca())
    (tmp_path / "server.crt").write_bytes(leaf.pem)
    run = play(tmp_path, repo_root, {"doi_cert_certificates": [{"path": str(tmp_path / "server.crt")}]})
    assert run.returncode == 2, run.stdout
    assert "host localhost: certificate file" in run.stdout and "is not a CA certificate" in run.stdout
    assert SCAN_TASK not in run.stdout


def test_the_role_argument_spec_rejects_unknown_choices(tmp_path, repo_root):
    run = play(tmp_path, repo_root, {"doi_cert_ssl_verify": "insecure"})
    assert run.returncode == 2, run.stdout
    assert "doi_cert_ssl_verify" in run.stdout and "insecure" in run.stdout


def test_truststore_with_a_miniconda2_base_stops_before_the_host_is_read(tmp_path, repo_root):
    ca = make_ca()
    (tmp_path / "DOIRootCA.cer").write_bytes(ca.der)
    run = play(
        tmp_path,
        repo_root,
        {
            "doi_cert_certificates": [{"path": str(tmp_path / "DOIRootCA.cer")}],
            "doi_cert_ssl_verify": "truststore",
            "doi_cert_conda_installs": [{"prefix": "C:\\Miniconda2", "python_major_minor": "2.7"}],
        },
    )
    assert run.returncode == 2, run.stdout
    assert "truststore needs conda >= 23.9 on Python >= 3.10" in run.stdout
    assert "win_powershell" not in run.stdout  # the scan never ran
