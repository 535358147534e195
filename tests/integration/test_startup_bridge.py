"""The startup bridge under real interpreters: two Python prefixes stand for the ArcGIS Python and the
conda env; the hook is installed exactly as the role plans it (same plan functions, same role files),
in both scopes, and both sides are started for real.

Why prefix copies rather than venvs: a venv turns the user site off (site.ENABLE_USER_SITE is False
unless --system-site-packages, which then appends the base interpreter's site-packages after the machine
hook), and Python 2.7 has no venv. A prefix copy (the interpreter binary copied into <prefix>/bin, the
standard library linked into <prefix>/lib/pythonX.Y, an empty site-packages) is a real CPython with its
own sys.prefix, site-packages and enabled user site: the shape of C:\\Python27\\ArcGIS10.4 and of a conda
env. PYTHONUSERBASE points each run at one fake profile, as %APPDATA%\\Python does on Windows.
The interpreters: the one running the tests, plus Python 2.7 (ArcMap's) and 3.13 where installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import startup_bridge_plan as bp
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.startup_bridge_verdict import judge_results

ROOT = Path(__file__).resolve().parent.parent.parent
FILES = ROOT / "roles" / "startup_bridge" / "files"
VERIFY_SCRIPT = (FILES / bp.VERIFY_NAME).read_text(encoding="ascii")


def _find_python(version: str) -> str | None:
    """A working pythonX.Y: pyenv's installed versions first (its shims fail for unselected versions)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [str(p) for p in sorted(pyenv.glob(f"{version}.*/bin/python{version}"))]
    candidates.append(shutil.which(f"python{version}") or "")
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-S", "-c", "pass"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return candidate
    return None


def _base_pythons() -> list[Any]:
    own = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    params = [pytest.param(str(own), id=f"py{sys.version_info[0]}.{sys.version_info[1]}")]
    for version in ("2.7", "3.13"):
        exe = _find_python(version)
        marks = [] if exe else [pytest.mark.skip(reason=f"no Python {version} on this machine")]
        params.append(pytest.param(exe, id=f"py{version}", marks=marks))
    return params


BASES = _base_pythons()


def make_prefix(base: str, dest: Path) -> Path:
    """A real interpreter with its own prefix: binary copied, stdlib linked, empty site-packages."""
    probe = (
        "import json, os, sys; sys.stdout.write(json.dumps([os.path.dirname(os.__file__), sys.executable]))"
    )
    stdlib, exe = json.loads(subprocess.check_output([base, "-S", "-c", probe]))
    version = Path(stdlib).name.replace("python", "")
    (dest / "bin").mkdir(parents=True)
    target = dest / "bin" / f"python{version}"
    shutil.copy2(os.path.realpath(exe), target)
    lib = dest / "lib" / f"python{version}"
    lib.mkdir(parents=True)
    for entry in os.listdir(stdlib):
        if entry != "site-packages":
            (lib / entry).symlink_to(Path(stdlib) / entry)
    (lib / "site-packages").mkdir()
    return target


def clean_env(userbase: Path | str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ARCGIS_CONDA_BRIDGE"))}
    env["PYTHONUSERBASE"] = str(userbase)
    env.update(extra or {})
    return env


def run(
    exe: Path | str, code: str, userbase: Path | str, *flags: str, **extra: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(exe), *flags, "-c", code],
        env=clean_env(userbase, extra),
        capture_output=True,
        text=True,
        timeout=60,
    )


SHOW = (
    "import json, sys; b = sys.modules.get('arcgis_conda_bridge'); "
    "sys.stdout.write('\\nRESULT ' + json.dumps({'path': sys.path, 'runs': b.REPORT if b else None}))"
)


def show(exe: Path, userbase: Path | str, *flags: str, **extra: str) -> dict[str, Any]:
    proc = run(exe, SHOW, userbase, *flags, **extra)
    assert proc.returncode == 0, proc.stderr
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return {**json.loads(line[len("RESULT ") :]), "stdout": proc.stdout, "stderr": proc.stderr}


@dataclass
class Lab:
    tmp: Path
    version: str
    bits: int
    arcgis_exe: Path
    env_exe: Path
    arcgis_sp: Path
    env_sp: Path
    install_dir: Path
    installs: list[dict[str, Any]]
    envs: list[dict[str, Any]]
    users_dir: Path
    nobody: Path


def site_packages(exe: Path) -> Path:
    prefix = exe.parent.parent
    return next((prefix / "lib").glob("python*/site-packages"))


def build_lab(tmp: Path, base: str, env_maker: Any = None) -> Lab:
    arcgis_exe = make_prefix(base, tmp / "Python" / "ArcGIS")
    env_exe = env_maker(tmp) if env_maker else make_prefix(base, tmp / "Miniconda" / "envs" / "arc")
    info = json.loads(
        subprocess.check_output(
            [
                str(arcgis_exe),
                "-S",
                "-c",
                "import json,struct,sys; sys.stdout.write(json.dumps("
                "['%d.%d' % sys.version_info[:2], struct.calcsize('P') * 8, sys.prefix]))",
            ]
        )
    )
    version, bits, arcgis_prefix = info
    env_prefix = subprocess.check_output(
        [str(env_exe), "-s", "-c", "import sys; sys.stdout.write(sys.prefix)"]
    )
    arcgis_sp, env_sp = site_packages(arcgis_exe), site_packages(env_exe)
    (arcgis_sp / "arcgis_only.py").write_text("WHO = 'arcgis'\n")
    (env_sp / "env_only.py").write_text("WHO = 'env'\n")
    # A compiled package only the env has (as pyzmq or tornado in a real one): a stdlib extension module
    # copied into a package keeps its init function (PyInit__json / init_json) as a submodule.
    extension = subprocess.check_output(
        [base, "-S", "-c", "import sys, _json; sys.stdout.write(_json.__file__)"], text=True
    )
    (env_sp / "envcompiled").mkdir()
    (env_sp / "envcompiled" / "__init__.py").write_text("")
    shutil.copy(extension, env_sp / "envcompiled" / Path(extension).name)
    # ArcGIS Desktop's layout: arcpy, bin and ArcToolbox\Scripts outside the Python, named by a .pth file
    # in ArcGIS's site-packages (Desktop10.x.pth), here with an import line the env must never execute.
    install_dir = tmp / "ArcGIS" / "Desktop"
    (install_dir / "arcpy" / "arcpy").mkdir(parents=True)
    (install_dir / "arcpy" / "arcpy" / "__init__.py").write_text("def ProductInfo():\n    return 'ArcInfo'\n")
    (install_dir / "bin").mkdir()
    (install_dir / "bin" / "arcgisscripting_stub.py").write_text("WHO = 'bin'\n")
    (install_dir / "ArcToolbox" / "Scripts").mkdir(parents=True)
    (arcgis_sp / "Desktop.pth").write_text(
        "# written by the ArcGIS installer\n"
        f"{install_dir / 'bin'}\n{install_dir / 'arcpy'}\n"
        "import sys; sys.stdout.write('ARCGIS_PTH_IMPORT_RAN\\n')\n"
        f"{install_dir / 'ArcToolbox' / 'Scripts'}\n"
    )
    install = {
        "id": f"desktop-10.4.1-{bits}",
        "product": "desktop",
        "version": "10.4.1",
        "install_dir": str(install_dir),
        "python_exe": str(arcgis_exe),
        "python_version": version + ".0",
        "python_major_minor": version,
        "bits": bits,
        "prefix": arcgis_prefix,
        "site_packages": [str(arcgis_sp)],
        "user_site": None,
        "user_site_enabled": True,
        "packages": {},
        "pro_conda_root": None,
        "pro_conda_env": None,
        "status": "ok",
        "problems": [],
    }
    env = {
        "arcgis_id": install["id"],
        "name": "arc",
        "prefix": env_prefix.decode(),
        "python_exe": str(env_exe),
        "site_packages": [str(env_sp)],
        "python_major_minor": version,
        "bits": bits,
        "kind": "conda",
    }
    users_dir = tmp / "Users"
    for name in ("Default", "alice"):
        (users_dir / name).mkdir(parents=True)
    nobody = tmp / "nobody"
    nobody.mkdir()
    return Lab(
        tmp,
        version,
        bits,
        arcgis_exe,
        env_exe,
        arcgis_sp,
        env_sp,
        install_dir,
        [install],
        [env],
        users_dir,
        nobody,
    )


def plan_for(
    lab: Lab, scope: str, state: str, *, installs=None, envs=None, verify_arcpy=True
) -> bp.BridgePlan:
    """What the action plugin does, with the host reads done locally."""

    def list_dirs(root: str) -> list[str]:
        return [str(p) for p in Path(root).iterdir() if p.is_dir()]

    def checksums(paths: list[str]) -> dict[str, str | None]:
        return {p: bp.sha1(Path(p).read_bytes()) for p in paths if Path(p).is_file()}

    return bp.plan_startup_bridge(
        lab.installs if installs is None else installs,
        lab.envs if envs is None else envs,
        scope=scope,
        state=state,
        users=["alice", "bob"],
        default_profile=True,
        profiles_dir=str(lab.users_dir),
        verify_arcpy=verify_arcpy,
        list_dirs=list_dirs,
        checksums=checksums,
        flavour="posix",
    )


def apply(plan: bp.BridgePlan) -> list[str]:
    """The role's tasks, in their order: win_file directory, win_copy remote_src (backups), win_copy src,
    win_copy content, win_copy remote_src (restores), win_file absent. Returns the paths it changed."""
    changed = []
    for folder in plan.dirs:
        if not Path(folder).is_dir():
            Path(folder).mkdir(parents=True)
            changed.append(folder)

    def put(dest: str, data: bytes) -> None:
        if not Path(dest).is_file() or Path(dest).read_bytes() != data:
            Path(dest).write_bytes(data)
            changed.append(dest)

    for item in plan.backups:
        put(item["dest"], Path(item["src"]).read_bytes())
    for item in plan.copies:
        put(item["dest"], (FILES / item["src"]).read_bytes())
    for item in plan.contents:
        put(item["dest"], item["content"].encode("utf-8"))
    for item in plan.restores:
        put(item["dest"], Path(item["src"]).read_bytes())
    for path in plan.removes:
        if Path(path).exists():
            Path(path).unlink()
            changed.append(path)
    for path in plan.remove_if_empty:
        if Path(path).is_dir() and not any(Path(path).iterdir()):
            Path(path).rmdir()
            changed.append(path)
    return changed


def verify(plan: bp.BridgePlan) -> dict[str, Any]:
    """The role's verify tasks: each planned run, the script on stdin, then the controller's verdict."""
    results = []
    for item in plan.verify:
        userbase = item["environment"].get("PYTHONUSERBASE") or "/nonexistent-userbase"
        proc = subprocess.run(
            item["argv"],
            input=VERIFY_SCRIPT,
            env=clean_env(userbase),
            capture_output=True,
            text=True,
            timeout=60,
        )
        results.append({"item": item, "rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr})
    return judge_results(results)


def user_site(lab: Lab, profile: str) -> Path:
    return Path(
        bp.user_site_folder(
            bp.profile_userbase(str(lab.users_dir / profile), "posix"), lab.version, lab.bits, "posix"
        )
    )


def userbase(lab: Lab, profile: str) -> Path:
    return Path(bp.profile_userbase(str(lab.users_dir / profile), "posix"))


TEST_MODULES = ("env_only", "arcgis_only", "arcgisscripting_stub", "arcpy")


def tree(*roots: Path) -> dict[str, bytes]:
    """Every file under roots, except the bytecode the tests' own stand-in modules leave."""
    return {
        str(p): p.read_bytes()
        for r in roots
        if r.exists()
        for p in sorted(r.rglob("*"))
        if p.is_file() and not (p.suffix == ".pyc" and p.name.startswith(TEST_MODULES))
    }


def assert_added_last(seen: dict[str, Any], own_sp: Path) -> list[str]:
    """Everything the bridge added is the tail of sys.path, after the interpreter's own site-packages."""
    added = [p for r in seen["runs"] for p in r.get("added", [])]
    assert added, seen
    assert seen["path"][-len(added) :] == added
    assert seen["path"].index(str(own_sp)) < len(seen["path"]) - len(added)
    assert len(set(map(os.path.realpath, seen["path"]))) == len(seen["path"]), "a folder is on sys.path twice"
    return added


@pytest.fixture(params=BASES)
def lab(request, tmp_path) -> Lab:
    return build_lab(tmp_path, request.param)


def test_machine_scope_bridges_both_ways_last_and_absent_removes_exactly_it(lab):
    before = tree(lab.arcgis_sp, lab.env_sp)
    assert run(lab.arcgis_exe, "import env_only", lab.nobody).returncode != 0

    plan = plan_for(lab, "machine", "present")
    assert apply(plan)

    arcgis = show(lab.arcgis_exe, lab.nobody, "-s")
    assert arcgis["stderr"] == ""
    assert assert_added_last(arcgis, lab.arcgis_sp) == [str(lab.env_sp)]
    env = show(lab.env_exe, lab.nobody, "-s")
    assert env["stderr"] == ""
    added = assert_added_last(env, lab.env_sp)
    # ArcGIS's site-packages, then the folders its Desktop.pth names, in its order; its import line never ran.
    assert added == [
        str(lab.arcgis_sp),
        *(str(lab.install_dir / p) for p in ("bin", "arcpy", "ArcToolbox/Scripts")),
    ]
    assert "ARCGIS_PTH_IMPORT_RAN" not in env["stdout"]
    assert "ARCGIS_PTH_IMPORT_RAN" in arcgis["stdout"]  # in ArcGIS's own Python it is ArcGIS's business

    cross = run(
        lab.env_exe,
        "import arcgis_only, arcpy, arcgisscripting_stub; import sys; "
        "sys.stdout.write(arcgis_only.WHO + ' ' + arcpy.ProductInfo())",
        lab.nobody,
    )
    assert (cross.returncode, cross.stdout, cross.stderr) == (0, "arcgis ArcInfo", "")
    back = run(lab.arcgis_exe, "import env_only, sys; sys.stdout.write(env_only.WHO)", lab.nobody)
    assert back.stdout.endswith("env") and back.stderr == ""

    verdict = verify(plan)
    assert verdict["ok"], verdict["problems"]
    assert len(verdict["runs"]) == 2
    arcgis_notes = next(r["notes"] for r in verdict["runs"] if r["key"].startswith("arcgis:"))
    assert f"compiled envcompiled._json loads from {lab.env_sp}" in arcgis_notes

    # An extension module that cannot load (wrong build, a missing DLL) is a problem, named.
    built = next((lab.env_sp / "envcompiled").glob("_json*"))
    good = built.read_bytes()
    built.write_bytes(b"not a shared library")
    broken = verify(plan)
    assert any("envcompiled._json from" in p and "does not load" in p for p in broken["problems"])
    built.write_bytes(good)

    # Idempotent: the same plan again changes nothing on disk.
    again = plan_for(lab, "machine", "present")
    assert again.as_dict() == plan.as_dict()
    assert apply(again) == []

    removed = plan_for(lab, "machine", "absent")
    assert apply(removed)
    assert tree(lab.arcgis_sp, lab.env_sp) == before
    assert run(lab.arcgis_exe, "import env_only", lab.nobody).returncode != 0
    assert apply(plan_for(lab, "machine", "absent")) == []


def test_user_scope_bridges_per_profile_and_keeps_a_users_own_usercustomize(lab):
    alice_site = user_site(lab, "alice")
    alice_site.mkdir(parents=True)
    original = b"import sys\nsys.stdout.write('ALICE_OWN_USERCUSTOMIZE\\n')\nALICE = 1\n"
    (alice_site / "usercustomize.py").write_bytes(original)

    plan = plan_for(lab, "user", "present")
    assert plan.backups == [
        {"src": str(alice_site / "usercustomize.py"), "dest": str(alice_site / bp.BACKUP_NAME)}
    ]
    assert {
        "what": "profile bob",
        "why": bp.select_profiles([], ["bob"], True, "posix")[1][1].why,
    } in plan.skipped
    apply(plan)
    assert (alice_site / bp.BACKUP_NAME).read_bytes() == original

    for profile in ("alice", "Default"):
        arcgis = show(lab.arcgis_exe, userbase(lab, profile))
        assert arcgis["stderr"] == ""
        assert assert_added_last(arcgis, lab.arcgis_sp) == [str(lab.env_sp)]
        env = show(lab.env_exe, userbase(lab, profile))
        assert assert_added_last(env, lab.env_sp)[0] == str(lab.arcgis_sp)
        assert ("ALICE_OWN_USERCUSTOMIZE" in arcgis["stdout"]) == (profile == "alice")
        assert ("ALICE_OWN_USERCUSTOMIZE" in env["stdout"]) == (profile == "alice")
    ran = run(
        lab.env_exe,
        "import usercustomize, arcpy, sys; sys.stdout.write(str(usercustomize.ALICE))",
        userbase(lab, "alice"),
    )
    assert ran.stdout.endswith("1") and ran.stderr == ""
    # A profile the role did not touch sees nothing of the bridge.
    assert run(lab.arcgis_exe, "import env_only", lab.nobody).returncode != 0

    verdict = verify(plan)
    assert verdict["ok"], verdict["problems"]

    again = plan_for(lab, "user", "present")
    assert again.backups == [] and apply(again) == []

    apply(plan_for(lab, "user", "absent"))
    assert (alice_site / "usercustomize.py").read_bytes() == original
    assert sorted(p.name for p in alice_site.iterdir() if p.name != "__pycache__") == ["usercustomize.py"]
    assert not (lab.users_dir / "Default" / ".local").exists()  # the folders present created, gone again
    assert run(lab.arcgis_exe, "import env_only", userbase(lab, "Default")).returncode != 0


def test_user_scope_refuses_to_lose_a_second_user_file(lab):
    alice_site = user_site(lab, "alice")
    alice_site.mkdir(parents=True)
    (alice_site / "usercustomize.py").write_text("FIRST = 1\n")
    apply(plan_for(lab, "user", "present"))
    (alice_site / "usercustomize.py").write_text("SECOND = 2\n")
    with pytest.raises(bp.PlanError, match="merge the two"):
        plan_for(lab, "user", "present")
    # Absent leaves both of the user's files alone and says so.
    removal = plan_for(lab, "user", "absent")
    assert str(alice_site / "usercustomize.py") not in removal.removes
    assert any(s["what"] == str(alice_site / bp.BACKUP_NAME) for s in removal.skipped)


def test_entries_for_another_python_version_or_bitness_are_skipped(lab):
    other_bits = 32 if lab.bits == 64 else 64
    other_version = "3.10" if lab.version != "3.10" else "3.9"
    installs, envs = list(lab.installs), list(lab.envs)
    for tag, version, bits in (("bits", lab.version, other_bits), ("version", other_version, lab.bits)):
        # Same ArcGIS prefix (ArcMap's 32-bit and 64-bit BGP Pythons share one user site folder), but an
        # entry for another bitness or Python: its env's module must stay out of reach.
        folder = lab.tmp / f"wrong_{tag}" / "site-packages"
        folder.mkdir(parents=True)
        (folder / f"wrong_{tag}.py").write_text("")
        installs.append(
            {**lab.installs[0], "id": f"wrong-{tag}", "python_major_minor": version, "bits": bits}
        )
        envs.append(
            {
                **lab.envs[0],
                "arcgis_id": f"wrong-{tag}",
                "name": f"w{tag}",
                "python_major_minor": version,
                "bits": bits,
                "prefix": str(folder.parent),
                "site_packages": [str(folder)],
            }
        )
    for scope, base in (("machine", lab.nobody), ("user", userbase(lab, "Default"))):
        plan = plan_for(lab, scope, "present", installs=installs, envs=envs)
        files = {
            c["dest"]: json.loads(c["content"]) for c in plan.contents if c["dest"].endswith(bp.DATA_NAME)
        }
        own = next(d for d in files.values() if any(e["id"] == "wrong-bits<-wbits" for e in d["entries"]))
        own_ids = {e["id"] for e in own["entries"]}
        if scope == "machine":  # one site-packages, so one data file holds all of them
            assert {"wrong-bits<-wbits", "wrong-version<-wversion"} <= own_ids
        else:  # another Python version has its own user site folder, hence its own data file
            assert "wrong-version<-wversion" not in own_ids
            assert any("wrong-version<-wversion" in {e["id"] for e in d["entries"]} for d in files.values())
        apply(plan)
        seen = show(lab.arcgis_exe, base)
        assert seen["stderr"] == ""
        skipped = {s["id"]: s["why"] for r in seen["runs"] for s in r["skipped"]}
        assert skipped["wrong-bits<-wbits"] == f"bits {other_bits} != {lab.bits}"
        if scope == "machine":
            assert skipped["wrong-version<-wversion"] == f"python {other_version} != {lab.version}"
        for tag in ("bits", "version"):
            assert run(lab.arcgis_exe, f"import wrong_{tag}", base).returncode != 0
        assert run(lab.arcgis_exe, "import env_only", base).returncode == 0
        apply(plan_for(lab, scope, "absent", installs=installs, envs=envs))


BROKEN_DATA = {
    "missing": None,
    "not_json": b"{not json",
    "binary": b"\xff\xfe\x00\x81garbage",
    "entries_not_a_list": b'{"schema": 1, "entries": "x"}',
    "future_schema": b'{"schema": 99, "entries": []}',
    "odd_entries": b'{"schema": 1, "entries": [5, {"match": null}, {"match": {"python": "%s", "bits": "x"}},'
    b' {"id": "e", "match": {"python": "%s", "bits": %d},'
    b' "site_dirs": [7, null], "paths": "C", "dll_dirs": 3}]}',
}


@pytest.mark.parametrize("case", sorted(BROKEN_DATA))
@pytest.mark.parametrize("scope", ["machine", "user"])
def test_a_broken_or_missing_data_file_never_breaks_start_up(lab, case, scope):
    plan = plan_for(lab, scope, "present")
    apply(plan)
    base = lab.nobody if scope == "machine" else userbase(lab, "Default")
    for item in plan.contents:
        if item["dest"].endswith(bp.DATA_NAME):
            data = BROKEN_DATA[case]
            if data is None:
                Path(item["dest"]).unlink()
            else:
                if b"%s" in data:
                    data = data % (lab.version.encode(), lab.version.encode(), lab.bits)
                Path(item["dest"]).write_bytes(data)
    for exe in (lab.arcgis_exe, lab.env_exe):
        quiet = run(exe, "import sys; sys.stdout.write('up')", base)
        assert (quiet.returncode, quiet.stdout.splitlines()[-1], quiet.stderr) == (0, "up", "")
        loud = run(exe, "import sys; sys.stdout.write('up')", base, ARCGIS_CONDA_BRIDGE_DEBUG="1")
        assert loud.returncode == 0 and loud.stdout.endswith("up")
        if case != "odd_entries":
            assert "arcgis_conda_bridge: data file" in loud.stderr and "unusable" in loud.stderr


def test_both_scopes_at_once_add_each_folder_once(lab):
    apply(plan_for(lab, "machine", "present"))
    apply(plan_for(lab, "user", "present"))
    for exe, own in ((lab.arcgis_exe, lab.arcgis_sp), (lab.env_exe, lab.env_sp)):
        seen = show(exe, userbase(lab, "alice"))
        assert len(seen["runs"]) == 2  # the machine .pth, then usercustomize.py
        assert_added_last(seen, own)


def test_disable_variable_switches_the_bridge_off(lab):
    apply(plan_for(lab, "machine", "present"))
    assert run(lab.arcgis_exe, "import env_only", lab.nobody).returncode == 0
    assert run(lab.arcgis_exe, "import env_only", lab.nobody, ARCGIS_CONDA_BRIDGE_DISABLE="1").returncode != 0


def _write_arcpy(lab: Lab, body: str) -> None:
    (lab.install_dir / "arcpy" / "arcpy" / "__init__.py").write_text(body)


@pytest.mark.parametrize(
    ("arcpy_body", "kind"),
    [
        ("raise ImportError('DLL load failed: %1 is not a valid Win32 application.')\n", "[bitness]"),
        (
            "raise ImportError('Importing the numpy C-extensions failed. This error can happen')\n",
            "[numpy_abi]",
        ),
        ("raise RuntimeError('NotInitialized')\n", "[licence]"),
    ],
)
def test_verify_names_the_known_arcpy_failures(lab, arcpy_body, kind):
    plan = plan_for(lab, "machine", "present")
    apply(plan)
    _write_arcpy(lab, arcpy_body)
    verdict = verify(plan)
    assert not verdict["ok"]
    (problem,) = verdict["problems"]
    assert kind in problem and lab.envs[0]["name"] in problem and "import arcpy failed" in problem


def test_verify_names_a_missing_hook_and_a_missing_env(lab):
    plan = plan_for(lab, "machine", "present", verify_arcpy=False)
    apply(plan)
    pth = next(
        c["dest"]
        for c in plan.contents
        if c["dest"].endswith(bp.PTH_NAME) and str(lab.arcgis_sp) in c["dest"]
    )
    Path(pth).unlink()
    shutil.rmtree(lab.env_sp)
    verdict = verify(plan)
    text = "\n".join(verdict["problems"])
    assert "ArcGIS Python desktop-" in text and "the bridge did not run" in text
    assert f"{lab.env_sp} is not on sys.path" in text


def test_a_venv_env_is_bridged_in_machine_scope_but_has_no_user_site(tmp_path):
    def venv(tmp: Path) -> Path:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv-env")], check=True)
        return tmp / "venv-env" / "bin" / "python"

    lab = build_lab(tmp_path, str(BASES[0].values[0]), env_maker=venv)
    assert (
        run(lab.env_exe, "import site, sys; sys.stdout.write(str(site.ENABLE_USER_SITE))", lab.nobody).stdout
        == "False"
    )
    apply(plan_for(lab, "machine", "present"))
    seen = show(lab.env_exe, lab.nobody)
    assert assert_added_last(seen, lab.env_sp)[0] == str(lab.arcgis_sp)
    apply(plan_for(lab, "machine", "absent"))
    apply(plan_for(lab, "user", "present"))
    assert show(lab.env_exe, userbase(lab, "Default"))["runs"] is None  # usercustomize never runs in a venv


def test_hook_and_shim_are_valid_python_2_7_and_3(lab):
    """Beyond vermin: compile the shipped files under the lab's interpreter (2.7 among them)."""
    for name in (bp.HOOK_NAME, bp.SHIM_NAME, bp.VERIFY_NAME):
        path = FILES / name
        proc = run(lab.arcgis_exe, f"compile(open({str(path)!r}).read(), {name!r}, 'exec')", lab.nobody, "-S")
        assert proc.returncode == 0, proc.stderr
        assert path.read_bytes().isascii()


@pytest.mark.parametrize("scope", ["machine", "user"])
def test_a_data_file_saved_with_a_bom_still_works(lab, scope):
    """Notepad saves UTF-8 with a BOM. Under Python 2.7 a "\\ufeff" literal is six bytes, so a hook that
    compares with it keeps the BOM, json.loads fails and the bridge silently adds nothing."""
    plan = plan_for(lab, scope, "present")
    apply(plan)
    for item in plan.contents:
        if item["dest"].endswith(bp.DATA_NAME):
            Path(item["dest"]).write_bytes(b"\xef\xbb\xbf" + item["content"].encode("utf-8"))
    base = lab.nobody if scope == "machine" else userbase(lab, "Default")
    for exe, own in ((lab.arcgis_exe, lab.arcgis_sp), (lab.env_exe, lab.env_sp)):
        seen = show(exe, base)
        assert [run["error"] for run in seen["runs"]] == [None], seen["runs"]
        assert_added_last(seen, own)


@pytest.mark.parametrize("base", BASES)
def test_an_entrys_environ_is_set_unless_the_process_set_it(tmp_path, base):
    """CONDA_DLL_SEARCH_MODIFICATION_ENABLE for Anaconda's 3.8/3.9 (conda/conda#10897): set by the hook
    before it adds DLL folders, and never over a value the user's process chose."""
    shutil.copy(FILES / bp.HOOK_NAME, tmp_path / bp.HOOK_NAME)
    version = subprocess.check_output([base, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    bits = int(subprocess.check_output([base, "-c", "import struct; print(struct.calcsize('P') * 8)"]))
    entry = bp.BridgeEntry(
        id="e",
        match={"python": version.decode().strip(), "bits": bits},
        site_dirs=[],
        environ={bp.DLL_SEARCH_VAR: "1"},
    )
    (tmp_path / bp.DATA_NAME).write_text(bp.data_file([entry]))
    code = (
        "import os, sys; sys.path.insert(0, sys.argv[1]); import arcgis_conda_bridge as b; "
        "b.run(os.path.join(sys.argv[1], 'arcgis_conda_bridge.json')); "
        f"sys.stdout.write(os.environ.get('{bp.DLL_SEARCH_VAR}', 'unset'))"
    )
    for preset, want in ((None, "1"), ("0", "0")):
        env = clean_env(tmp_path, {bp.DLL_SEARCH_VAR: preset} if preset else {})
        env.pop(bp.DLL_SEARCH_VAR, None) if preset is None else None
        out = subprocess.run([base, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True)
        assert (out.returncode, out.stdout) == (0, want), out.stderr
