"""Shared test set-up: run from the repository root with its ansible.cfg, and import our collection
(arcgis_conda.fleet) through Ansible's own collection loader, exactly as ansible-playbook does."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
# Playbook runs of the tests keep the fleet's state (fact cache, locks, reports) out of the working tree.
_SCRATCH = Path(tempfile.mkdtemp(prefix="arcgis-fleet-tests-"))
os.environ.setdefault("ARCGIS_FLEET_STATE_DIR", str(_SCRATCH))
os.chdir(ROOT)
# Subprocesses (ansible-playbook, ansible-doc, ...) come from the venv running the tests.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder  # noqa: E402

_AnsibleCollectionFinder(paths=[str(ROOT / "collections")], scan_sys_paths=True)._install()
sys.path.insert(0, str(ROOT / "tools"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


# The lab's security rule (tests/simwin/invariant.py): every simulated-lab test, however it drives the
# lab, ends with no escalation event in any host state under this session's temporary folders.
def _event_files(base: Path) -> dict[Path, int]:
    found: dict[Path, int] = {}
    for folder, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if d not in ("blobs", "facts", "reports", "collections")]
        if "events.jsonl" in files:
            path = Path(folder) / "events.jsonl"
            found[path] = path.stat().st_size
    return found


@pytest.fixture(autouse=True)
def _no_escalation_events(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.getbasetemp()
    before = _event_files(base)
    yield
    if request.node.get_closest_marker("escalations_expected"):
        return
    from simwin.testing import open_escalations

    new = []
    for path in _event_files(base):
        with open(path, encoding="utf-8") as handle:
            handle.seek(before.get(path, 0))
            new += open_escalations(handle.read())
    assert not new, "escalation events (tests/simwin/invariant.py):\n" + "\n".join(map(str, new))
