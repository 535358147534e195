"""The env version check runs under real Python 2.7 and 3.x interpreters and its report drives verify_env."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_host import verify_env

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "arcgis_env" / "files" / "arcgis_env_versions.py"


def interpreters() -> list:
    """A real Python 2.7 (pyenv's, where present) and this 3.x; 2.7 is skipped, not faked, when absent."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    py27 = sorted(glob.glob(f"{root}/versions/2.7*/bin/python"))[:1]
    mark = pytest.mark.skipif(not py27, reason="no Python 2.7 interpreter on this machine")
    return [pytest.param(py27[0] if py27 else "python2.7", marks=mark, id="python2.7"), sys.executable]


def fake_site(tmp_path: Path, versions: dict[str, str | None]) -> Path:
    site = tmp_path / "site"
    for name, version in versions.items():
        package = site / name
        package.mkdir(parents=True)
        body = f"__version__ = {version!r}\n" if version else "raise ImportError('DLL load failed')\n"
        (package / "__init__.py").write_text(body)
    return site


def plan(python: str) -> dict:
    return {
        "name": "arc1041",
        "prefix": "C:\\Miniconda2\\envs\\arc1041",
        "product": "desktop",
        "version": "10.4.1",
        "python_major_minor": python,
        "pins": {"numpy": "1.9.2", "matplotlib": "1.4.3", "scipy": "0.15.1"},
    }


def run(interpreter: str, site: Path) -> tuple[str, str]:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(site)}
    out = subprocess.run(
        [interpreter, str(SCRIPT)], env=env, capture_output=True, text=True, check=True
    ).stdout
    line = subprocess.run(
        [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return out, line


@pytest.mark.parametrize("interpreter", interpreters())
def test_matching_env_passes(tmp_path, interpreter):
    out, line = run(
        interpreter, fake_site(tmp_path, {"numpy": "1.9.2", "matplotlib": "1.4.3", "scipy": "0.15.1"})
    )
    assert verify_env(plan(line), out) == []


@pytest.mark.parametrize("interpreter", interpreters())
def test_mismatch_names_both_versions_and_import_errors(tmp_path, interpreter):
    out, line = run(
        interpreter, fake_site(tmp_path, {"numpy": "1.11.3", "matplotlib": "1.4.3", "scipy": None})
    )
    problems = verify_env(plan(line), out)
    assert problems[0] == (
        "arc1041 (C:\\Miniconda2\\envs\\arc1041): numpy is 1.11.3 in the env "
        "but 1.9.2 in ArcGIS desktop 10.4.1"
    )
    assert problems[1].startswith(
        "arc1041 (C:\\Miniconda2\\envs\\arc1041): scipy is missing in the env but 0.15.1"
    )
    assert "ImportError: DLL load failed" in problems[1]
    assert len(problems) == 2
