"""The miniconda plan and condarc through a real ansible-playbook run on the controller: the action plugin
is found by FQCN, reads facts as a probe leaves them, fails bad input naming the host, and the role's
condarc template is rendered by Ansible's template action with CRLF line ends, as win_template writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

PLAYBOOK = """\
- name: Plan Miniconda for a lab workstation and render its condarc
  hosts: ws101-a
  gather_facts: false
  tasks:
    - name: Leave the facts a probe would leave
      ansible.builtin.set_fact:
        cacheable: true
        architecture2: x86_64
        arcgis:
          - id: desktop-10.4.1-32
            product: desktop
            version: 10.4.1
            bits: 32
            python_major_minor: "2.7"
            python_exe: C:\\Python27\\ArcGIS10.4\\python.exe
            prefix: C:\\Python27\\ArcGIS10.4
            status: ok
          - id: pro-3.1-64
            product: pro
            version: "3.1"
            bits: 64
            python_major_minor: "3.9"
            python_exe: C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\envs\\arcgispro-py3\\python.exe
            status: ok

    - name: Plan
      arcgis_conda.fleet.miniconda_plan:
        arcgis: "{{{{ ansible_facts['arcgis'] }}}}"
        channel_mirror: https://conda.lab.example.org
        proxy: http://proxy.lab:3128
      register: __miniconda_plan

    - name: Render the condarc as win_template would
      ansible.builtin.template:
        src: {template}
        dest: {out}/condarc
        newline_sequence: "\\r\\n"
        mode: "0644"

    - name: Keep the plan
      ansible.builtin.copy:
        content: "{{{{ __miniconda_plan | ansible.builtin.to_json }}}}"
        dest: {out}/plan.json
        mode: "0644"

    - name: Plan with a prefix that has a space
      arcgis_conda.fleet.miniconda_plan:
        arcgis: "{{{{ ansible_facts['arcgis'] }}}}"
        prefixes:
          miniconda2-x86: C:\\Program Files\\Miniconda2
      register: bad
      ignore_errors: true

    - name: Keep the failure
      ansible.builtin.copy:
        content: "{{{{ bad.msg }}}}"
        dest: {out}/bad.txt
        mode: "0644"

    - name: Judge a recorded incomplete install with the role's filter
      ansible.builtin.copy:
        content: >-
          {{{{ __miniconda_plan.installs[0] | arcgis_conda.fleet.miniconda_judge(
               __miniconda_plan.installs[0].expected_files | map('community.general.dict_kv', 'item') | list,
               {{'rc': 0, 'stdout': 'conda 4.8.3'}}, inventory_hostname) | ansible.builtin.to_json }}}}
        dest: {out}/judged.json
        mode: "0644"
"""


@pytest.mark.slow
def test_plan_and_condarc_through_ansible_playbook(repo_root: Path, tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        textwrap.dedent(
            f"""\
            all:
              vars:
                ansible_connection: local
                ansible_python_interpreter: {sys.executable}
              hosts:
                ws101-a: {{}}
            """
        )
    )
    playbook = tmp_path / "play.yml"
    template = repo_root / "roles" / "miniconda" / "templates" / "condarc.j2"
    playbook.write_text(PLAYBOOK.format(template=template, out=out))
    env = dict(os.environ, ANSIBLE_CONFIG=str(repo_root / "ansible.cfg"), ANSIBLE_CACHE_PLUGIN="memory")
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook)],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    plan = json.loads((out / "plan.json").read_text())
    assert [i["flavour"] for i in plan["installs"]] == ["miniconda2-x86", "miniconda3-x64"]
    assert plan["os_bits"] == 64
    assert plan["published"][1]["arcgis_ids"] == ["pro-3.1-64"]

    raw = (out / "condarc").read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    settings = yaml.safe_load(raw.decode())
    assert settings == plan["condarc"]["settings"]
    assert settings["default_channels"] == [
        "https://conda.lab.example.org/pkgs/main",
        "https://conda.lab.example.org/pkgs/free",
        "https://conda.lab.example.org/pkgs/r",
        "https://conda.lab.example.org/pkgs/msys2",
    ]
    assert settings["proxy_servers"] == {"http": "http://proxy.lab:3128", "https": "http://proxy.lab:3128"}

    bad = (out / "bad.txt").read_text()
    assert bad.startswith("ws101-a: miniconda_prefixes['miniconda2-x86'] = ")
    assert "contains a space" in bad and "Fix: use a short absolute path" in bad

    judged = json.loads((out / "judged.json").read_text())
    assert judged["ok"] is False
    assert judged["missing"] == plan["installs"][0]["expected_files"]


ROLE_PLAYBOOK = """\
- name: Run the role's own planning step with its defaults, as site.yml would
  hosts: ws101-a
  gather_facts: false
  tasks:
    - name: Leave the facts a probe would leave
      ansible.builtin.set_fact:
        cacheable: true
        architecture2: x86_64
        arcgis:
          - id: desktop-10.4.1-32
            product: desktop
            version: 10.4.1
            bits: 32
            python_major_minor: "2.7"
            python_exe: C:\\Python27\\ArcGIS10.4\\python.exe
            status: ok

    - name: The role's defaults satisfy its argument specs
      ansible.builtin.validate_argument_spec:
        argument_spec: "{{{{ (lookup('ansible.builtin.file', '{specs}') | ansible.builtin.from_yaml)
          .argument_specs.main.options }}}}"
        provided_arguments: "{{{{ q('ansible.builtin.varnames', '^miniconda_')
          | zip(q('ansible.builtin.vars', *q('ansible.builtin.varnames', '^miniconda_')))
          | community.general.dict }}}}"

    - name: Plan through the role's task file
      ansible.builtin.include_role:
        name: miniconda
        tasks_from: plan

    - name: Keep the plan
      ansible.builtin.copy:
        content: "{{{{ __miniconda_plan | ansible.builtin.to_json }}}}"
        dest: {out}/plan.json
        mode: "0644"
"""


@pytest.mark.slow
def test_role_plan_task_with_role_defaults(repo_root: Path, tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        f"all:\n  vars:\n    ansible_connection: local\n    ansible_python_interpreter: {sys.executable}\n"
        "  hosts:\n    ws101-a: {}\n"
    )
    playbook = tmp_path / "role.yml"
    specs = repo_root / "roles" / "miniconda" / "meta" / "argument_specs.yml"
    playbook.write_text(ROLE_PLAYBOOK.format(specs=specs, out=out))
    env = dict(os.environ, ANSIBLE_CONFIG=str(repo_root / "ansible.cfg"), ANSIBLE_CACHE_PLUGIN="memory")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook)],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plan = json.loads((out / "plan.json").read_text())
    assert plan["download_dir"] == "C:\\ProgramData\\arcgis-conda\\installers"
    assert [i["label"] for i in plan["installs"]] == ["Miniconda2 x86 4.8.3 into C:\\Miniconda2"]
    assert plan["installs"][0]["installer"]["source"] == (
        "https://repo.anaconda.com/miniconda/Miniconda2-py27_4.8.3-Windows-x86.exe"
    )
    assert plan["condarc"]["settings"]["remote_max_retries"] == 5
    assert plan["condarc"]["settings"]["remote_connect_timeout_secs"] == 30.0
