"""The simulated lab's security rule (tests/simwin/invariant.py) fires, for each kind of thing an admin
start executes, loads or trusts, when a student could change it; and what a student can plant there."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from simwin import host as H
from simwin import invariant, programs, scripts
from simwin.modules import Ctx
from simwin.scenario import create_host

pytestmark = pytest.mark.escalations_expected  # these tests plant what the rule must report

MINI = "C:\\Miniconda2"
TEMP = "C:\\Users\\svc_fleet\\AppData\\Local\\Temp"


@pytest.fixture
def host(tmp_path: Path) -> H.Host:
    host = create_host(tmp_path / "host", "no_arcgis")
    programs.install_conda_base(
        host, host.principal("SYSTEM"), {"prefix": MINI, "python": "2.7.18", "bits": 32, "conda": "4.8.3"}
    )
    for folder in (MINI, "C:\\ProgramData\\arcgis-conda"):
        scripts.apply_files(
            Ctx(host, host.principal(), False, TEMP, "m"),
            {"Items": [{"op": "mkdir", "path": folder}, fh.secure_item(folder)]},
        )
    host.mkdir("C:\\ProgramData\\conda", host.principal())
    scripts.apply_files(
        Ctx(host, host.principal(), False, TEMP, "m"),
        {"Items": [fh.secure_item("C:\\ProgramData\\conda")]},
    )
    return host


def start(host: H.Host, argv: list[str]) -> list[dict]:
    host.module_call = "ansible.windows.win_command"
    programs.run_program(host, host.principal(), argv)
    return [e for e in invariant.events(host.dir) if e["kind"] == "escalation"]


def test_a_secured_prefix_gives_no_event(host: H.Host) -> None:
    assert start(host, [f"{MINI}\\python.exe", "-c", "import sys"]) == []
    assert start(host, [f"{MINI}\\Scripts\\conda.exe", "--version"]) == []
    kinds = [e["kind"] for e in invariant.events(host.dir)]
    assert kinds == ["program", "program"]


# (what a student plants, as student1, after the admin secured everything; the start; the path reported)
PLANTS = {
    "executable": (
        lambda h: _unsecure(h, f"{MINI}\\python.exe"),
        [f"{MINI}\\python.exe", "-c", "import sys"],
        f"{MINI}\\python.exe",
    ),
    "folder above": (
        lambda h: _unsecure(h, "C:\\Miniconda2", rights="modify", inherit="none"),
        [f"{MINI}\\Scripts\\conda.exe", "--version"],
        MINI,
    ),
    "DLL beside": (
        lambda h: _unsecure(h, f"{MINI}\\Scripts", inherit="none"),
        [f"{MINI}\\Scripts\\conda.exe", "--version"],
        f"{MINI}\\Scripts",
    ),
    "stdlib": (
        lambda h: h.mkdir(f"{MINI}\\Lib", h.principal()) or _unsecure(h, f"{MINI}\\Lib", inherit="none"),
        [f"{MINI}\\python.exe", "-S", "-c", "import sys"],
        f"{MINI}\\Lib",
    ),
    "start-up file": (
        lambda h: _student_file(h, f"{MINI}\\Lib\\site-packages\\evil.pth"),
        [f"{MINI}\\python.exe", "-c", "import sys"],
        f"{MINI}\\Lib\\site-packages\\evil.pth",
    ),
    "condarc.d": (
        lambda h: _student_file(h, "C:\\ProgramData\\conda\\condarc.d\\zz.yml", mkdir=True),
        [f"{MINI}\\Scripts\\conda.exe", "--version"],
        "C:\\ProgramData\\conda\\condarc.d\\zz.yml",
    ),
    "pip.ini": (
        lambda h: _student_file(h, "C:\\ProgramData\\pip\\pip.ini", mkdir=True),
        [f"{MINI}\\python.exe", "-S", "-m", "pip", "--version"],
        "C:\\ProgramData\\pip\\pip.ini",
    ),
    "CA bundle": (
        lambda h: _ca_bundle(h),
        [f"{MINI}\\Scripts\\conda.exe", "--version"],
        "C:\\ProgramData\\lab\\ca.pem",
    ),
    "bridge data file": (
        lambda h: _student_file(h, f"{MINI}\\Lib\\site-packages\\arcgis_conda_bridge.json"),
        [f"{MINI}\\python.exe", "-c", "import sys"],
        f"{MINI}\\Lib\\site-packages\\arcgis_conda_bridge.json",
    ),
    "user site (PYTHONUSERBASE)": (None, None, None),
}


def _unsecure(host: H.Host, path: str, rights: str = "create", inherit: str = "both") -> None:
    host.set_security(path, acl=[*host.node(path)["acl"], H.ace(H.USERS, rights, inherit)])


def _student_file(host: H.Host, path: str, mkdir: bool = False) -> None:
    parent = H.parent_of(path)
    if mkdir and not host.exists(parent):
        host.mkdir(parent, host.principal())
    _unsecure(host, parent, inherit="none")
    host.as_user("student1").write_file(path, "x")


def _ca_bundle(host: H.Host) -> None:
    host.mkdir("C:\\ProgramData\\lab", host.as_user("student1").principal)
    host.as_user("student1").write_file("C:\\ProgramData\\lab\\ca.pem", "-----BEGIN CERTIFICATE-----")
    host.write(
        "C:\\ProgramData\\conda\\.condarc", b"ssl_verify: C:\\ProgramData\\lab\\ca.pem\n", host.principal()
    )


@pytest.mark.parametrize("kind", [k for k in PLANTS if PLANTS[k][0]])
def test_each_kind_of_trusted_item_a_student_could_change_is_an_escalation(host: H.Host, kind: str) -> None:
    plant, argv, path = PLANTS[kind]
    plant(host)
    found = start(host, argv)
    assert path in [e["path"] for e in found], found
    event = next(e for e in found if e["path"] == path)
    assert event["module"] == "ansible.windows.win_command" and event["exe"] == H.norm_path(argv[0])
    assert any("student1" in w or "Users" in w for w in event["writable_by"])


def test_a_students_pythonuserbase_is_an_escalation_unless_E_or_s(host: H.Host) -> None:
    student = host.as_user("student1")
    site = "C:\\Users\\student1\\AppData\\Roaming\\Python\\Python27\\site-packages"
    for part in ("Python", "Python\\Python27", "Python\\Python27\\site-packages"):
        student.mkdir(f"C:\\Users\\student1\\AppData\\Roaming\\{part}")
    student.write_file(f"{site}\\usercustomize.py", "import os")
    env = {"PYTHONUSERBASE": "C:\\Users\\student1\\AppData\\Roaming\\Python"}
    host.module_call = "ansible.windows.win_powershell"
    programs.run_program(
        host, host.principal(), [f"{MINI}\\python.exe", "-E", "-s", "-c", "import sys"], env=env
    )
    assert invariant.escalations(host.dir) == []
    programs.run_program(host, host.principal(), [f"{MINI}\\python.exe", "-c", "import sys"], env=env)
    assert f"{site}\\usercustomize.py" in [e["path"] for e in invariant.escalations(host.dir)]


def test_a_start_by_a_student_is_not_the_admins(host: H.Host) -> None:
    _student_file(host, f"{MINI}\\Lib\\site-packages\\evil.pth")
    programs.run_program(host, host.principal("student1"), [f"{MINI}\\python.exe", "-c", "import sys"])
    assert invariant.events(host.dir) == []


@pytest.mark.parametrize("kind", ["python", "conda", "miniconda_installer", "nsis_uninstaller"])
def test_a_student_plants_a_program_the_simulator_runs(host: H.Host, kind: str) -> None:
    student = host.as_user("student1")
    student.mkdir("C:\\Miniconda3")
    student.mkdir("C:\\Miniconda3\\Scripts")
    path = {
        "conda": "C:\\Miniconda3\\Scripts\\conda.exe",
        "nsis_uninstaller": "C:\\Miniconda3\\Uninstall-Miniconda3.exe",
    }.get(kind, f"C:\\Miniconda3\\{kind}.exe")
    student.write_program(path, kind)
    node = host.node(path)
    assert node["owner"] == host.users()["student1"]["sid"] and node["attrs"]["program"] == kind
    with pytest.raises(H.WinError, match="denied"):
        student.write_program(f"{MINI}\\python.exe", "python")  # not where the ACLs say no
    argv = {
        "python": [path, "-c", "import sys"],
        "conda": [path, "--version"],
        "nsis_uninstaller": [path, "/S"],
        "miniconda_installer": [path, "/S", "/D=C:\\x"],
    }[kind]
    found = start(host, argv)
    assert path in [e["path"] for e in found]


def test_a_junction_a_student_plants_is_reported_and_never_followed_by_securing(host: H.Host) -> None:
    student = host.as_user("student1")
    student.mkdir("C:\\ProgramData\\arcgis-conda-lab")
    student.junction("C:\\ProgramData\\arcgis-conda-lab\\link", "C:\\Users\\student2")
    with pytest.raises(H.WinError, match="denied"):
        student.junction(f"{MINI}\\link", "C:\\Users\\student2")  # only where they may create a folder
    assert host.resolve("C:\\ProgramData\\arcgis-conda-lab\\link\\AppData") == "C:\\Users\\student2\\AppData"
    tree = "C:\\ProgramData\\arcgis-conda\\tree"
    host.mkdir(tree, host.principal())
    host.mkdir(f"{tree}\\sub", host.principal())
    host.write(f"{tree}\\sub\\a.txt", b"a", host.principal())
    _unsecure(host, tree, rights="modify")
    host.set_security(f"{tree}\\sub", acl=[H.ace(H.AUTHENTICATED_USERS, "modify")])  # an entry of its own
    student.junction(f"{tree}\\j", "C:\\Users\\student2")
    profile_before = [
        dict(n) for n in [host.node("C:\\Users\\student2"), *host.descendants("C:\\Users\\student2")]
    ]
    out, _ = scripts.apply_files(
        Ctx(host, host.principal(), False, TEMP, "m"), {"Items": [fh.secure_item(tree)]}
    )
    (item,) = out["applied"]
    assert item["skipped"] == [
        {"path": f"{tree}\\j", "why": "junction or symbolic link: not followed, left alone"}
    ]
    # A reparse point inside: no icacls /T over the tree (not documented to stop at one), item by item.
    assert item["commands"] == []
    assert [
        dict(n) for n in [host.node("C:\\Users\\student2"), *host.descendants("C:\\Users\\student2")]
    ] == profile_before
    assert host.node(f"{tree}\\j")["owner"] == host.users()["student1"]["sid"]  # left alone, not adopted
    assert invariant.writers(host, host.node(f"{tree}\\sub"), "plant") == []
    assert invariant.writers(host, host.node(f"{tree}\\sub\\a.txt"), "file") == []


def test_without_a_reparse_point_one_icacls_secures_the_tree_and_it_would_follow_a_junction(
    host: H.Host,
) -> None:
    """The fast path: one icacls /reset /T /C /L for the whole tree. The model's icacls follows a junction
    (the worse case): handed a tree with one, it would rewrite the target, which is why the script never
    does."""
    tree = "C:\\ProgramData\\arcgis-conda\\tree"
    host.mkdir(tree, host.principal())
    for sub in ("a", "a\\b", "c"):
        host.mkdir(f"{tree}\\{sub}", host.principal())
        host.write(f"{tree}\\{sub}\\f.txt", b"x", host.principal())
        host.set_security(f"{tree}\\{sub}\\f.txt", acl=[H.ace(H.USERS, "modify")])
    _unsecure(host, tree, rights="modify")
    out, changed = scripts.apply_files(
        Ctx(host, host.principal(), False, TEMP, "m"), {"Items": [fh.secure_item(tree)]}
    )
    (item,) = out["applied"]
    assert changed and item["skipped"] == [] and item["moved"] == []
    assert [c["arguments"] for c in item["commands"]] == [[f"{tree}\\*", "/reset", "/T", "/C", "/L", "/Q"]]
    assert all(invariant.writers(host, n, "plant") == [] for n in [host.node(tree), *host.descendants(tree)])
    again, changed = scripts.apply_files(
        Ctx(host, host.principal(), False, TEMP, "m"), {"Items": [fh.secure_item(tree)]}
    )
    assert not changed and again["applied"][0]["commands"] == []  # nothing to reset: no command at all
    # The hazard the walk avoids: icacls itself, given a junction, rewrites what it points at.
    host.as_user("student1").mkdir("C:\\ProgramData\\lab")
    host.as_user("student1").junction("C:\\ProgramData\\lab\\j", "C:\\Users\\student2")
    host.set_security("C:\\Users\\student2", acl=[H.ace(H.ADMINISTRATORS, "full")])
    before = host.node("C:\\Users\\student2\\AppData")["acl"]
    scripts.icacls(host, host.principal(), ["C:\\ProgramData\\lab\\*", "/reset", "/T", "/C", "/L", "/Q"])
    assert host.node("C:\\Users\\student2\\AppData")["acl"] != before


def test_securing_moves_aside_what_no_administrator_owns_never_adopts_it(host: H.Host) -> None:
    """A file a student made inside a tree the run secures (between observe and apply, say) is moved
    aside to an inert name with its own owner, never re-owned and trusted."""
    tree = "C:\\ProgramData\\conda"
    student = host.as_user("student1")
    _unsecure(host, tree, rights="modify")
    student.mkdir(f"{tree}\\condarc.d")
    student.write_file(f"{tree}\\condarc.d\\zz.yml", "channels: [http://evil]\n")
    student.write_file(f"{tree}\\.condarc", "channels: [http://evil]\n")
    out, _ = scripts.apply_files(
        Ctx(host, host.principal(), False, TEMP, "m"), {"Items": [fh.secure_item(tree)]}
    )
    sid = host.users()["student1"]["sid"]
    assert out["applied"][0]["moved"] == [
        {"path": f"{tree}\\.condarc", "owner": sid, "aside": f"{tree}\\.condarc.untrusted"},
        {"path": f"{tree}\\condarc.d", "owner": sid, "aside": f"{tree}\\condarc.d.untrusted"},
    ]
    assert not host.exists(f"{tree}\\.condarc") and not host.exists(f"{tree}\\condarc.d")
    assert host.node(f"{tree}\\condarc.d.untrusted\\zz.yml")["owner"] == sid
    assert start(host, [f"{MINI}\\Scripts\\conda.exe", "--version"]) == []
