"""arcgis_conda.fleet.arcgis_env_lock and the arcgis_env filters through real ansible-playbook runs.

A generated inventory of controller-only hosts carries ArcGIS facts and conda installs; one play
plans and locks them against a channel generated on disk, like the role's decide step.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
import yaml
from conda_channel import MINICONDA2_X86, MINICONDA3_X64, STACKS, build_channel

pytestmark = pytest.mark.slow

PLAYBOOK = """
- name: Lock ArcGIS stacks for a generated fleet
  hosts: lab
  gather_facts: false
  tasks:
    - name: Share each host's facts like the role's validate step
      ansible.builtin.set_fact:
        __arcgis_env_host_input:
          arcgis: "{{ test_arcgis }}"
          conda_installs: "{{ test_installs }}"

    - name: Plan and lock once for the play
      arcgis_conda.fleet.arcgis_env_lock:
        settings:
          channels: "{{ test_channels }}"
          pro_mode: conda
          products: [desktop, desktop_bgp, pro]
        lock_dir: "{{ test_out }}/locks"
        cache_dir: "{{ test_out }}/cache"
        timeout: 2
      run_once: true
      register: lock

    - name: Decide what a host without the env would run
      ansible.builtin.set_fact:
        change: >-
          {{ lock.plans[inventory_hostname][0] | arcgis_conda.fleet.arcgis_env_change(
               lock.locks[lock.plans[inventory_hostname][0].spec_key].packages | default([]), '', false) }}
        published: "{{ lock.plans[inventory_hostname] | arcgis_conda.fleet.arcgis_env_published }}"

    - name: Write what the play decided
      ansible.builtin.copy:
        content: >-
          {{ {'lock': lock,
              'changes': dict(ansible_play_hosts
                              | zip(ansible_play_hosts | map('extract', hostvars, 'change'))),
              'published': hostvars[ansible_play_hosts[0]].published} | to_json }}
        dest: "{{ test_out }}/result.json"
        mode: "0644"
      delegate_to: localhost
      run_once: true
"""


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    return build_channel(tmp_path_factory.mktemp("channel") / "chan")


def write_inventory(path: Path, n_hosts: int, channels: list[str], out: Path, stacks: dict) -> Path:
    ids = list(stacks)
    hosts = {
        f"pc{i:03d}": {
            "test_arcgis": [stacks[ids[i % len(ids)]]],
            "test_installs": [MINICONDA2_X86, MINICONDA3_X64],
        }
        for i in range(n_hosts)
    }
    inventory = {
        "lab": {
            "hosts": hosts,
            "vars": {"ansible_connection": "local", "test_channels": channels, "test_out": str(out)},
        }
    }
    path.write_text(yaml.safe_dump(inventory))
    return path


def run_play(repo_root: Path, tmp: Path, inventory: Path) -> subprocess.CompletedProcess:
    playbook = tmp / "lock.yml"
    playbook.write_text(PLAYBOOK)
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(repo_root / "ansible.cfg"),
        "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.memory",
        "ANSIBLE_FORKS": "10",
        "PATH": f"{repo_root / '.venv' / 'bin'}:{os.environ['PATH']}",
    }
    return subprocess.run(
        [str(repo_root / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory), str(playbook)],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_fleet_locked_once_per_stack_then_reused(repo_root, channel, tmp_path):
    inventory = write_inventory(tmp_path / "hosts.yml", 24, [channel.url], tmp_path, STACKS)
    first = run_play(repo_root, tmp_path, inventory)
    assert first.returncode == 0, first.stdout + first.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    lock = result["lock"]
    assert lock["solves"] == 6
    assert len(lock["locks"]) == 6
    assert {entry["status"] for entry in lock["locks"].values()} == {"solved"}
    assert {entry["hosts"] for entry in lock["locks"].values()} == {4}
    assert sorted(p.name for p in (tmp_path / "locks").iterdir()) == sorted(f"{k}.txt" for k in lock["locks"])
    assert lock["fallback"] == [] and lock["not_served"] == {}
    assert "24 env(s) on 24 host(s); 6 distinct stack(s), 6 solved, 0 reused, 0 without a lock" in lock["msg"]

    plan = lock["plans"]["pc000"][0]
    assert (plan["name"], plan["method"], plan["platform"]) == ("arc1041", "lock", "win-32")
    assert Path(plan["lock_path"]) == tmp_path / "locks" / f"{plan['spec_key']}.txt"
    change = result["changes"]["pc000"]
    assert change["action"] == "create"
    assert change["argv"][:4] == [
        "C:\\Miniconda2\\Scripts\\conda.exe",
        "create",
        "--prefix",
        "C:\\Miniconda2\\envs\\arc1041",
    ]
    assert result["published"] == [
        {
            "arcgis_id": "desktop-10.4.1-32",
            "name": "arc1041",
            "prefix": "C:\\Miniconda2\\envs\\arc1041",
            "python_exe": "C:\\Miniconda2\\envs\\arc1041\\python.exe",
            "site_packages": ["C:\\Miniconda2\\envs\\arc1041\\Lib\\site-packages"],
            "python_major_minor": "2.7",
            "bits": 32,
            "kind": "conda",
        }
    ]

    second = run_play(repo_root, tmp_path, inventory)
    assert second.returncode == 0, second.stdout + second.stderr
    again = json.loads((tmp_path / "result.json").read_text())["lock"]
    assert again["solves"] == 0
    assert {entry["status"] for entry in again["locks"].values()} == {"reused"}


def test_unreachable_channel_warns_and_plans_per_host_create(repo_root, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/pkgs/free"
    stacks = {k: STACKS[k] for k in ("desktop-10.4.1-32",)}
    inventory = write_inventory(tmp_path / "hosts.yml", 3, [url], tmp_path, stacks)
    run = run_play(repo_root, tmp_path, inventory)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "arcgis_env: no lock, conda will solve on the hosts:" in " ".join(
        (run.stdout + run.stderr).split()
    )
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["lock"]["solves"] == 0
    assert {p[0]["method"] for p in result["lock"]["plans"].values()} == {"fallback"}
    argv = result["changes"]["pc000"]["argv"]
    assert argv[4:7] == ["--override-channels", "--channel", url]
    assert "numpy==1.9.2" in argv


def test_unsatisfiable_pins_fail_the_play_before_any_host_task(repo_root, channel, tmp_path):
    bad = json.loads(json.dumps(STACKS["desktop-10.6.1-32"]))
    bad["packages"]["scipy"] = "0.99.0"
    inventory = write_inventory(tmp_path / "hosts.yml", 2, [channel.url], tmp_path, {"bad": bad})
    run = run_play(repo_root, tmp_path, inventory)
    assert run.returncode != 0
    output = " ".join((run.stdout + run.stderr).split())
    assert "cannot lock the Python stack of ArcGIS desktop 10.6.1 (desktop-10.6.1-32) for win-32" in output
    assert "no package in the channels satisfies scipy==0.99.0" in output
    assert not (tmp_path / "result.json").exists()
    assert not (tmp_path / "locks").exists()
