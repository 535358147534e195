"""arcgis_probe.py run for real: real interpreters, real venvs, real metadata files on sys.path.

Every interpreter here is run exactly as the host runs it: ``<python> -E -S arcgis_probe.py [package ...]``.
The interpreters are this venv's CPython, pyenv's 3.6 and 3.13 and, where installed (apt-get install
pypy3), PyPy 3, each in a real ``python -m venv``; and pyenv's CPython 2.7 (ArcMap's Python), which has
no venv module, in a relocated copy of its prefix: its own bin/python and site-packages, the stock
site.py (an ArcGIS Python is a stock install). 2.7 validity is also proven with vermin.
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
PYENV = Path.home() / ".pyenv" / "versions"


def pyenv_python(version: str, exe: str = "python3") -> str:
    return str(PYENV / version / "bin" / exe)


def pyenv_param(version: str, exe: str = "python3"):
    python = pyenv_python(version, exe)
    missing = not os.access(python, os.X_OK)
    return pytest.param(python, id=f"py{version}", marks=pytest.mark.skipif(missing, reason=f"no {python}"))


PY27 = pyenv_python("2.7.18", "python2.7")
BASE_PYTHONS = [
    pytest.param(sys.executable, id="cpython"),
    pyenv_param("3.6.15"),
    pyenv_param("3.13.0"),
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


HOST_FLAGS = ("-E", "-S")  # what plugins/action/arcgis_facts.py runs the probe with


def run_probe(
    python: str, *packages: str, env: dict[str, str] | None = None, flags: tuple[str, ...] = HOST_FLAGS
) -> dict:
    proc = subprocess.run(
        [python, *flags, str(PROBE), *packages],
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


def ask(python: str, code: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    return subprocess.run(
        [python, "-c", code], capture_output=True, text=True, env=env or clean_env(), cwd=cwd, check=True
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
    # pyparsing: importable with only __version__ (no metadata anywhere): read as text, never imported.
    pyparsing = f"open({str(marker_dir / 'pyparsing-imported')!r}, 'w').close()\n__version__ = '2.0.3'\n"
    write(site / "pyparsing.py", "print('pyparsing says hello on stdout')\n" + pyparsing)
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
    # xlrd: its only metadata is in a directory that only a plain-path .pth line puts on the path.
    pth_only = site.parent / "pth-only"
    write(pth_only / "xlrd-0.9.3.dist-info" / "METADATA", pkg_info("xlrd", "0.9.3"))
    write(
        site / "pth-only.pth",
        f"# a comment, then a blank line\n\n{pth_only}\n{site.parent / 'no-such-dir'}\n",
    )
    # arcpy must never be imported, whatever is asked.
    write(site / "arcpy" / "__init__.py", f"open({str(marker_dir / 'arcpy-imported')!r}, 'w').close()\n")
    return site


def py27_prefix(dest: Path) -> str:
    """A relocated copy of pyenv's 2.7 prefix: own bin/python (sys.prefix = dest), own empty site-packages,
    the stdlib (stock site.py included) linked in. 2.7 finds its prefix from the executable's location."""
    base = PYENV / "2.7.18"
    lib = dest / "lib" / "python2.7"
    lib.mkdir(parents=True)
    for entry in (base / "lib" / "python2.7").iterdir():
        if entry.name != "site-packages":
            (lib / entry.name).symlink_to(entry)
    (lib / "site-packages").mkdir()
    (dest / "bin").mkdir()
    shutil.copy2(base / "bin" / "python2.7", dest / "bin" / "python")
    return str(dest / "bin" / "python")


def make_env(base: str, dest: Path) -> str:
    """A real venv (python -m venv --without-pip), or the 2.7 prefix copy; its python."""
    if base == PY27:
        return py27_prefix(dest)
    subprocess.run([base, "-m", "venv", "--without-pip", str(dest)], check=True, env=clean_env())
    return str(dest / "bin" / "python")


ALL_PYTHONS = [
    *BASE_PYTHONS,
    pytest.param(PY27, id="py2.7", marks=pytest.mark.skipif(not os.access(PY27, os.X_OK), reason="no 2.7")),
]


@pytest.fixture(params=ALL_PYTHONS)
def arcgis_venv(request, tmp_path, monkeypatch):
    """A real venv (or 2.7 prefix) whose site-packages looks like an ArcGIS Python's; HOME is tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the user site is the test's, never root's
    venv = tmp_path / "venv"
    python = make_env(request.param, venv)
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
        "pyparsing": "2.0.3",  # no metadata: its __version__ line read as text, never imported
        "pytz": None,
        "six": "1.9.0",
    }
    # Versions came from metadata only: nothing was imported.
    assert not (markers / "numpy-imported").exists()
    assert not (markers / "pyparsing-imported").exists()
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
    # A venv without system site packages disables the user site; a stock 2.7 install has it on.
    assert py["user_site_enabled"] is (py["version"].startswith("2."))


def test_probe_measures_the_packages_asked_and_never_imports_arcpy(arcgis_venv):
    python, _, _, markers = arcgis_venv
    report = run_probe(python, "numpy", "arcpy", "PyParsing", "XLRD", "not-installed-anywhere")
    assert report["packages"] == {
        "numpy": "1.9.2",
        "arcpy": None,
        "PyParsing": "2.0.3",
        "XLRD": "0.9.3",
        "not-installed-anywhere": None,
    }
    assert not (markers / "arcpy-imported").exists()
    assert not (markers / "pyparsing-imported").exists()


def test_packages_without_metadata_are_versioned_from_their_source_as_text(arcgis_venv):
    """``__version__`` read from the text of ``__init__.py``/``version.py``/a module, never imported: each
    file would leave a marker (or fail to compile under 2.7) if it were run."""
    python, _, site, markers = arcgis_venv
    run_marker = f"open({str(markers / 'imported')!r}, 'w').close()\n"
    # numpy/scipy style: __init__ imports the generated version.py.
    write(site / "nometa_np" / "__init__.py", run_marker + "from .version import version as __version__\n")
    write(site / "nometa_np" / "version.py", run_marker + "short_version = '1.9.2'\nversion = '1.9.2'\n")
    # pytz style: an alias; Python 3-only syntax that 2.7 could not even compile; a CRLF file.
    alias = "VERSION = '2015.4'  # pip compatible\r\n__version__ = VERSION\r\n"
    write(site / "nometa_tz" / "__init__.py", run_marker + "def f(*, x): ...\r\n" + alias)
    # Computed or conditional: not a literal, so unknown (null), still never run.
    write(site / "nometa_calc" / "__init__.py", run_marker + "__version__ = '.'.join(['1', '2'])\n")
    write(
        site / "nometa_cond" / "__init__.py", "try:\n    __version__ = '9.9'\nexcept Exception:\n    pass\n"
    )
    # python-dateutil imports as dateutil: its metadata gone, the package's text still answers.
    shutil.rmtree(site / "python_dateutil-2.4.2.dist-info")
    write(site / "dateutil" / "__init__.py", run_marker + '__version__ = "2.4.2"\n')
    # A metadata-less module shadows a dist-info on a later path entry (zz-extra.pth's), as for import.
    write(site / "nometa_shadow.py", run_marker + "__version__ = '2.0'\n")
    write(
        site.parent / "extra" / "nometa_shadow-1.0.dist-info" / "METADATA", pkg_info("nometa_shadow", "1.0")
    )
    names = [
        "nometa-np",
        "nometa_tz",
        "nometa_calc",
        "nometa_cond",
        "nometa_shadow",
        "python-dateutil",
        "arcpy",
    ]
    report = run_probe(python, *names)
    assert report["packages"] == {
        "nometa-np": "1.9.2",
        "nometa_tz": "2015.4",
        "nometa_calc": None,
        "nometa_cond": None,
        "nometa_shadow": "2.0",
        "python-dateutil": "2.4.2",
        "arcpy": None,  # found, no version: null, and never imported
    }
    assert not list(markers.iterdir())


USER_SITE_PYTHONS = [  # base interpreters (not venvs), whose user site is on; nothing is planted in them
    pytest.param(getattr(sys, "_base_executable", sys.executable), id="cpython"),
    pyenv_param("3.6.15"),
    pyenv_param("3.13.0"),
    pytest.param(PY27, id="py2.7", marks=pytest.mark.skipif(not os.access(PY27, os.X_OK), reason="no 2.7")),
]


@pytest.mark.parametrize("base", USER_SITE_PYTHONS)
def test_user_site_comes_first_as_for_import(base, tmp_path, monkeypatch):
    """A student's ``pip install --user numpy`` shadows ArcGIS's numpy; the probe reports what import gets,
    including a package the user site's own plain-path .pth file puts on the path."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    python = py27_prefix(tmp_path / "py27") if base == PY27 else base
    if base == PY27:  # the prefix copy's own site-packages has an older numpy: the user site wins
        site = Path(ask(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])"))
        write(site / "numpy-1.9.2.dist-info" / "METADATA", pkg_info("numpy", "1.9.2"))
    user_site = Path(ask(python, "import site; print(site.getusersitepackages())"))
    assert user_site.is_relative_to(tmp_path / "home")
    write(user_site / "numpy-9.9.9.dist-info" / "METADATA", pkg_info("numpy", "9.9.9"))
    write(tmp_path / "user-extra" / "xlrd-1.2.0.dist-info" / "METADATA", pkg_info("xlrd", "1.2.0"))
    write(user_site / "user-extra.pth", f"{tmp_path / 'user-extra'}\n")
    report = run_probe(python, "numpy", "xlrd")
    assert report["packages"] == {"numpy": "9.9.9", "xlrd": "1.2.0"}
    assert report["python"]["user_site"] == str(user_site)
    assert report["python"]["user_site_enabled"] is True
    assert report == normal_start_report(python, ["numpy", "xlrd"], tmp_path)


# The report the probe gave before -S, computed in a NORMAL start of the interpreter (site.py ran, .pth
# files processed): site.getsitepackages() as the probe filtered it, the user site, ENABLE_USER_SITE,
# sys.prefix and the versions from metadata on the real sys.path. Independent of the probe's new code
# except versions_from_metadata (the metadata reader, unchanged).
OLD_WAY = r"""
import json, os, site, struct, sys
import arcgis_probe as probe
packages = json.loads(sys.argv[1])
if hasattr(site, "getsitepackages"):
    paths = list(site.getsitepackages())
else:
    paths = [e for e in sys.path if os.path.basename(e.rstrip("\\/")) in probe.SITE_DIR_NAMES]
named = [e for e in paths if os.path.basename(e.rstrip("\\/")).lower() in probe.SITE_DIR_NAMES]
found = probe.versions_from_metadata(packages, list(sys.path))
print(json.dumps({
    "python": {
        "version": ".".join(str(part) for part in sys.version_info[:3]),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "bits": struct.calcsize("P") * 8,
        "site_packages": named or paths,
        "user_site": site.getusersitepackages(),
        "user_site_enabled": bool(site.ENABLE_USER_SITE),
    },
    "packages": dict((name, found.get(name)) for name in packages),
    "sys_path": sys.path,
}))
"""


def probe_copy(tmp_path: Path) -> Path:
    """The probe in a directory of its own (sys.path[0] for both ways; no .pyc in the repository)."""
    where = tmp_path / "probe"
    where.mkdir(exist_ok=True)
    shutil.copy2(PROBE, where / PROBE.name)
    return where


def normal_start_report(python: str, packages: list[str], tmp_path: Path) -> dict:
    where = probe_copy(tmp_path)
    proc = subprocess.run(
        [python, "-E", "-c", OLD_WAY, json.dumps(packages)],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=where,
        check=True,
    )
    old = json.loads(proc.stdout.splitlines()[-1])
    # The probe's search path under -S is the normal start's sys.path ('' is the cwd, made absolute).
    search = json.loads(
        subprocess.run(
            [
                python,
                "-E",
                "-S",
                "-c",
                "import json, arcgis_probe as p; print(json.dumps(p.normal_start()['search_path']))",
            ],
            capture_output=True,
            text=True,
            env=clean_env(),
            cwd=where,
            check=True,
        ).stdout
    )
    normal_path = [os.path.abspath(os.path.join(str(where), entry)) for entry in old.pop("sys_path")]
    assert search == normal_path
    return old


@pytest.mark.parametrize("flags", [("-E", "-S"), ("-E",)], ids=["host-flags", "without-S"])
def test_report_with_S_equals_the_report_of_a_normal_start(arcgis_venv, tmp_path, flags):
    """For a clean interpreter, -S changes nothing in the report: paths, user site state, versions
    (including xlrd, reached only through a plain-path .pth line, and the eggs easy-install.pth adds)."""
    python, venv, _, markers = arcgis_venv
    packages = [*DEFAULTS, "xlrd", "not-installed-anywhere"]
    old = normal_start_report(python, packages, tmp_path)
    assert old["packages"]["xlrd"] == "0.9.3"
    assert old["packages"]["six"] == "1.9.0"
    assert old["packages"]["pandas"] == "0.16.1"
    assert old["python"]["prefix"] == str(venv)
    where = probe_copy(tmp_path)
    proc = subprocess.run(
        [python, *flags, str(where / PROBE.name), *packages],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=True,
    )
    assert json.loads(proc.stdout) == old
    if "-S" in flags:
        assert not list(markers.iterdir())  # nothing was imported


PLANTED = ("pth-ran", "sitecustomize-ran", "usercustomize-ran")


def plant(site: Path, user_site: Path, markers: Path) -> None:
    """What a student can write into C:\\Python27\\ArcGIS10.x\\Lib\\site-packages (and their user site)."""
    pth, sitecustomize, usercustomize = (str(markers / name) for name in PLANTED)
    write(site / "evil.pth", f"import os; open({pth!r}, 'w').close()\n")
    write(site / "sitecustomize.py", f"open({sitecustomize!r}, 'w').close()\n")
    write(user_site / "usercustomize.py", f"open({usercustomize!r}, 'w').close()\n")


def test_planted_pth_and_customize_files_do_not_run_in_the_probe(arcgis_venv):
    python, _, site, markers = arcgis_venv
    user_site = Path(ask(python, "import site; print(site.getusersitepackages())"))
    plant(site, user_site, markers)
    report = run_probe(python, *DEFAULTS, "xlrd")  # -E -S, as the host runs it
    assert not list(markers.iterdir())
    assert report["packages"]["xlrd"] == "0.9.3"  # the plain-path .pth lines still count
    assert report["packages"]["numpy"] == "1.9.2"


def test_the_same_planted_files_do_run_without_S(arcgis_venv):
    """The test above can fail: without -S, site.py runs the very files planted there."""
    python, _, site, markers = arcgis_venv
    user_site = Path(ask(python, "import site; print(site.getusersitepackages())"))
    plant(site, user_site, markers)
    report = run_probe(python, *DEFAULTS, flags=("-E",))
    ran = sorted(path.name for path in markers.iterdir())
    if report["python"]["user_site_enabled"]:  # usercustomize runs only with the user site on
        assert ran == sorted(PLANTED)
    else:
        assert ran == sorted(PLANTED[:2])


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
