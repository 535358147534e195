"""`ansible-test sanity` on the collection as users get it: the built tarball, offline apart from PyPI.

The files git knows (tracked, and new ones not ignored: what a commit would hold) are copied to a scratch
folder, ``ansible-galaxy collection build`` makes the tarball from them (galaxy.yml's build_ignore decides
what ships: the plugins, roles and playbooks, and tests/config.yml and tests/sanity/ with them, as
ansible.windows ships its tests), and the tarball is unpacked into a temporary
``ansible_collections/arcgis_conda/fleet``, where ansible-test runs. Nothing is written into the working
tree. So what the sanity tests pass is exactly what Galaxy would install; the development files (the
simulated workstation, the pytest suites, tools) are not in it, and ruff lints them.

ansible-test runs each sanity test in its own virtualenv (``~/.ansible/test/venv``, cached, keyed by
ansible-core's pinned ``sanity.*.txt``), created with pip from PyPI. It bootstraps pip with
``get-pip.py`` from ci-files.testing.ansible.com, which is not reachable here; ``--prime`` (run by
``make setup``) puts a stand-in in ansible-test's cache that installs the same pip from its PyPI wheel,
and creates the virtualenvs, so ``make test`` downloads nothing.

Controller Pythons: ansible-core 2.19 runs on 3.11-3.13; multi-version tests (compile, import) run on
each one found (the project venv's, and pyenv's ``python3.12``/``python3.13``), and say which they skip.

    python tools/ansible_sanity.py            # all sanity tests
    python tools/ansible_sanity.py --prime    # bootstrap + virtualenvs only (make setup)
    python tools/ansible_sanity.py -- --test pylint   # extra ansible-test arguments after --
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE, NAME = "arcgis_conda", "fleet"
LEFT_OUT = ("collections/",)  # the checkout's symlink to itself
CONTROLLER_PYTHONS = ("3.11", "3.12", "3.13")  # ansible-core 2.19's controller Pythons
CACHE = Path.home() / ".ansible" / "test" / "cache"

# ansible-test runs `python get_pip_<ver>.py pip==<ver> --disable-pip-version-check --no-setuptools
# --no-wheel` in a virtualenv created without pip. This does what get-pip.py does - install that pip -
# with pip run from its own wheel (a wheel is importable), fetched from PyPI by --prime.
GET_PIP = '''"""ansible-test's pip bootstrap, written by arcgis-conda fleet tools/ansible_sanity.py."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "{wheel}"))
from pip._internal.cli.main import main  # noqa: E402

sys.exit(main(["install", *[a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]]))
'''


def pip_version() -> str:
    """The pip ansible-test bootstraps into its virtualenvs."""
    from ansible_test._internal.python_requirements import get_venv_packages

    class Python:  # get_venv_packages only reads .version
        version = f"{sys.version_info.major}.{sys.version_info.minor}"

    return get_venv_packages(Python())["pip"]  # type: ignore[arg-type]


def ensure_bootstrap() -> None:
    """Put the pip bootstrap stand-in into ansible-test's cache (downloads pip's wheel from PyPI once)."""
    version = pip_version()
    script = CACHE / f"get_pip_{version.replace('.', '_')}.py"
    wheel = f"pip-{version}-py3-none-any.whl"
    if script.exists() and (CACHE / wheel).exists():
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "-d",
            str(CACHE),
            f"pip=={version}",
        ],
        check=True,
    )
    script.write_text(GET_PIP.format(wheel=wheel), encoding="utf-8")


def collection_files() -> list[str]:
    """What a commit would hold: tracked files that still exist, plus new files git does not ignore."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    names = sorted({n for n in out.split("\0") if n})
    return [n for n in names if not n.startswith(LEFT_OUT) and os.path.lexists(ROOT / n)]


def copy_tree(dest: Path) -> None:
    for name in collection_files():
        src, dst = ROOT / name, dest / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)


def unpacked_tarball(scratch: Path, dest: Path) -> Path:
    """Build the collection tarball from a copy of the commit's files and unpack it at ``dest``."""
    src = scratch / "src"
    copy_tree(src)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-galaxy"),
            "collection",
            "build",
            "--output-path",
            str(scratch / "dist"),
            str(src),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    (tarball,) = (scratch / "dist").glob(f"{NAMESPACE}-{NAME}-*.tar.gz")
    print(out.stdout.strip())
    dest.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(dest, filter="data")
    # ansible-test lists a collection's files with git when it is a repository: make it one.
    subprocess.run(["git", "init", "--quiet"], cwd=dest, check=True)
    subprocess.run(["git", "add", "--all"], cwd=dest, check=True)
    return tarball


def python_path_dir(scratch: Path) -> Path:
    """A PATH entry with ``python3.X`` for every controller Python found (pyenv's shims need a version)."""
    bindir = scratch / "bin"
    bindir.mkdir()
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for version in CONTROLLER_PYTHONS:
        if version == f"{sys.version_info.major}.{sys.version_info.minor}":
            found = sys.executable
        else:
            found = next((str(p) for p in sorted(pyenv.glob(f"{version}.*/bin/python{version}"))), None)
        if found:
            (bindir / f"python{version}").symlink_to(found)
    return bindir


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prime", action="store_true", help="bootstrap and create the virtualenvs only")
    parser.add_argument("extra", nargs="*", help="more ansible-test sanity arguments (after --)")
    args = parser.parse_args()

    ensure_bootstrap()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fleet-sanity-") as tmp:
        scratch = Path(tmp)
        dest = scratch / "ansible_collections" / NAMESPACE / NAME
        unpacked_tarball(scratch, dest)
        env = dict(os.environ)
        # pyenv's shims answer for every version but fail for unselected ones: hide them, so ansible-test
        # finds exactly the controller Pythons linked here (and skips the others).
        rest = [p for p in env["PATH"].split(os.pathsep) if not p.rstrip("/").endswith("/shims")]
        env["PATH"] = os.pathsep.join(
            [str(python_path_dir(scratch)), str(Path(sys.executable).parent), *rest]
        )
        env.pop("ANSIBLE_COLLECTIONS_PATH", None)  # the copy's own ansible_collections is the one to test
        env.pop("ANSIBLE_CONFIG", None)
        cmd = [str(Path(sys.executable).parent / "ansible-test"), "sanity", "--local", "--color", "no"]
        if args.prime:
            cmd.append("--prime-venvs")
        result = subprocess.run([*cmd, *args.extra], cwd=dest, env=env, check=False)
    print(f"ansible-test sanity: exit {result.returncode} in {time.monotonic() - started:.0f} s")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
