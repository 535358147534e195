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
# Playbook runs of the tests keep their fact cache and run reports out of the working tree.
_SCRATCH = Path(tempfile.mkdtemp(prefix="arcgis-fleet-tests-"))
os.environ.setdefault("ANSIBLE_CACHE_PLUGIN_CONNECTION", str(_SCRATCH / "facts"))
os.environ.setdefault("ARCGIS_FLEET_REPORT_DIR", str(_SCRATCH / "last-run"))
os.chdir(ROOT)
# Subprocesses (ansible-playbook, ansible-doc, ...) come from the venv running the tests.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder  # noqa: E402

_AnsibleCollectionFinder(paths=[str(ROOT / "collections")], scan_sys_paths=True)._install()
sys.path.insert(0, str(ROOT / "tools"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
