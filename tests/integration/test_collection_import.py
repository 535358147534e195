"""A real ansible-playbook run imports our module_utils through the filter and action plugins (by FQCN)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "tests" / "integration" / "playbooks" / "collection_import.yml"


@pytest.mark.slow
def test_playbook_uses_filter_and_action_plugin_shared_code():
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    # The plugins' own messages (also of the ignored failures), not the fleet's quiet console.
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.default"
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)  # only ansible.cfg's collections/ symlink may find us
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), str(PLAYBOOK)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "seed stack numpy=1.9.2 matplotlib=1.4.3 scipy=0.15.1" in out
    assert "arcgis_facts probes Windows hosts only, and this connection's shell is sh" in out
    assert "ArcGIS desktop 9.3.1 is not in the release table; known releases: 10.0, 10.1" in out
    assert "ok=6" in out and "failed=0" in out and "ignored=2" in out
