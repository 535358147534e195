""".ci/run, with apt-get, make and id replaced by recorders: on a CI runner as root it installs Debian's
Chromium before `make setup` (so the dashboard's browser test runs there); anywhere else it does not."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_ci(tmp_path: Path, ci: str | None, uid: str) -> list[str]:
    bindir, log = tmp_path / "bin", tmp_path / "calls.log"
    bindir.mkdir()
    for name in ("apt-get", "make"):
        (bindir / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
    (bindir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    for tool in bindir.iterdir():
        tool.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    if ci is not None:
        env["CI"] = ci
    subprocess.run(["bash", str(ROOT / ".ci" / "run")], env=env, check=True, capture_output=True, timeout=60)
    return log.read_text().splitlines()


@pytest.mark.skipif(Path("/usr/bin/chromium").exists(), reason="Chromium is installed: .ci/run skips apt")
def test_ci_as_root_installs_chromium_before_setup(tmp_path):
    assert run_ci(tmp_path, "true", "0") == [
        "apt-get update",
        "apt-get install -y chromium",
        "make setup",
        "make test",
    ]


@pytest.mark.parametrize(("ci", "uid"), [(None, "0"), ("true", "1000"), ("false", "0")])
def test_outside_ci_or_without_root_it_is_setup_and_test_only(tmp_path, ci, uid):
    assert run_ci(tmp_path, ci, uid) == ["make setup", "make test"]
