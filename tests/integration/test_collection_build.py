"""The collection as a user gets it: build the tarball, check what it holds, install it, run it by FQCN.

`ansible-galaxy collection build` of this checkout must ship what a user of arcgis_conda.fleet needs
(plugins, roles, playbooks with site, meta, docs, README, CHANGELOG and changelogs/, LICENSE,
requirements.txt, and tests/config.yml + tests/sanity/ for ansible-test) and none of the development
files (the test suites, Molecule, tools, benchmarks, the example inventory and its vault, the
demo CA, caches). The installed copy - in a temporary collections path, run from a folder that is not
this checkout - must document every plugin (what galaxy-importer reads) and run `arcgis_conda.fleet.site`
end to end against a simulated workstation (tests/simwin).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import warnings
from pathlib import Path

import pytest
from simwin import lab as simlab
from simwin.testing import make_lab

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CERT = ROOT / "files" / "demo-lab-root-ca.crt"

# What a user needs, by top-level entry; anything else in the tarball is a leak of the dev tree.
SHIPPED_DIRS = {"plugins", "roles", "playbooks", "meta", "docs", "changelogs"}
# tests/: only what ansible-test sanity needs on the installed copy (as ansible.windows ships its tests).
SHIPPED_TESTS = {"tests/config.yml", "tests/sanity/ignore-2.19.txt"}
SHIPPED_FILES = {
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "CHANGELOG.md",
    "LICENSE",
    "requirements.txt",
    "site.yml",
}
NEVER = (
    *("__pycache__", ".pyc", ".retry", "vault", ".ruff_cache", ".pytest_cache"),
    *("tests/unit", "tests/integration", "simwin", "conftest", "molecule"),
)


def clean_env(**extra: str) -> dict[str, str]:
    """No trace of this checkout's ansible.cfg or collections/ symlink: the installed copy alone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_NOCOLOR="1", PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", **extra)
    return env


def tracked(*paths: str) -> list[str]:
    """The files a commit would hold: tracked, and new ones git does not ignore."""
    cmd = ["git", "ls-files", "--cached", "--others", "--exclude-standard", *paths]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    return [name for name in out.stdout.splitlines() if (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """Build from a clean copy of the tracked files (the working tree's caches do not count) and install."""
    base = tmp_path_factory.mktemp("collection")
    src = base / "src"
    for name in tracked():
        if name.startswith("collections/"):
            continue
        dst = src / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes((ROOT / name).read_bytes())
    # A developer's leftovers must not ship either: what the working tree typically holds.
    for junk in (
        "reports/last-run/lab_x.json",
        ".pytest_cache/v/x",
        "plugins/filter/__pycache__/arcgis.cpython-311.pyc",
    ):
        (src / junk).parent.mkdir(parents=True, exist_ok=True)
        (src / junk).write_text("junk\n")
    out = base / "dist"
    env = clean_env()
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(src)],
        cwd=base,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (tarball,) = out.glob("arcgis_conda-fleet-*.tar.gz")
    collections = base / "collections"
    subprocess.run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "install",
            "--offline",
            "--no-deps",
            "-p",
            str(collections),
            str(tarball),
        ],
        cwd=base,
        env=clean_env(ANSIBLE_COLLECTIONS_PATH=str(collections)),
        check=True,
        capture_output=True,
        timeout=300,
    )
    run_dir = base / "run"  # the user's own project folder
    run_dir.mkdir()
    return {"tarball": tarball, "collections": collections, "run": run_dir}


def test_the_tarball_holds_what_a_user_needs_and_no_dev_files(installed: dict[str, Path]) -> None:
    with tarfile.open(installed["tarball"]) as tar:
        names = sorted(m.name for m in tar.getmembers() if m.isfile())
    tops = {n.split("/", 1)[0] for n in names}
    leaked = sorted(
        n for n in names if n.split("/", 1)[0] not in SHIPPED_DIRS | SHIPPED_FILES and n not in SHIPPED_TESTS
    )
    assert not leaked, f"development files in the tarball: {leaked}"
    assert not [n for n in names if any(bad in n for bad in NEVER)], names
    assert tops == SHIPPED_FILES | SHIPPED_DIRS | {"tests"}
    assert {n for n in names if n.startswith("tests/")} == SHIPPED_TESTS
    # Every tracked plugin, role and playbook file ships.
    wanted = {n for n in tracked(*SHIPPED_DIRS) if not n.endswith("/.keep")}
    assert wanted - set(names) == set(), "tracked collection files missing from the tarball"
    assert "playbooks/site.yml" in names
    with tarfile.open(installed["tarball"]) as tar:
        manifest = json.loads(tar.extractfile("MANIFEST.json").read())
    assert manifest["collection_info"]["license"] == ["MIT"]
    assert manifest["collection_info"]["dependencies"] == {"ansible.windows": ">=3.0.0,<4.0.0"}


def test_every_plugin_of_the_installed_copy_is_documented(installed: dict[str, Path]) -> None:
    """What galaxy-importer lists: each plugin type's plugins, each with docs that load."""
    env = clean_env(ANSIBLE_COLLECTIONS_PATH=str(installed["collections"]))
    root = installed["collections"] / "ansible_collections" / "arcgis_conda" / "fleet"
    expected = {
        "module": {p.stem for p in (root / "plugins" / "modules").glob("*.py")},
        "callback": {p.stem for p in (root / "plugins" / "callback").glob("*.py")},
        # A filter plugin file may hold several filters: each is documented by its own <name>.yml.
        "filter": {p.stem for p in (root / "plugins" / "filter").glob("*.yml")},
    }
    for kind, names in expected.items():
        proc = subprocess.run(
            [str(BIN / "ansible-doc"), "-t", kind, "--list", "--json", "arcgis_conda.fleet"],
            cwd=installed["run"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
        listed = {name.rsplit(".", 1)[-1] for name in json.loads(proc.stdout)}
        assert listed == names, f"{kind}: {listed} != {names}"
        fqcns = [f"arcgis_conda.fleet.{n}" for n in sorted(names)]
        proc = subprocess.run(
            [str(BIN / "ansible-doc"), "-t", kind, "--json", *fqcns],
            cwd=installed["run"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
        docs = json.loads(proc.stdout)
        for fqcn in fqcns:
            assert docs[fqcn]["doc"]["short_description"], fqcn
            assert "(!UNKNOWN)" in str(docs[fqcn]["doc"]["author"]), fqcn


def test_site_runs_by_fqcn_from_the_installed_copy_on_a_simulated_workstation(
    installed: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = make_lab(tmp_path / "lab", "reference")
    host = lab.hosts[0]
    cfg = (
        installed["run"] / "ansible.cfg"
    )  # a user's minimal settings: the installed collection, its callback
    cfg.write_text(
        "[defaults]\n"
        f"collections_path = {installed['collections']}\n"
        "callbacks_enabled = arcgis_conda.fleet.fleet_progress\n"
        "retry_files_enabled = false\n"
    )
    for key in [k for k in os.environ if k.startswith("ANSIBLE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ANSIBLE_CONFIG", str(cfg))
    extra = lab.dir / "extra.json"
    extra.write_text(json.dumps({"doi_cert_certificates": [{"path": str(CERT)}]}))

    proc = simlab.run(
        lab.dir,
        ["ansible-playbook", "arcgis_conda.fleet.site", "-e", f"@{extra}"],
        cwd=installed["run"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    rows = {
        r["host"]: r
        for r in json.loads((lab.dir / "reports" / "latest" / "lab_sim.json").read_text())["hosts"]
    }
    assert rows[host]["status"] == "ok", rows[host]
    assert rows[host]["bridge_verified"] is True
    assert rows[host]["planned"], "the installed copy planned nothing on a fresh workstation"
    # The run used the installed copy, not this checkout: no path of the checkout in the output.
    assert str(ROOT) not in out.replace(str(CERT), ""), "the run reached into the checkout"


def test_the_execution_environment_installs_this_collection(
    installed: dict[str, Path], tmp_path: Path
) -> None:
    """ansible-builder lays out the EE's build context from execution-environment.yml: the tarball of
    galaxy.yml's version is copied in and installed in the final image (AWX runs the fleet in that image)."""
    for name in ("execution-environment.yml", "collections/requirements.yml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    (tmp_path / "dist").mkdir()
    shutil.copy2(installed["tarball"], tmp_path / "dist" / installed["tarball"].name)
    proc = subprocess.run(
        [
            str(BIN / "ansible-builder"),
            "create",
            "-f",
            "execution-environment.yml",
            "-c",
            "context",
            "--output-filename",
            "Containerfile",
        ],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    name = installed["tarball"].name
    assert (tmp_path / "context" / "_build" / "collections" / name).read_bytes() == installed[
        "tarball"
    ].read_bytes()
    final = containerfile.rsplit("FROM ", 1)[1]  # the last stage: the image AWX runs
    assert (
        f"ansible-galaxy collection install --offline --no-deps -p /usr/share/ansible/collections /tmp/{name}"
        in final
    )
    assert "ansible-galaxy collection install" in containerfile and "requirements.yml" in containerfile


def run_importer(tarball: Path, tmp: Path) -> tuple[int, str]:
    """galaxy-importer with Automation Hub's rules (version >= 1.0.0, a required tag, a changelog).

    Its ansible-lint pass is off: it only ever warns, and `make ansible-lint` is the project's lint gate.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    env = clean_env(
        GALAXY_IMPORTER_RUN_ANSIBLE_LINT="false",
        GALAXY_IMPORTER_TMP_ROOT_DIR=str(tmp),
        GALAXY_IMPORTER_REQUIRE_V1_OR_GREATER="true",
        GALAXY_IMPORTER_CHECK_REQUIRED_TAGS="true",
        GALAXY_IMPORTER_CHECK_CHANGELOG="true",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "galaxy_importer.main", str(tarball)],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def with_repository(tarball: Path, dest: Path, url: str) -> Path:
    """A copy of the tarball whose MANIFEST.json names a repository (FILES.json does not cover it)."""
    dest.mkdir(parents=True, exist_ok=True)
    copy = dest / tarball.name
    with tarfile.open(tarball) as src, tarfile.open(copy, "w:gz") as out:
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            if member.name == "MANIFEST.json":
                manifest = json.loads(data.read())
                manifest["collection_info"]["repository"] = url
                raw = json.dumps(manifest, indent=4).encode()
                member.size = len(raw)
                data = io.BytesIO(raw)
            out.addfile(member, data)
    return copy


def test_galaxy_importer_accepts_the_tarball_and_drops_no_plugin(
    installed: dict[str, Path], tmp_path: Path
) -> None:
    """galaxy-importer (what Galaxy and Automation Hub run on upload), offline, on the built tarball.

    galaxy.yml names no repository while none is public, and the importer requires one: until it is set,
    this asserts that it is the importer's only objection, then checks the rest on a copy naming a
    stand-in (tarball contents unchanged).
    """
    tarball = installed["tarball"]
    with tarfile.open(tarball) as tar:
        info = json.loads(tar.extractfile("MANIFEST.json").read())["collection_info"]
    if not info["repository"]:
        code, out = run_importer(tarball, tmp_path / "as-built")
        assert code != 0 and "Invalid collection metadata. 'repository' is required" in out, out
        warnings.warn(
            "galaxy.yml has no repository: galaxy-importer refuses the tarball until it names one",
            stacklevel=1,
        )
        tarball = with_repository(tarball, tmp_path / "stand-in", "https://repository.not-yet-public.invalid")
    code, out = run_importer(tarball, tmp_path)
    assert code == 0 and "Importer processing completed successfully" in out, out
    # The importer warns about any sanity ignore file; ours holds only what the certified rules permit
    # (tests/unit/test_sanity_ignores.py), so that one warning is expected, and no other.
    warned = [line for line in out.splitlines() if "WARNING" in line or "ERROR" in line]
    ignores = len((ROOT / "tests" / "sanity" / "ignore-2.19.txt").read_text().splitlines())
    assert warned == [
        "WARNING: Ignore files skip ansible-test sanity tests, found ignore-2.19.txt with "
        f"{ignores} statement(s)"
    ], out
    result = json.loads((tmp_path / "importer_result.json").read_text())
    contents = result["contents"]
    root = installed["collections"] / "ansible_collections" / "arcgis_conda" / "fleet"
    for kind, folder in (
        ("module", "modules"),
        ("callback", "callback"),
        ("filter", "filter"),
        ("cache", "cache"),
    ):
        files = {p.stem for p in (root / "plugins" / folder).glob("*.py")}
        if kind == "filter":  # the importer lists each file and each filter in it (documented by <name>.yml)
            files |= {p.stem for p in (root / "plugins" / folder).glob("*.yml")}
        found = {c["name"] for c in contents if c["content_type"] == kind}
        assert found == files, f"{kind}: galaxy-importer found {found}, the collection has {files}"
        undocumented = [c["name"] for c in contents if c["content_type"] == kind and not c.get("description")]
        assert not undocumented, f"{kind} without docs: {undocumented}"
    roles = {c["name"] for c in contents if c["content_type"] == "role"}
    assert roles == {p.name for p in (root / "roles").iterdir()}
    playbooks = {c["name"] for c in contents if c["content_type"] == "playbook"}
    assert "site.yml" in playbooks


def test_site_by_fqcn_from_this_checkout_is_the_same_flow() -> None:
    """In the checkout, `arcgis_conda.fleet.site` (via collections/) imports the top-level site.yml."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    cmd = [str(BIN / "ansible-playbook"), "arcgis_conda.fleet.site", "--list-tasks"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "playbooks/site.yml" in proc.stdout
    cmd = [str(BIN / "ansible-playbook"), "site.yml", "--list-tasks"]
    direct = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert direct.returncode == 0, direct.stderr

    def tasks(out: str) -> list[str]:  # by FQCN the roles are the collection's: arcgis_conda.fleet.<role>
        return [
            line.strip().replace("arcgis_conda.fleet.", "") for line in out.splitlines() if "TAGS:" in line
        ]

    assert len(tasks(proc.stdout)) > 10 and tasks(proc.stdout) == tasks(direct.stdout)
