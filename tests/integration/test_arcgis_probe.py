"""arcgis_probe.py run for real: real interpreters, real venvs, real metadata files on sys.path.

Every interpreter here is run exactly as the host runs it: ``<python> arcgis_probe.py [package ...]``.
Python 2.7 cannot be installed on this machine, so 2.7 validity is proven with vermin instead; the
interpreters used are this venv's CPython and, where installed (apt-get install pypy3), PyPy 3.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "plugins" / "module_utils" / "arcgis_probe.py"
VERMIN = Path(sys.executable).with_name("vermin")
BASE_PYTHONS = [
    pytest.param(sys.executable, id="cpython"),
    pytest.param(
        shutil.which("pypy3"),
        id="pypy3",
        marks=pytest.mark.skipif(shutil.which("pypy3") is None, reason="pypy3 not installed"),
    ),
]
DEFAULTS = ["numpy", "matplotlib", "scipy", "pandas", "python-dateutil", "pyparsing", "pytz", "six"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(extra)
    return env


def run_probe(python: str, *packages: str, env: dict[str, str] | None = None) -> dict:
    proc = subprocess.run(
        [python, str(PROBE), *packages],
        capture_output=True,
        text=True,
        env=env or clean_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout  # exactly one JSON object, nothing else on stdout
    return json.loads(lines[0])


def ask(python: str, code: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        [python, "-c", code], capture_output=True, text=True, env=env or clean_env(), check=True
    ).stdout.strip()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def pkg_info(name: str, version: str) -> str:
    header = f"Metadata-Version: 1.1\nName: {name}\nVersion: {version}\nSummary: test\n"
    return header + "\nA long description that mentions\nVersion: 0.0.0\n"


def build_arcgis_like_site(site: Path, marker_dir: Path) -> Path:
    """A site-packages laid out like an old ArcGIS Python: every kind of metadata the probe reads."""
    # numpy: pip's dist-info, plus a stale distutils egg-info from before an upgrade (dist-info wins),
    # and an __init__ that leaves a marker if anything imports it.
    write(site / "numpy-1.9.2.dist-info" / "METADATA", pkg_info("numpy", "1.9.2"))
    write(site / "numpy-1.8.0-py2.7.egg-info", pkg_info("numpy", "1.8.0"))
    write(site / "numpy" / "__init__.py", f"open({str(marker_dir / 'numpy-imported')!r}, 'w').close()\n")
    # matplotlib: an .egg-info *file* (what distutils writes).
    write(site / "matplotlib-1.4.3-py2.7.egg-info", pkg_info("matplotlib", "1.4.3"))
    # scipy: an .egg-info *directory* holding PKG-INFO (what setuptools writes).
    write(site / "scipy-0.15.1-py2.7.egg-info" / "PKG-INFO", pkg_info("scipy", "0.15.1"))
    # python-dateutil: dist-info with the escaped name, Name header with capitals.
    write(site / "python_dateutil-2.4.2.dist-info" / "METADATA", pkg_info("Python-DateUtil", "2.4.2"))
    # pyparsing: importable with only __version__ (no metadata anywhere); it prints while imported.
    write(site / "pyparsing.py", "print('pyparsing says hello on stdout')\n__version__ = '2.0.3'\n")
    # six: an unzipped .egg directory put on sys.path by easy-install.pth.
    write(site / "six-1.9.0-py2.7.egg" / "EGG-INFO" / "PKG-INFO", pkg_info("six", "1.9.0"))
    # pandas: a zipped .egg on sys.path.
    with zipfile.ZipFile(site / "pandas-0.16.1-py2.7-win32.egg", "w") as egg:
        egg.writestr("EGG-INFO/PKG-INFO", pkg_info("pandas", "0.16.1"))
    # A later sys.path entry with a newer numpy: the first entry wins, as for import.
    extra = site.parent / "extra"
    write(extra / "numpy-1.10.4.dist-info" / "METADATA", pkg_info("numpy", "1.10.4"))
    write(site / "easy-install.pth", "./six-1.9.0-py2.7.egg\n./pandas-0.16.1-py2.7-win32.egg\n")
    write(site / "zz-extra.pth", f"{extra}\n")
    # arcpy must never be imported, whatever is asked.
    write(site / "arcpy" / "__init__.py", f"open({str(marker_dir / 'arcpy-imported')!r}, 'w').close()\n")
    return site


@pytest.fixture(params=BASE_PYTHONS)
def arcgis_venv(request, tmp_path):
    """A real venv (python -m venv --without-pip) whose site-packages looks like an ArcGIS Python's."""
    venv = tmp_path / "venv"
    subprocess.run([request.param, "-m", "venv", "--without-pip", str(venv)], check=True, env=clean_env())
    python = str(venv / "bin" / "python")
    site = Path(ask(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])"))
    markers = tmp_path / "markers"
    markers.mkdir()
    build_arcgis_like_site(site, markers)
    return python, venv, site, markers


def test_probe_reads_every_metadata_kind_in_a_real_venv(arcgis_venv):
    python, venv, site, markers = arcgis_venv
    report = run_probe(python)
    assert report["packages"] == {
        "numpy": "1.9.2",
        "matplotlib": "1.4.3",
        "scipy": "0.15.1",
        "pandas": "0.16.1",
        "python-dateutil": "2.4.2",
        "pyparsing": "2.0.3",
        "pytz": None,
        "six": "1.9.0",
    }
    # Versions came from metadata: numpy was not imported (pyparsing was, having no metadata).
    assert not (markers / "numpy-imported").exists()
    py = report["python"]
    assert py["version"] == ask(python, "import platform; print(platform.python_version())")
    assert py["executable"] == python
    assert py["prefix"] == str(venv)
    assert py["bits"] == 64
    assert str(site) in py["site_packages"]
    assert all(path.startswith(str(venv)) for path in py["site_packages"])  # PyPy adds local/lib/...
    assert py["user_site"] == ask(python, "import site; print(site.getusersitepackages())")
    site_cli = [python, "-m", "site", "--user-site"]  # exit code 1..4 reports the user site state
    user_site_cli = subprocess.run(site_cli, capture_output=True, text=True, env=clean_env(), check=False)
    assert py["user_site"] == user_site_cli.stdout.strip()
    assert py["user_site_enabled"] is False  # a venv without system site packages disables it


def test_probe_measures_the_packages_asked_and_never_imports_arcpy(arcgis_venv):
    python, _, _, markers = arcgis_venv
    report = run_probe(python, "numpy", "arcpy", "PyParsing", "not-installed-anywhere")
    assert report["packages"] == {
        "numpy": "1.9.2",
        "arcpy": None,
        "PyParsing": "2.0.3",
        "not-installed-anywhere": None,
    }
    assert not (markers / "arcpy-imported").exists()


def test_user_site_comes_first_as_for_import(tmp_path):
    """A student's ``pip install --user numpy`` shadows ArcGIS's numpy; the probe reports what import gets."""
    python = getattr(sys, "_base_executable", sys.executable)
    env = clean_env(PYTHONUSERBASE=str(tmp_path / "userbase"))
    user_site = Path(ask(python, "import site; print(site.getusersitepackages())", env=env))
    write(user_site / "numpy-9.9.9.dist-info" / "METADATA", pkg_info("numpy", "9.9.9"))
    report = run_probe(python, "numpy", env=env)
    assert report["packages"] == {"numpy": "9.9.9"}
    assert report["python"]["user_site"] == str(user_site)
    assert report["python"]["user_site_enabled"] is True


def test_probe_is_valid_python_27_and_3x():
    """ArcMap's Python is 2.7: vermin proves the probe uses nothing newer than 2.7 / 3.5."""
    cmd = [str(VERMIN), "-t=2.7", "-t=3.5-", "--no-tips", "--violations"]
    proc = subprocess.run([*cmd, str(PROBE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Incompatible" not in proc.stdout


def test_vermin_would_catch_a_python_3_only_probe(tmp_path):
    """The check above can fail: the same vermin call rejects an f-string."""
    bad = write(tmp_path / "bad_probe.py", PROBE.read_text() + '\nWHO = f"{__name__}"\n')
    proc = subprocess.run(
        [str(VERMIN), "-t=2.7", "-t=3.5-", "--no-tips", "--violations", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "f-strings require" in proc.stdout
