"""A lab env's pip keeps ArcGIS's versions: the pip.ini and constraints file the arcgis_env role writes into
the env's sys.prefix, read by a real pip under real interpreters (Python 2.7 with pip 19.2's legacy resolver,
3.13 with pip 24's), installing from a local index of tiny wheels generated here (no network).

The env is a prefix copy (see test_startup_bridge.make_prefix: a real CPython with its own sys.prefix and an
enabled user site, the shape of a conda env) with pip linked into its site-packages. On Linux pip's site
file is ``sys.prefix/pip.conf`` (CONFIG_BASENAME, pip/_internal/configuration.py); on Windows it is
``pip.ini``: the content, which is what the role decides, is the same. The env lives in a folder with a
space (a profile like ``C:\\Users\\Jane Doe``): pip splits a configured value on whitespace, so the role
names the constraints file as a percent-encoded ``file:`` URL, here the POSIX one of this folder. How both
pips turn the role's Windows URL (``file:///C|/...``) into a path is checked with their own code below.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import urllib.parse
import zipfile
from pathlib import Path

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_env_students as st
from integration.test_startup_bridge import _find_python, make_prefix

PLAN = {
    "name": "arc1041",
    "product": "desktop",
    "version": "10.4.1",
    "prefix": "C:\\Miniconda2\\envs\\arc1041",
    "pins": {"numpy": "1.9.2", "matplotlib": "1.4.3", "scipy": "0.15.1"},
}


def wheel(dest: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A pure-Python wheel (PEP 427) with one module, written by hand: no setuptools, no network."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": f"__version__ = {version!r}\n",
        f"{dist}/METADATA": "Metadata-Version: 2.1\nName: {}\nVersion: {}\n{}".format(
            name, version, "".join(f"Requires-Dist: {r}\n" for r in requires)
        ),
        f"{dist}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py2.py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    out = dest / f"{name}-{version}-py2.py3-none-any.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    out.write_bytes(buffer.getvalue())
    return out


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    wheel(folder, "numpy", "1.9.2")
    wheel(folder, "numpy", "1.20.0")
    wheel(folder, "tinytool", "1.0")  # any package: installs
    wheel(folder, "needsnewnumpy", "1.0", ("numpy>=1.20",))  # would upgrade numpy
    wheel(folder, "oldnumpyok", "1.0", ("numpy>=1.9",))  # satisfied by ArcGIS's numpy
    return folder


def pythons() -> list[object]:
    params = []
    for version in ("2.7", "3.13"):
        exe = _find_python(version)
        marks = [] if exe else [pytest.mark.skip(reason=f"no Python {version} on this machine")]
        params.append(pytest.param(exe, id=f"py{version}", marks=marks))
    return params


def lab_env(base: str, dest: Path, index: Path) -> tuple[Path, dict[str, str]]:
    """An env as the role leaves it: numpy at ArcGIS's version, pip, the role's two files in sys.prefix."""
    exe = make_prefix(base, dest)
    site = next((dest / "lib").glob("python*")) / "site-packages"
    base_site = subprocess.check_output(
        [base, "-c", "import os, pip; print(os.path.dirname(os.path.dirname(pip.__file__)))"], text=True
    ).strip()
    (site / "pip").symlink_to(Path(base_site) / "pip")
    userbase = dest.parent / f"{dest.name}-profile"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    env.update(PYTHONUSERBASE=str(userbase), PIP_NO_INDEX="1", PIP_FIND_LINKS=str(index))
    # HOME too: no user-level pip.conf of this machine's account is read, only the env's site file.
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", HOME=str(userbase), XDG_CONFIG_HOME=str(userbase))
    subprocess.run([str(exe), "-m", "pip", "install", "-q", "numpy==1.9.2"], env=env, check=True, timeout=120)
    windows_prefix = PLAN["prefix"]
    (dest / st.CONSTRAINTS).write_text(st.constraints_text(PLAN))
    # The role's pip.ini, its Windows file: URL replaced by this folder's (a space in it, percent-encoded).
    windows_url = st.file_url(f"{windows_prefix}\\{st.CONSTRAINTS}")
    text = st.pip_ini_text(windows_prefix)
    assert windows_url in text
    (dest / "pip.conf").write_text(text.replace(windows_url, posix_url(dest / st.CONSTRAINTS)))
    return exe, env


def posix_url(path: Path) -> str:
    return "file://" + urllib.parse.quote(str(path))


def pip(exe: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(exe), "-m", "pip", *args], env=env, capture_output=True, text=True, timeout=180
    )


def version_of(exe: Path, env: dict[str, str], module: str) -> str:
    code = f"import {module}; print({module}.__version__ + ' ' + {module}.__file__)"
    return subprocess.check_output([str(exe), "-c", code], env=env, text=True).strip()


@pytest.mark.parametrize("base", pythons())
def test_pip_in_a_lab_env_cannot_move_arcgis_numpy(base: str, tmp_path: Path, index: Path) -> None:
    exe, env = lab_env(base, tmp_path / "Jane Doe" / "arc1041", index)
    # The constraint is read from the site file in sys.prefix (pip config list shows it, pip >= 10).
    shown = pip(exe, env, "config", "list")
    assert "install.constraint" in shown.stdout, shown.stdout + shown.stderr

    # An install that would upgrade numpy is refused, as a user and into the env. pip's resolver (the
    # default from pip 20.3 on Python 3) refuses the whole install; pip's legacy resolver (Python 2.7's pip
    # 19/20) keeps numpy where the constraint holds it, installs the package and reports the conflict.
    legacy = "python2" in base
    for extra in (["--user"], []):
        refused = pip(exe, env, "install", *extra, "needsnewnumpy")
        said = refused.stdout + refused.stderr
        if legacy and extra:
            assert "requirement numpy>=1.20, but you'll have numpy 1.9.2 which is incompatible" in said, said
        elif not legacy:
            assert refused.returncode != 0, said
            assert "numpy" in said.lower() and "needsnewnumpy" not in pip(exe, env, "list").stdout, said
        assert version_of(exe, env, "numpy").startswith("1.9.2 "), said
    refused = pip(exe, env, "install", "--user", "--upgrade", "numpy")
    assert version_of(exe, env, "numpy").startswith("1.9.2 "), refused.stdout + refused.stderr

    # What fits ArcGIS's versions installs, for the user only (their user site, not the env).
    done = pip(exe, env, "install", "--user", "tinytool", "oldnumpyok")
    assert done.returncode == 0, done.stdout + done.stderr
    where = version_of(exe, env, "tinytool")
    assert where.startswith("1.0 ") and where.split(" ", 1)[1].startswith(env["PYTHONUSERBASE"]), where

    # The constraints file named by its path, as before: pip splits it at the space and every install fails.
    site_file = tmp_path / "Jane Doe" / "arc1041" / "pip.conf"
    url_form = site_file.read_text()
    site_file.write_text(
        url_form.replace(posix_url(site_file.parent / st.CONSTRAINTS), str(site_file.parent / st.CONSTRAINTS))
    )
    broken = pip(exe, env, "install", "--user", "tinytool")
    assert broken.returncode != 0 and "Could not open requirements file" in broken.stdout + broken.stderr
    site_file.write_text(url_form)

    # Without the role's file the same pip would have moved numpy: the test can fail.
    site_file.unlink()
    moved = pip(exe, env, "install", "--user", "--upgrade", "needsnewnumpy")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert version_of(exe, env, "numpy").startswith("1.20.0 ")


# pip 19.2's req_file/download.get_file_content (Python 2.7) and current pip's url_to_path, with Windows'
# url2pathname (nturl2path): the role's URL of a path with spaces opens that path in both.
PIP19_OPENS = """
import sys
from pip._internal import download
opened = []
class Stop(Exception):
    pass
def fake_open(path, mode='r'):
    opened.append(path)
    raise Stop()
download.open = fake_open
try:
    download.get_file_content(sys.argv[1], session=object())
except Stop:
    pass
sys.stdout.write(opened[0])
"""

CURRENT_PIP_OPENS = """
import nturl2path, sys, urllib.request
from pip._internal.utils import urls
urls.WINDOWS = True
urllib.request.url2pathname = nturl2path.url2pathname
sys.stdout.write(urls.url_to_path(sys.argv[1]))
"""


@pytest.mark.parametrize("base", pythons())
def test_pip_opens_the_roles_windows_url_of_a_path_with_spaces(base: str) -> None:
    path = "C:\\Users\\Jane Doe\\.conda\\envs\\my arc\\arcgis-constraints.txt"
    url = st.file_url(path)
    assert url.split() == [url]
    legacy = "python2" in base
    code = PIP19_OPENS if legacy else CURRENT_PIP_OPENS
    out = subprocess.run([base, "-c", code, url], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # pip 19.2 opens C:/Users/... (Windows' open takes forward slashes); current pip the backslash path.
    assert out.stdout == (path.replace("\\", "/") if legacy else path)
