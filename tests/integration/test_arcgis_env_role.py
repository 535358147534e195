"""The arcgis_env role's controller-side path through real ansible-playbook runs (no Windows host here).

Hosts whose ArcGIS installs all get skipped never reach a Windows module, so the whole role runs on
controller-only hosts: argument validation, the fleet-wide decide step, tags and the published facts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conda_channel import MINICONDA2_X86, STACKS

pytestmark = pytest.mark.slow

PLAYBOOK = """
- name: Run arcgis_env as site.yml does
  hosts: lab
  gather_facts: false
  tasks:
    - name: Give every ArcGIS Python a pinned conda env
      ansible.builtin.import_role:
        name: arcgis_env
      tags: [arcgis_env]

    - name: Write what the role published
      ansible.builtin.copy:
        content: >-
          {{ {'envs': dict(ansible_play_hosts
                           | zip(ansible_play_hosts | map('extract', hostvars, 'arcgis_env_envs'))),
              'channel_base': arcgis_env_channel_base} | to_json }}
        dest: "{{ test_out }}/published.json"
        mode: "0644"
      delegate_to: localhost
      run_once: true
      tags: [arcgis_env]
"""


def run(repo_root: Path, tmp_path: Path, extra_vars: dict, *args: str) -> subprocess.CompletedProcess:
    inventory = {
        "lab": {
            "hosts": {"pc1": {}, "pc2": {}},
            "vars": {
                "ansible_connection": "local",
                "test_out": str(tmp_path),
                "arcgis_env_facts": [STACKS["desktop-10.4.1-32"], STACKS["pro-3.3-64"]],
                "arcgis_env_conda_installs": [MINICONDA2_X86],
                "arcgis_env_lock_dir": str(tmp_path / "locks"),
                "arcgis_env_cache_dir": str(tmp_path / "cache"),
                **extra_vars,
            },
        }
    }
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(repo_root / "ansible.cfg"),
        "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.memory",
        "PATH": f"{repo_root / '.venv' / 'bin'}:{os.environ['PATH']}",
    }
    return subprocess.run(
        [str(repo_root / ".venv" / "bin" / "ansible-playbook"), "-i", "hosts.yml", "play.yml", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_role_runs_end_to_end_with_tags_and_publishes_no_envs_when_all_installs_are_skipped(
    repo_root, tmp_path
):
    done = run(repo_root, tmp_path, {"arcgis_env_products": ["server"]}, "--tags", "arcgis_env")
    assert done.returncode == 0, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert "desktop-10.4.1-32: product desktop is not in arcgis_env_products" in out
    assert "pro-3.3-64: product pro is not in arcgis_env_products" in out
    published = json.loads((tmp_path / "published.json").read_text())
    assert published["envs"] == {"pc1": [], "pc2": []}
    assert published["channel_base"] == "https://repo.anaconda.com/pkgs"
    assert re.search(r"stack once \(controller\)\] \*+ ok: \[pc1\]", out)  # the lock step ran, once


def test_role_argument_spec_rejects_a_bad_choice_before_anything_runs(repo_root, tmp_path):
    done = run(repo_root, tmp_path, {"arcgis_env_pro_mode": "copy"})
    assert done.returncode != 0
    out = " ".join((done.stdout + done.stderr).split())
    assert "arcgis_env_pro_mode" in out and "clone, conda" in out
    assert "Plan every host's envs" not in out
    assert not (tmp_path / "published.json").exists()


def test_role_fails_on_an_extra_that_would_move_a_pin(repo_root, tmp_path):
    done = run(repo_root, tmp_path, {"arcgis_env_extra_packages": ["numpy>=1.11"]})
    assert done.returncode != 0
    out = " ".join((done.stdout + done.stderr).split())
    assert "'numpy>=1.11' would move numpy away from 1.9.2, the version ArcGIS desktop 10.4.1" in out


def test_channel_base_follows_the_miniconda_mirror(repo_root, tmp_path):
    mirror = {
        "arcgis_env_products": ["server"],
        "miniconda_channel_mirror": "https://mirror.lab.example.org/",
    }
    done = run(repo_root, tmp_path, mirror)
    assert done.returncode == 0, done.stdout + done.stderr
    published = json.loads((tmp_path / "published.json").read_text())
    assert published["channel_base"] == "https://mirror.lab.example.org/pkgs"


def test_role_refuses_a_host_folder_it_could_not_own(repo_root, tmp_path):
    done = run(repo_root, tmp_path, {"arcgis_env_host_dir": "C:\\ProgramData"})
    assert done.returncode != 0
    out = " ".join((done.stdout + done.stderr).split())
    assert "arcgis_env_host_dir C:\\ProgramData must be a folder this role owns" in out
    assert not (tmp_path / "published.json").exists()
