"""The plan plugin and the verdict filter through a real ansible-playbook run (FQCN resolution, the
collection's module_utils import, argument validation), on localhost: scope machine needs no host reads."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest

pytestmark = pytest.mark.slow


def play(tmp_path, repo_root, body: str) -> subprocess.CompletedProcess:
    playbook = tmp_path / "play.yml"
    playbook.write_text(textwrap.dedent(body))
    env = {**os.environ, "ANSIBLE_CONFIG": str(repo_root / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "json"}
    return subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", str(playbook)],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


PREFIX = "C:\\Python27\\ArcGIS10.8"
ARCMAP = {
    "id": "desktop-10.8.1-32",
    "product": "desktop",
    "version": "10.8.1",
    "install_dir": "C:\\Program Files (x86)\\ArcGIS\\Desktop10.8\\",
    "python_exe": PREFIX + "\\python.exe",
    "python_version": "2.7.18",
    "python_major_minor": "2.7",
    "bits": 32,
    "prefix": PREFIX,
    "site_packages": [PREFIX + "\\lib\\site-packages"],
    "user_site_enabled": True,
    "status": "ok",
    "problems": [],
}


def env_for(arcmap: dict, name: str = "arc1081", bits: int = 32) -> dict:
    prefix = f"C:\\Miniconda2\\envs\\{name}"
    return {
        "arcgis_id": arcmap["id"],
        "name": name,
        "prefix": prefix,
        "python_exe": prefix + "\\python.exe",
        "site_packages": [prefix + "\\Lib\\site-packages"],
        "python_major_minor": "2.7",
        "bits": bits,
        "kind": "conda",
    }


def test_plan_and_verdict_run_in_a_playbook(tmp_path, repo_root):
    arcmap = ARCMAP
    (tmp_path / "vars.json").write_text(
        json.dumps({"facts": [arcmap], "envs": [env_for(arcmap), env_for(arcmap, name="wrongbits", bits=64)]})
    )
    out = play(
        tmp_path,
        repo_root,
        f"""\
        - name: Plan and judge
          hosts: all
          gather_facts: false
          vars_files: [{tmp_path / "vars.json"}]
          tasks:
            - name: Plan the bridge
              arcgis_conda.fleet.startup_bridge_plan:
                arcgis: "{{{{ facts }}}}"
                envs: "{{{{ envs }}}}"
              register: bridge
            - name: Judge a run that printed nothing
              ansible.builtin.debug:
                msg: "{{{{ [{{'item': bridge.plan.verify[0], 'rc': 1, 'stdout': '', 'stderr': 'boom'}}]
                        | arcgis_conda.fleet.startup_bridge_verdict }}}}"
            - name: Refuse a wrong scope
              arcgis_conda.fleet.startup_bridge_plan:
                arcgis: []
                scope: everyone
              ignore_errors: true
        """,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    tasks = json.loads(out.stdout)["plays"][0]["tasks"]
    plan = tasks[0]["hosts"]["localhost"]["plan"]
    assert [c["dest"].rsplit("\\", 1)[1] for c in plan["copies"]] == ["arcgis_conda_bridge.py"] * 2
    assert any("wrongbits" in w and "Win32" in w for w in tasks[0]["hosts"]["localhost"]["warnings"])
    verdict = tasks[1]["hosts"]["localhost"]["msg"]
    assert verdict["ok"] is False and "gave no verify result (rc 1): boom" in verdict["problems"][0]
    refused = tasks[2]["hosts"]["localhost"]
    assert refused["failed"] and "everyone" in refused["msg"]
