"""The simulated workstation's model (tests/simwin): Windows behaviours, programs and host scripts.

Fast tests: they drive the model directly (no ansible-playbook); test_simwin_playbooks.py drives it
through the real connection plugin.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_discovery as discovery
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from simwin import host as H
from simwin import programs, scripts
from simwin.modules import Ctx, run_module
from simwin.scenario import create_host, scenario_names

REPO = Path(__file__).resolve().parents[2]
TEMP = "C:\\Users\\svc_fleet\\AppData\\Local\\Temp"
EXPECTED_INSTALLS = {
    "no_arcgis": [],
    "desktop1041": [("desktop-10.4.1-32", "1.9.2", "1.4.3", "0.15.1")],
    "pro33": [("pro-3.3.0-64", "1.24.3", "3.6.3", "1.9.3")],
    "reference": [
        ("desktop-10.4.1-32", "1.9.2", "1.4.3", "0.15.1"),
        ("pro-3.3.0-64", "1.24.3", "3.6.3", "1.9.3"),
    ],
    # The active env is a clone with numpy 1.26.4: the pins are still measured in arcgispro-py3.
    "pro33_clone_active": [("pro-3.3.0-64", "1.24.3", "3.6.3", "1.9.3")],
    "reference_lab_profiles": [
        ("desktop-10.4.1-32", "1.9.2", "1.4.3", "0.15.1"),
        ("pro-3.3.0-64", "1.24.3", "3.6.3", "1.9.3"),
    ],
    "desktop1082_bgp_pro35": [
        ("desktop-10.8.2-32", "1.9.3", "1.5.2", "0.17.0"),
        ("desktop_bgp-10.8.2-64", "1.9.3", "1.5.2", "0.17.0"),
        ("pro-3.5.0-64", "1.26.4", "3.9.4", "1.14.1"),
    ],
}


# The model's own mechanics on hand-made states (envs nobody secured, installers in a temp folder): the
# security rule's records are not what these tests judge; tests/integration/test_simwin_invariant.py does.
pytestmark = pytest.mark.escalations_expected


@pytest.fixture
def ref(tmp_path: Path) -> H.Host:
    return create_host(tmp_path / "host", "reference")


def ctx_for(host: H.Host, user: str | None = None, check: bool = False) -> Ctx:
    return Ctx(host, host.principal(user), check, TEMP, "ansible.windows.win_powershell")


def effective(host: H.Host, path: str, sid: str) -> int:
    principal = H.Principal("probe", sid, False)
    allow, _ = host._effective(host.node(path), principal)
    return allow


# --- default ACLs and ownership --------------------------------------------------------------------


def test_new_folder_at_c_root_gives_authenticated_users_modify(ref: H.Host) -> None:
    admin = ref.principal("svc_fleet")
    ref.mkdir("C:\\Miniconda2", admin)
    node = ref.node("c:/miniconda2")
    assert node["owner"] == H.ADMINISTRATORS  # elevated admin token: Administrators own it
    auth = [e for e in node["acl"] if e["sid"] == H.AUTHENTICATED_USERS and not e["inherit_only"]]
    assert auth and auth[0]["rights"] == H.MODIFY and auth[0]["inherited"]
    # ...so a plain user may plant a file in it (the CVE-2022-26526 situation)
    assert ref.as_user("student1").write_file("C:\\Miniconda2\\python27.dll", b"evil")


def test_student_creates_and_owns_files_in_programdata_subfolder(ref: H.Host) -> None:
    ref.mkdir("C:\\ProgramData\\arcgis-conda", ref.principal("svc_fleet"))
    student = ref.as_user("student1")
    student.write_file("C:\\ProgramData\\arcgis-conda\\note.txt", "mine")
    node = ref.node("C:\\ProgramData\\arcgis-conda\\note.txt")
    sid = ref.users()["student1"]["sid"]
    assert node["owner"] == sid
    assert any(e["sid"] == sid and e["rights"] == H.FULL for e in node["acl"])  # CREATOR OWNER -> owner
    # the other student may read it but not change it
    with pytest.raises(H.WinError, match="is denied"):
        ref.as_user("student2").write_file("C:\\ProgramData\\arcgis-conda\\note.txt", "theirs")
    assert ref.as_user("student2").read_file("C:\\ProgramData\\arcgis-conda\\note.txt") == b"mine"


def test_student_cannot_write_program_files_or_another_profile(ref: H.Host) -> None:
    with pytest.raises(H.WinError, match=r"Access to the path 'C:\\Program Files\\x.txt' is denied"):
        ref.as_user("student1").write_file("C:\\Program Files\\x.txt", "x")
    with pytest.raises(H.WinError, match="is denied"):
        ref.as_user("student1").write_file("C:\\Users\\student2\\Documents\\x.txt", "x")
    assert ref.as_user("student1").write_file("C:\\Users\\student1\\Documents\\x.txt", "x")
    assert ref.node("C:\\Users\\student1")["owner"] == ref.users()["student1"]["sid"]


def test_program_files_inherit_only_entries_are_read_and_judged_for_the_folder_itself(ref: H.Host) -> None:
    """Program Files as shipped: CREATOR OWNER, TrustedInstaller and ALL APPLICATION PACKAGES inherit-only
    entries; host_read reports the flag, the controller trusts the folder, and an admin's new subfolder
    takes the inheritable entries (CREATOR OWNER becomes its owner, Administrators)."""
    ref.mkdir("C:\\Program Files\\Lab", ref.principal())
    out, _ = scripts.host_read(
        ctx_for(ref),
        {"Reads": [{"path": p, "kind": "dir"} for p in ("C:\\Program Files", "C:\\Program Files\\Lab")]},
    )
    folder, child = (fh.Entry.from_raw(r) for r in out["reads"])
    inherit_only = {(a["sid"], a["inherit"]) for a in folder.acl if a["inherit_only"]}
    assert {
        (H.CREATOR_OWNER, "both"),
        (H.TRUSTED_INSTALLER, "container"),
        (H.ALL_APP_PACKAGES, "both"),
    } <= inherit_only
    assert folder.owner == H.TRUSTED_INSTALLER and folder.protected and folder.trusted()
    assert child.owner == H.ADMINISTRATORS and child.trusted()
    assert not any(a["inherit_only"] for a in child.acl if a["sid"] != H.CREATOR_OWNER)
    assert {a["sid"] for a in child.acl} >= {H.TRUSTED_INSTALLER, H.ALL_RESTRICTED_APP_PACKAGES}
    with pytest.raises(H.WinError, match="is denied"):
        ref.as_user("student1").mkdir("C:\\Program Files\\Lab\\mine")


def test_missing_parent_and_file_in_use(ref: H.Host) -> None:
    admin = ref.principal()
    with pytest.raises(H.WinError, match=r"Could not find a part of the path 'C:\\nope\\a.txt'"):
        ref.write("C:\\nope\\a.txt", b"a", admin)
    ref.state["processes"] = [
        {"name": "python.exe", "pid": 4242, "open_files": ["C:\\Python27\\ArcGIS10.4\\python.exe"]}
    ]
    with pytest.raises(H.WinError, match="being used by another process"):
        ref.delete("C:\\Python27\\ArcGIS10.4", admin)
    assert ref.exists("C:\\Python27\\ArcGIS10.4\\python.exe")


def test_unc_needs_network_credentials(ref: H.Host) -> None:
    share = "\\\\fileserver\\installers\\readme.txt"
    with pytest.raises(H.WinError, match="no network credentials"):
        ref.read_bytes(share, ref.session_principal(None))  # NTLM: no second hop
    become = {"user": "svc_fleet", "logon_flags": ["netcredentials_only"], "password": True}
    assert ref.read_bytes(share, ref.session_principal(become)) == b"lab installers share\n"
    assert not ref.session_principal({"user": "svc_fleet", "logon_type": "network", "password": True}).network
    assert ref.session_principal({"user": "svc_fleet", "logon_type": "interactive", "password": True}).network
    assert not ref.session_principal({"user": "SYSTEM"}).network  # S4U, no password
    only = ref.session_principal(
        {"user": "student1", "logon_flags": ["netcredentials_only"], "password": True}
    )
    assert only.name == "svc_fleet" and only.network  # local identity unchanged, credentials outbound
    ref.session()["transport"] = "credssp"
    assert ref.read_bytes(share, ref.session_principal(None))
    ref.session()["transport"] = "kerberos"
    assert not ref.session_has_network_credentials()  # without delegation


def test_an_installer_older_than_miniconda_4_4_ignores_the_silent_options(ref: H.Host) -> None:
    """constructor < 2.0 reads only /S and /D: /AddToPath=0 /RegisterPython=0 are ignored (the options
    page's defaults apply), which is why the miniconda plan refuses such files."""
    admin = ref.principal()
    attrs = {"program": "miniconda_installer", "flavour": "Miniconda2", "version": "4.3.21", "arch": "x86"}
    attrs.update(python="2.7.13", conda="4.3.21")
    ref.write(f"{TEMP}\\old.exe", None, admin, synthetic={"size": 1, "sha256": "0" * 64, "attrs": attrs})
    args = ["/InstallationType=AllUsers", "/RegisterPython=0", "/AddToPath=0", "/S", "/D=C:\\Miniconda2"]
    assert programs.run_program(ref, admin, [f"{TEMP}\\old.exe", *args]).rc == 0
    assert "C:\\Miniconda2;C:\\Miniconda2\\Scripts" in ref.machine_env("Path")
    assert ref.reg_values("HKLM\\SOFTWARE\\Python\\PythonCore\\2.7\\InstallPath")[""][1] == "C:\\Miniconda2"


def test_registry_views_and_profiles(ref: H.Host) -> None:
    assert ref.reg_values("HKLM\\SOFTWARE\\ESRI\\Desktop10.4", "32")["RealVersion"][1] == "10.4.1"
    assert ref.reg_values("HKLM\\SOFTWARE\\ESRI\\Desktop10.4", "64") is None
    accounts = {p["account"] for p in scripts.profiles(ref)}
    assert {"LABPC\\student1", "LABPC\\svc_fleet", "NT AUTHORITY\\SYSTEM"} <= accounts


# --- probe imitation through the controller's own parser -------------------------------------------


@pytest.mark.parametrize("scenario", sorted(EXPECTED_INSTALLS))
def test_probe_imitation_parsed_by_arcgis_discovery(tmp_path: Path, scenario: str) -> None:
    assert scenario in scenario_names()
    host = create_host(tmp_path / scenario, scenario)
    dump = discovery.parse_registry_dump(scripts.registry_dump(ctx_for(host)))
    installs, warnings = discovery.find_installs(dump)
    assert warnings == []
    probe = (REPO / "plugins/module_utils/arcgis_probe.py").read_text(encoding="utf-8")
    packages = list(programs.PROBE_DEFAULT)
    raw, _ = scripts.run_probe_script(
        ctx_for(host),
        {"ProbeScript": probe, "Pythons": discovery.probe_targets(installs), "Packages": packages},
    )
    facts = discovery.build_facts(installs, discovery.parse_runs(raw), packages)
    got = [
        (f["id"], f["packages"]["numpy"], f["packages"]["matplotlib"], f["packages"]["scipy"]) for f in facts
    ]
    assert got == EXPECTED_INSTALLS[scenario]
    assert all(f["status"] == "ok" and f["problems"] == [] for f in facts)
    assert not host.exists(f"{TEMP}\\arcgis_probe.py")  # the runner removes it


def test_unrecognised_python_script_is_not_modelled(ref: H.Host) -> None:
    admin = ref.principal()
    ref.write(f"{TEMP}\\other.py", b"print('hi')\n", admin)
    run = programs.run_program(ref, admin, ["C:\\Python27\\ArcGIS10.4\\python.exe", f"{TEMP}\\other.py"])
    assert run.rc == 1 and "simwin: not modelled" in run.stderr
    assert (
        programs.run_program(ref, admin, ["C:\\Python27\\ArcGIS10.4\\python.exe", "-c", "import sys"]).rc == 0
    )


def test_bridge_verify_follows_pth_and_hook(ref: H.Host) -> None:
    """A conda env with the repository's hook + .pth gains ArcGIS's folders; --arcpy then works."""
    admin = ref.principal()
    env = "C:\\ProgramData\\arcgis-conda\\envs\\arc1041"
    ref.mkdir("C:\\ProgramData\\arcgis-conda\\envs", admin, parents=True)
    lock = "@EXPLICIT\nhttps://repo.anaconda.com/pkgs/free/win-32/python-2.7.10-0.tar.bz2#0123\n"
    ref.write(f"{TEMP}\\lock.txt", lock.encode(), admin)
    conda = "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\Scripts\\conda.exe"
    assert (
        programs.run_program(ref, admin, [conda, "create", "--prefix", env, "--file", f"{TEMP}\\lock.txt"]).rc
        == 0
    )
    site = f"{env}\\Lib\\site-packages"
    hook = (REPO / "roles/startup_bridge/files/arcgis_conda_bridge.py").read_bytes()
    ref.write(f"{site}\\arcgis_conda_bridge.py", hook, admin)
    data = {
        "schema": 1,
        "entries": [
            {
                "id": "desktop-10.4.1-32",
                "match": {"python": "2.7", "bits": 32},  # create gave a 64-bit python: must not match
                "site_dirs": ["C:\\Python27\\ArcGIS10.4\\Lib\\site-packages"],
            }
        ],
    }
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import startup_bridge_plan as plan

    ref.write(f"{site}\\arcgis_conda_bridge.json", json.dumps(data).encode(), admin)
    ref.write(
        f"{site}\\zzz_arcgis_conda_bridge.pth",
        plan.pth_content(f"{site}\\arcgis_conda_bridge.json").encode(),
        admin,
    )
    verify = (REPO / "roles/startup_bridge/files/arcgis_conda_bridge_verify.py").read_bytes()
    ref.write(f"{TEMP}\\verify.py", verify, admin)
    argv = [
        f"{env}\\python.exe",
        f"{TEMP}\\verify.py",
        "--arcpy",
        "--expect",
        "C:\\Program Files (x86)\\ArcGIS\\Desktop10.4\\arcpy",
    ]

    def report() -> dict:
        run = programs.run_program(ref, admin, argv)
        assert run.rc == 0, run.stderr
        return json.loads(run.stdout.split(programs.VERIFY_MARKER, 1)[1])

    first = report()
    assert first["bridge"]["runs"][0]["skipped"][0]["why"].startswith("bits 32 != 64")
    assert first["arcpy"]["ok"] is False and first["expect"][0]["index"] is None
    data["entries"][0]["match"]["bits"] = 64
    ref.write(f"{site}\\arcgis_conda_bridge.json", json.dumps(data).encode(), admin)
    second = report()
    assert "C:\\Program Files (x86)\\ArcGIS\\Desktop10.4\\arcpy" in second["bridge"]["runs"][0]["added"]
    assert second["expect"][0]["index"] is not None
    # arcpy there is 32-bit; this env's python is 64-bit: the import fails as a DLL load would
    assert second["arcpy"]["ok"] is False and "DLL load failed" in second["arcpy"]["error"]
    # the task environment reaches the program: the hook's off switch
    run = programs.run_program(ref, admin, argv, env={"ARCGIS_CONDA_BRIDGE_DISABLE": "1"})
    off = json.loads(run.stdout.split(programs.VERIFY_MARKER, 1)[1])
    assert off["bridge"]["runs"][0]["error"] == "disabled by ARCGIS_CONDA_BRIDGE_DISABLE"
    assert off["expect"][0]["index"] is None


# --- conda, Miniconda ------------------------------------------------------------------------------


def test_conda_clone_install_and_errors(ref: H.Host) -> None:
    admin = ref.principal()
    conda = "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\Scripts\\conda.exe"
    env = "C:\\ProgramData\\arcgis-conda\\envs\\arcpro33"
    ref.mkdir("C:\\ProgramData\\arcgis-conda\\envs", admin, parents=True)
    assert programs.run_program(ref, admin, [conda, "--version"]).stdout == "conda 23.7.4\n"
    run = programs.run_program(
        ref, admin, [conda, "create", "--clone", "arcgispro-py3", "--prefix", env, "--pinned", "--yes"]
    )
    assert run.rc == 0, run.stderr
    assert ref.is_file(f"{env}\\conda-meta\\pinned") and ref.is_file(f"{env}\\python.exe")
    again = programs.run_program(ref, admin, [conda, "create", "--clone", "arcgispro-py3", "--prefix", env])
    assert again.rc == 1 and "prefix already exists" in again.stderr
    ok = programs.run_program(
        ref, admin, [conda, "install", "--prefix", env, "--yes", "ipython>=8", "spyder=5"]
    )
    assert ok.rc == 0, ok.stderr
    listed = json.loads(programs.run_program(ref, admin, [conda, "list", "--prefix", env, "--json"]).stdout)
    assert {"ipython", "spyder", "arcpy"} <= {p["name"] for p in listed}
    bad = programs.run_program(ref, admin, [conda, "install", "--prefix", env, "numpy==9.9"])
    assert bad.rc == 1 and "PackagesNotFoundError" in bad.stderr and "numpy==9.9" in bad.stderr
    assert programs.run_program(ref, admin, [conda, "remove", "--prefix", env, "--all", "--yes"]).rc == 0
    assert not ref.exists(env)


def test_miniconda_installer_and_uninstaller(ref: H.Host) -> None:
    admin = ref.principal()
    url = "https://repo.anaconda.com/miniconda/Miniconda2-py27_4.8.3-Windows-x86.exe"
    entry = ref.state["network"][url]
    ref.write(f"{TEMP}\\mc.exe", None, admin, synthetic=entry)
    args = ["/InstallationType=AllUsers", "/RegisterPython=0", "/AddToPath=0", "/S", "/D=C:\\Miniconda2"]
    assert programs.run_program(ref, admin, [f"{TEMP}\\mc.exe", *args]).rc == 0
    # conda 4.8.3 on Python 2.7: argparse's action='version' writes to stderr (bpo-18920).
    version = programs.run_program(ref, admin, ["C:\\Miniconda2\\Scripts\\conda.exe", "--version"])
    assert (version.rc, version.stdout, version.stderr) == (0, "", "conda 4.8.3\n")
    py = ref.node("C:\\Miniconda2\\python.exe")["attrs"]
    assert (py["version"], py["bits"]) == ("2.7.18", 32)
    assert (
        ref.is_file("C:\\Miniconda2\\condabin\\conda.bat") and ref.machine_env("Path").count("Miniconda") == 0
    )
    ref.write("C:\\Miniconda2\\user-notes.txt", b"not the installer's", admin)
    run = programs.run_program(
        ref, admin, ["C:\\Miniconda2\\Uninstall-Miniconda2.exe", "/S", "_?=C:\\Miniconda2"]
    )
    assert run.rc == 0
    assert not ref.exists("C:\\Miniconda2\\python.exe") and not ref.exists("C:\\Miniconda2\\Scripts")
    assert ref.is_file("C:\\Miniconda2\\user-notes.txt")  # NSIS removes only what it installed


def test_conda_on_python3_answers_its_version_on_stdout(tmp_path: Path) -> None:
    host = create_host(tmp_path / "host", "pro33")
    conda = "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\Scripts\\conda.exe"
    version = programs.run_program(host, host.principal(), [conda, "--version"])
    assert (version.rc, version.stdout, version.stderr) == (0, "conda 23.7.4\n", "")


def test_memory_quota_kills_a_program(ref: H.Host) -> None:
    admin = ref.principal()
    ref.state["faults"] = {"memory": [{"argv_contains": "install", "mb": 2048, "times": 1}]}
    conda = "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\Scripts\\conda.exe"
    run = programs.run_program(ref, admin, [conda, "install", "--prefix", "C:\\x", "numpy"])
    assert run.rc != 0 and "MaxMemoryPerShellMB 1024" in run.stderr
    assert programs.run_program(ref, admin, [conda, "--version"]).rc == 0


# --- host_read and apply_files contracts -----------------------------------------------------------


def test_host_read_contract(ref: H.Host) -> None:
    admin = ref.principal()
    ref.mkdir("C:\\ProgramData\\conda", admin)
    ref.write("C:\\ProgramData\\conda\\.condarc", b"channels: [defaults]\n", admin)
    ref.store().append("ABCDEF")
    params = {
        "Arcgis": True,
        "Profiles": True,
        "EnvNames": ["OS", "CONDARC"],
        "Thumbprints": ["abcdef", "123456"],
        "Reads": [
            {"path": "C:\\ProgramData\\conda\\.condarc", "kind": "file", "content": True},
            {"path": "C:\\ProgramData\\conda", "kind": "dir", "content": False},
            {"path": "C:\\Nope\\x.txt", "kind": "file", "content": True},
            {"path": "C:\\Python27\\ArcGIS*\\python.exe", "kind": "glob", "content": False},
            {"path": "C:\\Python27\\ArcGIS10.4", "kind": "dir", "content": False, "detail": False},
        ],
        "Runs": [
            fh.run_param(r)
            for r in (
                {
                    "id": "v",
                    "argv": ["C:\\Python27\\ArcGIS10.4\\python.exe", "{script}"],
                    "script": (REPO / "roles/arcgis_env/files/arcgis_env_versions.py").read_text(),
                    "stdin": None,
                    "timeout": 60,
                },
                {
                    "id": "missing",
                    "argv": ["C:\\no\\python.exe", "-c", "import sys"],
                    "script": None,
                    "stdin": None,
                    "timeout": 5,
                },
            )
        ],
    }
    out, changed = scripts.host_read(ctx_for(ref), params)
    assert changed is False
    assert discovery.find_installs(discovery.parse_registry_dump(out["arcgis"]))[0]
    assert {p["path"] for p in out["profiles"]} >= {"C:\\Users\\student1", "C:\\Users\\svc_fleet"}
    assert out["env"] == {"OS": "Windows_NT", "CONDARC": None}
    assert out["store"] == {"abcdef": True, "123456": False}
    condarc, folder, missing, glob, brief = out["reads"]
    assert brief == {"path": "C:\\Python27\\ArcGIS10.4", "type": "dir"}
    assert base64.b64decode(condarc["content_b64"]) == b"channels: [defaults]\n"
    assert (
        condarc["sha256"] == H.sha256_hex(b"channels: [defaults]\n") and condarc["owner"] == H.ADMINISTRATORS
    )
    assert {
        "sid": H.USERS,
        "rights": H.READ_EXECUTE,
        "type": "allow",
        "inherited": True,
        "inherit": "none",
        "inherit_only": False,
    } in condarc["acl"]
    assert folder["type"] == "dir" and folder["children"] == [
        {"name": ".condarc", "dir": False, "reparse": False}
    ]
    assert missing == {"path": "C:\\Nope\\x.txt", "type": "missing"}
    assert glob["type"] == "glob" and [m["path"] for m in glob["matches"]] == [
        "C:\\Python27\\ArcGIS10.4\\python.exe"
    ]
    assert "content_b64" not in glob["matches"][0] and glob["matches"][0]["size"] > 0
    versions, absent = out["runs"]
    assert versions["rc"] == 0 and json.loads(versions["stdout"])["packages"]["numpy"] == "1.9.2"
    assert absent["rc"] is None and "cannot find the file" in absent["error"]
    assert not ref.exists(f"{TEMP}\\v.py")  # the run's script is removed after it ran


def test_host_read_reports_access_denied_as_error(ref: H.Host) -> None:
    out, _ = scripts.host_read(
        ctx_for(ref, "student1"), {"Reads": [{"path": "C:\\Users\\student2", "kind": "dir"}]}
    )
    assert out["reads"][0]["type"] == "error" and "is denied" in out["reads"][0]["error"]


def test_apply_files_contract(ref: H.Host) -> None:
    root = "C:\\ProgramData\\arcgis-conda"
    b64 = base64.b64encode
    items = [
        {"op": "mkdir", "path": root},
        {"op": "write", "path": f"{root}\\a.txt", "content_b64": b64(b"one").decode(), "backup": True},
        {"op": "copy", "src": f"{root}\\a.txt", "path": f"{root}\\b.txt", "force": False},
        fh.secure_item(root),
    ]
    out, changed = scripts.apply_files(ctx_for(ref), {"Items": items})
    assert changed and [i["changed"] for i in out["applied"]] == [True, True, True, True]
    node = ref.node(root)
    assert node["protected"] and node["owner"] == H.ADMINISTRATORS
    assert [(e["sid"], e["rights"]) for e in node["acl"]] == [
        (H.SYSTEM, H.FULL),
        (H.ADMINISTRATORS, H.FULL),
        (H.USERS, H.READ_EXECUTE),
    ]
    assert all(e["inherited"] for e in ref.node(f"{root}\\a.txt")["acl"])
    # idempotent: same bytes, existing folder, copy without force, already secure
    again, changed = scripts.apply_files(ctx_for(ref), {"Items": items})
    assert not changed and not any(i["changed"] for i in again["applied"])
    # a write with other bytes and backup keeps the old file
    new = [{"op": "write", "path": f"{root}\\a.txt", "content_b64": b64(b"two").decode(), "backup": True}]
    out, _ = scripts.apply_files(ctx_for(ref), {"Items": new})
    backup = out["applied"][0]["backup_file"]
    assert (
        backup.startswith(f"{root}\\a.txt.")
        and backup.endswith(".bak")
        and ref.read_bytes(backup, ref.principal()) == b"one"
    )
    # the first failure stops, naming the op, the path and the Windows error
    bad = [
        {"op": "rmdir_empty", "path": root},
        {"op": "write", "path": "C:\\missing\\x", "content_b64": ""},
        {"op": "delete", "path": root},
    ]
    with pytest.raises(scripts.ScriptFail, match=r"^write C:\\missing\\x: Could not find a part of the path"):
        scripts.apply_files(ctx_for(ref), {"Items": bad})
    assert ref.exists(root)  # rmdir_empty left the non-empty folder, delete never ran
    out, changed = scripts.apply_files(
        ctx_for(ref), {"Items": [{"op": "delete", "path": root}, {"op": "delete", "path": root}]}
    )
    assert [i["changed"] for i in out["applied"]] == [True, False] and not ref.exists(root)


def test_module_not_modelled_and_injected_failure(ref: H.Host) -> None:
    admin = ref.principal()
    assert run_module(ref, "community.windows.win_scheduled_task", {}, admin, TEMP)["msg"] == (
        "simwin: module community.windows.win_scheduled_task not modelled"
    )
    ref.state["faults"] = {
        "module_fails": [
            {"module": "ansible.windows.win_command", "argv_contains": "create", "msg": "boom", "times": 1}
        ]
    }
    argv = {
        "argv": [
            "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\Scripts\\conda.exe",
            "create",
            "--prefix",
            "C:\\e",
        ]
    }
    assert run_module(ref, "ansible.windows.win_command", argv, admin, TEMP) == {
        "failed": True,
        "changed": False,
        "msg": "boom",
    }
    second = run_module(ref, "ansible.windows.win_command", argv, admin, TEMP)  # consumed: conda runs now
    assert second["rc"] == 1 and "too few arguments" in second["stderr"]


def test_network_catalog_has_every_published_miniconda_installer(ref: H.Host) -> None:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_plan

    for installer in miniconda_plan.INSTALLERS:
        if installer.sha256 is None:
            continue
        entry = ref.state["network"][miniconda_plan.OFFICIAL_ARCHIVE + installer.file]
        assert entry["sha256"] == installer.sha256, installer.file
        assert entry["attrs"]["program"] == "miniconda_installer"
        assert entry["attrs"]["python"].startswith(installer.python_major_minor + ".")
    for flavour, version in miniconda_plan.DEFAULT_VERSIONS.items():
        chosen = miniconda_plan.lookup_installer(flavour, version)
        if chosen is not None and chosen.sha256:
            assert miniconda_plan.OFFICIAL_ARCHIVE + chosen.file in ref.state["network"]


def test_a_run_that_hangs_ends_its_whole_process_tree(ref: H.Host) -> None:
    """conda.exe (a launcher) -> python.exe -> cmd.exe hold the output pipes: the script ends the tree."""
    admin = ref.principal()
    url = "https://repo.anaconda.com/miniconda/Miniconda2-py27_4.8.3-Windows-x86.exe"
    ref.write(f"{TEMP}\\mc.exe", None, admin, synthetic=ref.state["network"][url])
    assert programs.run_program(ref, admin, [f"{TEMP}\\mc.exe", "/S", "/D=C:\\Miniconda2"]).rc == 0
    ref.state["faults"]["hang"] = [
        {
            "argv_contains": "conda.exe",
            "tree": ["C:\\Miniconda2\\python.exe", "C:\\Windows\\system32\\cmd.exe"],
        }
    ]
    ref.state["processes"] = []
    run = {"id": "v", "argv": ["C:\\Miniconda2\\Scripts\\conda.exe", "--version"], "timeout": 5}
    out, _ = scripts.host_read(ctx_for(ref), {"Runs": [fh.run_param(run)]})
    (answer,) = out["runs"]
    assert answer["rc"] is None and answer["error"].startswith("no answer within 5 s: ended its process tree")
    assert "ended 3" in answer["error"] and ref.state["processes"] == []  # nothing left holding the pipes
    # A process outside the tree outlives it: the output is given up on, the call still returns.
    ref.state["faults"]["hang"] = [{"argv_contains": "conda.exe", "detached": ["C:\\Miniconda2\\python.exe"]}]
    out, _ = scripts.host_read(ctx_for(ref), {"Runs": [fh.run_param(run)]})
    assert "output still held open" in out["runs"][0]["error"]
    assert [p["name"] for p in ref.state["processes"]] == ["python.exe"]


def test_securing_a_tree_skips_what_it_cannot_change_and_goes_on(ref: H.Host) -> None:
    """A student's folders inside the tree are moved aside whole (their content not reached, never
    re-owned); an administrator's folder the admin session cannot list is reported; the rest of the tree
    and of the batch are still applied (it used to fail the whole batch)."""
    admin, student = ref.principal(), ref.as_user("student1")
    root = "C:\\ProgramData\\lab"
    ref.mkdir(root, admin)
    student.mkdir(f"{root}\\mine")
    student.write_file(f"{root}\\mine\\x.pth", "import os")
    student.mkdir(f"{root}\\locked")
    student.write_file(f"{root}\\locked\\y.pth", "import os")
    sid = ref.users()["student1"]["sid"]
    ref.set_security(f"{root}\\locked", acl=[H.ace(sid, "full")], protected=True)  # the owner may do that
    ref.mkdir(f"{root}\\shut", admin)
    ref.set_security(f"{root}\\shut", owner=H.SYSTEM, acl=[H.ace(H.SYSTEM, "full")], protected=True)
    items = [fh.secure_item(root), {"op": "write", "path": f"{root}\\after.txt", "content_b64": "eA=="}]
    out, changed = scripts.apply_files(ctx_for(ref), {"Items": items})
    assert changed and [i["changed"] for i in out["applied"]] == [True, True]
    assert [m["aside"] for m in out["applied"][0]["moved"]] == [
        f"{root}\\locked.untrusted",
        f"{root}\\mine.untrusted",
    ]
    assert out["applied"][0]["skipped"] == [
        {"path": f"{root}\\shut", "why": f"not listed: Access to the path '{root}\\shut' is denied."}
    ]
    assert ref.node(f"{root}\\mine.untrusted\\x.pth")["owner"] == sid  # never adopted
    assert ref.node(f"{root}\\locked.untrusted\\y.pth")["owner"] == sid


def test_conda_install_file_with_explicit_lock_links_exactly_the_lock(ref: H.Host) -> None:
    """``conda install --file`` with an @EXPLICIT lock installs the lock's records, no solve and no pin check
    (conda/cli/install.py, conda/misc.py install_explicit_packages): a record that differs is replaced, a
    matching one is left, one the lock does not name stays; the same lock again changes nothing."""
    admin = ref.principal()
    env = "C:\\ProgramData\\arcgis-conda\\envs\\explicit"
    ref.mkdir("C:\\ProgramData\\arcgis-conda\\envs", admin, parents=True)
    base = "https://repo.anaconda.com/pkgs/main/win-64/"
    first = f"@EXPLICIT\n{base}python-3.11.8-h1.tar.bz2#01\n{base}six-1.16.0-pyhd3eb1b0_1.tar.bz2#02\n"
    ref.write(f"{TEMP}\\lock.txt", first.encode(), admin)
    conda = "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\Scripts\\conda.exe"
    create = [conda, "create", "--prefix", env, "--file", f"{TEMP}\\lock.txt"]
    assert programs.run_program(ref, admin, create).rc == 0
    ref.write(f"{env}\\conda-meta\\pinned", b"six ==1.16.0\n", admin)  # no solve: a pin does not stop a lock
    # numpy is in no channel catalog of the scenario: only an explicit install can link it.
    update = f"@EXPLICIT\n{base}six-1.17.0-py311_0.conda#03\n{base}numpy-2.1.3-py311h_9.conda#04\n"
    ref.write(f"{TEMP}\\update.txt", update.encode(), admin)
    install = [conda, "install", "--prefix", env, "--file", f"{TEMP}\\update.txt"]
    run = programs.run_program(ref, admin, install)
    assert run.rc == 0 and run.changed, run.stderr
    records = {n: (r["version"], r["build"]) for n, r in programs.conda_records(ref, env).items()}
    assert records == {
        "python": ("3.11.8", "h1"),
        "six": ("1.17.0", "py311_0"),
        "numpy": ("2.1.3", "py311h_9"),
    }
    again = programs.run_program(ref, admin, install)
    assert again.rc == 0 and not again.changed


def test_background_geoprocessing_is_registered_as_esri_dsc_names_it(tmp_path: Path) -> None:
    """The Uninstall entry of Background Geoprocessing 10.8.2: the key is the product code and the
    DisplayName the product name Esri's arcgis-powershell-dsc looks for (ArcGIS.Common.psm1
    Get-ArcGISProductName / Get-ComponentCode 'DesktopBackgroundGP64Bit'); discovery still finds it."""
    host = create_host(tmp_path / "bgp", "desktop1082_bgp_pro35")
    uninstall = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall"
    values = host.reg_values(f"{uninstall}\\{{DE0069B6-F646-49BB-82EC-8E29F5CE8937}}")
    assert values is not None
    assert values["DisplayName"][1] == "ArcGIS Desktop Background Geoprocessing 10.8.2 (64-bit)"
    dump = discovery.parse_registry_dump(scripts.registry_dump(ctx_for(host), []))
    installs, _warnings = discovery.find_installs(dump)
    bgp = [i for i in installs if i.product == "desktop_bgp"]
    assert [(i.version, i.install_dir) for i in bgp] == [("10.8.2", values["InstallLocation"][1])]


def test_hive_pass_lists_entra_profiles_and_loads_no_hive_it_does_not_need(tmp_path: Path) -> None:
    """500 profiles (lab500_profiles): Entra ID accounts (S-1-12-1-...) are user profiles like domain ones;
    observe's first read loads no offline hive (no per-user Pro folder, no SID asked for), reads the
    logged-on users' hives where they are, and a hive the controller names in LoadHives is loaded alone."""
    host = create_host(tmp_path / "lab500", "lab500_profiles")
    out, _ = scripts.host_read(ctx_for(host), {"Arcgis": True, "Profiles": True})
    users = [p for p in out["profiles"] if p["sid"].startswith(("S-1-5-21-", "S-1-12-1-"))]
    assert len(users) == 503  # svc_fleet, student1, student2, 480 LAB\lab*, 20 AzureAD\entra*
    entra = {p["account"]: p for p in users if p["sid"].startswith("S-1-12-1-")}
    assert len(entra) == 20 and entra["AzureAD\\entra0001"]["hive_read"]  # logged on: read in HKU
    assert not entra["AzureAD\\entra0002"].get("hive_read")
    assert out["hives_loaded"] == 0
    assert sorted(p["account"] for p in users if p.get("hive_read")) == [
        "AzureAD\\entra0001",
        "LABPC\\svc_fleet",
    ]
    wanted = next(p["sid"] for p in users if p["account"] == "LAB\\lab0007")
    second, _ = scripts.host_read(ctx_for(host), {"LoadHives": [wanted]})
    assert second["hives_loaded"] == 1
    assert second["user_hives"] == [{"sid": wanted, "appdata": None, "hive_error": None, "hive_read": True}]


def test_per_user_pro_is_found_by_loading_only_the_hive_beside_its_folder(tmp_path: Path) -> None:
    """pro33_per_user: student1's per-user Pro (its folder under the profile's AppData\\Local\\Programs) is
    found by loading student1's hive alone; student2, offline with no Pro folder, is not loaded."""
    host = create_host(tmp_path / "peruser", "pro33_per_user")
    out, _ = scripts.host_read(ctx_for(host), {"Arcgis": True, "Profiles": True})
    assert out["hives_loaded"] == 1
    (user,) = out["arcgis"]["user_keys"]
    assert user["profile"] == "C:\\Users\\student1" and user["values"]["RealVersion"] == "3.3.0"
    _installs, warnings = discovery.find_installs(discovery.parse_registry_dump(out["arcgis"]))
    assert any("installed for student1 only" in w for w in warnings)
    read = {p["path"]: p.get("hive_read", False) for p in out["profiles"]}
    assert read["C:\\Users\\student1"] and not read["C:\\Users\\student2"]
