"""Adding a role is one module and one registry line (plus its roles/<role>/ face), proved end to end.

A scratch copy of the collection gets a fifth role, ``hello`` (a test fixture: it writes one admin-only
file and verifies it), as docs/architecture.md tells a newcomer: ``plugins/module_utils/hello_role.py``, a
line in ``registry.py``, ``roles/hello/`` and a play step in site.yml. The real engine, action plugins and
apply loop then observe, plan, apply, verify and judge it on the simulated workstation beside the four
roles, with nothing else changed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.simwin import host as H
from tests.simwin import lab as simlab
from tests.simwin.testing import DEMO_CA, make_lab

REPO = simlab.REPO
HELLO_PATH = "C:\\ProgramData\\arcgis-conda\\hello.txt"

HELLO_ROLE = '''"""Role hello (a test fixture): one admin-only file, written, verified, removed."""

from __future__ import annotations

import ntpath
from collections.abc import Mapping
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_changes import TRUSTED, sha256
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import Read, Snapshot
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import (
    Fleet,
    Observation,
    ObserveContext,
    Role,
    RoleContext,
    RolePlan,
)

HELLO_SPEC: dict[str, Any] = {
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "path": {"type": "str", "required": True},
    "text": {"type": "str", "default": "hello"},
}


class Hello(Role):
    name = "hello"
    column = "Hello"
    argument_spec = HELLO_SPEC

    def observe(self, args: Mapping[str, Any], octx: ObserveContext) -> Observation:
        folder = ntpath.dirname(args["path"])
        return Observation(reads=[Read(args["path"], content=True), Read(folder, "dir")])

    def plan(self, args: Mapping[str, Any], ctx: RoleContext, fleet: Fleet) -> RolePlan:
        path, text, present = args["path"], args["text"], args["state"] == "present"
        out = RolePlan(lines=[f"{path}: {text!r}" if present else f"remove {path}"])

        def changes(c: Any) -> None:
            if present:
                c.mkdir(ntpath.dirname(path), "the hello folder")
                c.secure(ntpath.dirname(path), TRUSTED)
                c.write(path, text, "the hello file")
            else:
                c.delete(path, "the hello file")

        out.make_changes = changes
        out.verify_reads = [Read(path, content=True)] if present else []
        out.judge = {"path": path, "sha256": sha256(text), "present": present}
        return out

    def judge(self, judge: Mapping[str, Any], host: str, snap: Snapshot) -> list[str]:
        if judge["present"] and snap.sha256(judge["path"]) != judge["sha256"]:
            return [f"{host}: {judge['path']} does not hold the hello text. Fix: run site.yml again."]
        return []
'''

ROLE_FILES = {
    "defaults/main.yml": (
        "---\n# Role hello (a test fixture): one file.\n# present | absent\nhello_state: present\n"
        "# Where the file goes.\nhello_path: 'C:\\ProgramData\\arcgis-conda\\hello.txt'\n"
        "# What it holds.\nhello_text: hello\n"
    ),
    "vars/plan.yml": (
        '---\n__hello_plan_args:\n  state: "{{ hello_state }}"\n  path: "{{ hello_path }}"\n'
        '  text: "{{ hello_text }}"\n'
    ),
    "meta/argument_specs.yml": (
        "---\nargument_specs:\n  main:\n    short_description: One file\n    options:\n"
        "      hello_state: {type: str, choices: [present, absent], default: present, description: x}\n"
        "      hello_path: {type: str, default: 'C:\\ProgramData\\arcgis-conda\\hello.txt', description: x}\n"
        "      hello_text: {type: str, default: hello, description: x}\n"
    ),
}


def add_hello_role(copy: Path) -> None:
    """What docs/architecture.md's "Adding a fifth role" asks of a newcomer, done to a scratch copy."""
    (copy / "plugins/module_utils/hello_role.py").write_text(HELLO_ROLE, encoding="utf-8")
    registry = copy / "plugins/module_utils/registry.py"
    text = registry.read_text(encoding="utf-8")
    text = text.replace(
        "from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import Role\n",
        "from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import Role\n"
        "from ansible_collections.arcgis_conda.fleet.plugins.module_utils.hello_role import Hello\n",
    )
    assert "StartupBridge())" in text
    registry.write_text(text.replace("StartupBridge())", "StartupBridge(), Hello())"), encoding="utf-8")
    role = copy / "roles/hello"
    for rel, content in ROLE_FILES.items():
        (role / rel).parent.mkdir(parents=True, exist_ok=True)
        (role / rel).write_text(content, encoding="utf-8")
    tasks = (copy / "roles/miniconda/tasks/main.yml").read_text(encoding="utf-8")
    (role / "tasks").mkdir(exist_ok=True)
    (role / "tasks/main.yml").write_text(tasks.replace("miniconda", "hello"), encoding="utf-8")
    site = copy / "site.yml"
    text = site.read_text(encoding="utf-8")
    step = "    - name: Verify every role's work on each workstation\n"
    assert step in text
    site.write_text(
        text.replace(
            step,
            "    - name: Write the hello file\n      ansible.builtin.import_role:\n        name: hello\n"
            "      tags: [hello]\n\n" + step,
        ),
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("collection") / "fleet"
    shutil.copytree(
        REPO,
        copy,
        symlinks=True,
        ignore=shutil.ignore_patterns(".git", ".venv", ".cache", "reports", "__pycache__", ".pytest_cache"),
    )
    add_hello_role(copy)
    return copy


def run(copy: Path, lab_dir: Path, playbook: str, *extra: str) -> tuple[int, str, dict]:
    env = simlab.environment(lab_dir)
    env["ANSIBLE_CONFIG"] = str(copy / "ansible.cfg")
    extra_vars = lab_dir / "extra.json"
    extra_vars.write_text(json.dumps({"doi_cert_certificates": [{"path": str(DEMO_CA)}]}))
    (lab_dir / "reports" / "latest").unlink(missing_ok=True)
    report = lab_dir / "reports" / "latest" / "lab_sim.json"
    command = simlab.command_line(lab_dir, ["ansible-playbook", playbook, "-e", f"@{extra_vars}", *extra])
    proc = subprocess.run(command, env=env, cwd=copy, capture_output=True, text=True, check=False)
    rows = json.loads(report.read_text())["hosts"] if report.exists() else []
    return proc.returncode, proc.stdout + proc.stderr, {row["host"]: row for row in rows}


def test_a_fifth_role_runs_through_the_real_engine_on_the_simulated_workstation(scratch, tmp_path):
    lab = make_lab(tmp_path, "pro35")
    (host,) = lab.hosts

    rc, out, rows = run(scratch, lab.dir, "site.yml")
    assert rc == 0, out[-3000:]
    planned = [c for c in rows[host]["planned"] if c["role"] == "hello"]
    assert [(c["action"], c["target"]) for c in planned] == [("write", HELLO_PATH)]
    # Applied after the four roles, in the registry's order, and verified by its own judge.
    assert rows[host]["planned"][-1]["role"] == "hello"
    sim = lab.host(host)
    assert sim.read_bytes(HELLO_PATH, sim.principal()) == b"hello"
    assert sim.node(HELLO_PATH)["owner"] == H.ADMINISTRATORS

    rc, out, rows = run(scratch, lab.dir, "site.yml")
    assert rc == 0 and rows[host]["planned"] == [], out[-3000:]

    with lab.edit(host) as edited:
        edited.write(HELLO_PATH, b"changed by hand", edited.principal())
    rc, out, _rows = run(scratch, lab.dir, "playbooks/verify.yml")
    assert rc != 0
    assert f"{HELLO_PATH} does not hold the hello text" in out

    rc, out, rows = run(scratch, lab.dir, "site.yml", "--tags", "hello")
    assert rc == 0, out[-3000:]
    assert [(c["role"], c["action"]) for c in rows[host]["planned"]] == [("hello", "write")]
    sim = lab.host(host)
    assert sim.read_bytes(HELLO_PATH, sim.principal()) == b"hello"
