"""Real ansible-playbook runs against the simulated workstation (tests/simwin), through the simwin
connection plugin: the real action plugins and exec-wrapper payloads, simulated host answers."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from simwin import host as H
from simwin.testing import Lab, make_lab

REPO = Path(__file__).resolve().parents[2]
MINICONDA2 = "https://repo.anaconda.com/miniconda/Miniconda2-py27_4.8.3-Windows-x86.exe"
MINICONDA2_SHA256 = "c8049d26f8b6b954b57bcd4e99ad72d1ffa13f4a6b218e64e641504437b2617b"
INSTALLERS = "C:\\ProgramData\\arcgis-conda\\installers"
ARGS = "/InstallationType=AllUsers /RegisterPython=0 /AddToPath=0 /S /D=C:\\Miniconda2"
HOST_READ = """# arcgis_conda.fleet host script: host_read
[CmdletBinding(SupportsShouldProcess)]
param()
"""
APPLY_FILES = """# arcgis_conda.fleet host script: apply_files
[CmdletBinding()]
param()
"""

pytestmark = pytest.mark.slow


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return make_lab(tmp_path / "lab", "reference")


def modules_logged(lab: Lab) -> list[str]:
    return [c["module"] for c in lab.calls() if c["kind"] == "module"]


def test_file_modules_round_trip(lab: Lab) -> None:
    local = lab.dir / "b.txt"
    local.write_bytes(b"from the controller\n")
    tasks = [
        {"ansible.windows.win_file": {"path": "C:\\ProgramData\\arcgis-conda\\t", "state": "directory"}},
        {
            "ansible.windows.win_copy": {
                "content": "hello\n",
                "dest": "C:\\ProgramData\\arcgis-conda\\t\\a.txt",
            }
        },
        {"ansible.windows.win_copy": {"src": str(local), "dest": "C:\\ProgramData\\arcgis-conda\\t\\"}},
        {"ansible.windows.win_stat": {"path": "C:\\ProgramData\\arcgis-conda\\t\\b.txt"}},
        {"ansible.builtin.slurp": {"src": "C:\\ProgramData\\arcgis-conda\\t\\a.txt"}},
        {
            "ansible.windows.win_copy": {
                "content": "hello\n",
                "dest": "C:\\ProgramData\\arcgis-conda\\t\\a.txt",
            }
        },
        {"ansible.windows.win_file": {"path": "C:\\ProgramData\\arcgis-conda\\t\\a.txt", "state": "absent"}},
    ]
    run = lab.playbook(tasks)
    results = run.results()
    assert [r.get("changed") for r in results] == [True, True, True, False, False, False, True], results
    assert results[3]["stat"]["checksum"] == hashlib.sha1(local.read_bytes()).hexdigest()
    assert results[3]["stat"]["owner"] == "BUILTIN\\Administrators"
    assert results[4]["content"] == "aGVsbG8K"
    host = lab.host()
    assert host.read_bytes("C:\\ProgramData\\arcgis-conda\\t\\b.txt", host.principal()) == local.read_bytes()
    assert not host.exists("C:\\ProgramData\\arcgis-conda\\t\\a.txt")
    # win_copy: query + single per uploaded file, a put_file for each upload; temp dirs cleaned up
    assert modules_logged(lab).count("ansible.windows.win_copy") == 5
    assert sum(c["kind"] == "put_file" for c in lab.calls()) == 2
    assert not [n for n in host.fs() if "ansible-tmp-" in n or "ansible-moduletmp-" in n]


# Single modules on a hand-made host whose folders nobody secured (not the fleet's flow, which secures
# before it runs anything): the simulator rightly records the starts there as escalations.
@pytest.mark.escalations_expected
def test_download_and_install_miniconda(lab: Lab) -> None:
    tasks = [
        {"ansible.windows.win_file": {"path": INSTALLERS, "state": "directory"}},
        {
            "ansible.windows.win_get_url": {
                "url": MINICONDA2,
                "dest": INSTALLERS,
                "checksum": MINICONDA2_SHA256,
                "checksum_algorithm": "sha256",
                "force": False,
            }
        },
        {
            "ansible.windows.win_package": {
                "path": f"{INSTALLERS}\\Miniconda2-py27_4.8.3-Windows-x86.exe",
                "arguments": ARGS,
                "creates_path": "C:\\Miniconda2\\Scripts\\conda.exe",
            }
        },
        {"ansible.windows.win_command": {"argv": ["C:\\Miniconda2\\Scripts\\conda.exe", "--version"]}},
        {
            "ansible.windows.win_get_url": {
                "url": MINICONDA2,
                "dest": "C:\\ProgramData\\arcgis-conda\\bad.exe",
                "checksum": "0" * 64,
                "checksum_algorithm": "sha256",
            },
            "ignore_errors": True,
        },
    ]
    first = lab.playbook(tasks).results()
    assert [r.get("changed") for r in first[:4]] == [True, True, True, True], first
    assert first[1]["checksum_dest"] == MINICONDA2_SHA256 and first[1]["size"] == 54431072
    assert first[2]["rc"] == 0 and first[2]["reboot_required"] is False
    # conda 4.8.3 on Python 2.7: argparse's version action writes to stderr (bpo-18920 moved it in 3.4).
    assert first[3]["stdout"] == "" and first[3]["stderr"] == "conda 4.8.3\n"
    assert first[4]["failed"] and "did not match" in first[4]["msg"]
    host = lab.host()
    auth = [
        e
        for e in host.node("C:\\Miniconda2")["acl"]
        if e["sid"] == H.AUTHENTICATED_USERS and not e["inherit_only"]
    ]
    assert auth[0]["rights"] == H.MODIFY  # what a new folder at C:\ inherits
    second = lab.playbook(tasks[:3]).results()
    assert [r.get("changed") for r in second] == [False, False, False], second


def test_call_counter_counts_exactly(lab: Lab) -> None:
    """Three module tasks, pipelined: exactly three module lines, nothing else."""
    tasks = [
        {"ansible.windows.win_stat": {"path": "C:\\Windows"}},
        {"ansible.windows.win_reg_stat": {"path": "HKLM:\\SOFTWARE\\ESRI\\ArcGISPro", "name": "RealVersion"}},
        {"ansible.windows.win_environment": {"level": "machine", "name": "ARCGIS_CONDA", "value": "1"}},
        {"ansible.builtin.debug": {"msg": "controller only"}},
    ]
    cli = [sys.executable, "-m", "tests.simwin.lab"]
    play = lab.dir / "three.yml"
    play.write_text(json.dumps([{"hosts": "windows_workstations", "gather_facts": False, "tasks": tasks}]))
    proc = subprocess.run(
        [*cli, "run", "--dir", str(lab.dir), "--", "ansible-playbook", str(play)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = lab.calls()
    assert [(c["kind"], c["module"], c["changed"]) for c in calls] == [
        ("module", "ansible.windows.win_stat", False),
        ("module", "ansible.windows.win_reg_stat", False),
        ("module", "ansible.windows.win_environment", True),
    ]
    assert lab.host().machine_env("ARCGIS_CONDA") == "1"
    report = subprocess.run(
        [*cli, "calls", "--dir", str(lab.dir), "--json"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert json.loads(report.stdout)[lab.hosts[0]] == {
        "module_calls": 3,
        "raw_commands": 0,
        "put_files": 0,
        "changed": 1,
        "failed": 0,
    }


def test_failures_where_windows_fails(lab: Lab) -> None:
    with lab.edit() as host:
        host.mkdir("C:\\ProgramData\\arcgis-conda", host.principal())
        host.write("C:\\ProgramData\\arcgis-conda\\locked.dll", b"x", host.principal())
        host.state["processes"] = [
            {"name": "ArcMap.exe", "pid": 812, "open_files": ["C:\\ProgramData\\arcgis-conda\\locked.dll"]}
        ]
    student = {
        "become": True,
        "become_method": "runas",
        "become_user": "student1",
        "vars": {"ansible_become_password": "pw"},
    }
    tasks = [
        {"ansible.windows.win_copy": {"content": "x", "dest": "C:\\nope\\x.txt"}, "ignore_errors": True},
        {
            "ansible.windows.win_file": {
                "path": "C:\\ProgramData\\arcgis-conda\\locked.dll",
                "state": "absent",
            },
            "ignore_errors": True,
        },
        # (win_copy would upload into svc_fleet's %TEMP%, which student1 cannot read: a real limitation)
        {
            "ansible.windows.win_file": {"path": "C:\\Program Files\\x.txt", "state": "touch"},
            "ignore_errors": True,
            **student,
        },
        {
            "ansible.windows.win_file": {"path": "C:\\ProgramData\\arcgis-conda\\mine.txt", "state": "touch"},
            **student,
        },
    ]
    results = lab.playbook(tasks).results()
    assert "Destination directory 'C:\\nope' does not exist" in results[0]["msg"]
    assert "being used by another process" in results[1]["msg"]
    assert "Access to the path 'C:\\Program Files\\x.txt' is denied" in results[2]["msg"]
    assert results[3]["changed"] is True
    host = lab.host()
    assert host.exists("C:\\ProgramData\\arcgis-conda\\locked.dll")
    assert host.node("C:\\ProgramData\\arcgis-conda\\mine.txt")["owner"] == host.users()["student1"]["sid"]
    users = {c.get("user") for c in lab.calls() if c["kind"] == "module"}
    assert users == {"svc_fleet", "student1"}


def test_unc_second_hop(lab: Lab) -> None:
    copy = {
        "src": "\\\\fileserver\\installers\\readme.txt",
        "dest": "C:\\ProgramData\\readme.txt",
        "remote_src": True,
    }
    runas = {
        "become": True,
        "become_method": "runas",
        "become_user": "svc_fleet",
        "become_flags": "logon_flags=netcredentials_only",
        "vars": {"ansible_become_password": "pw"},
    }
    tasks = [
        {"ansible.windows.win_copy": copy, "ignore_errors": True},
        {"ansible.windows.win_copy": copy, **runas},
    ]
    results = lab.playbook(tasks).results()
    assert results[0]["failed"] and "no network credentials" in results[0]["msg"]
    assert results[1]["changed"] is True and not results[1].get("failed")
    assert [c["user"] for c in lab.calls() if c["kind"] == "module"] == ["svc_fleet"] * 2
    assert (
        lab.host().read_bytes("C:\\ProgramData\\readme.txt", lab.host().principal())
        == b"lab installers share\n"
    )


def test_host_read_and_apply_files_through_win_powershell(lab: Lab) -> None:
    root = "C:\\ProgramData\\arcgis-conda\\certs"
    apply = {
        "ansible.windows.win_powershell": {
            "script": APPLY_FILES,
            "parameters": {
                "Items": [
                    {"op": "mkdir", "path": "C:\\ProgramData\\arcgis-conda"},
                    {"op": "mkdir", "path": root},
                    {"op": "write", "path": f"{root}\\ca.pem", "content_b64": "UEVNCg==", "backup": False},
                    fh.secure_item("C:\\ProgramData\\arcgis-conda"),
                ]
            },
        }
    }
    read = {
        "ansible.windows.win_powershell": {
            "script": HOST_READ,
            "parameters": {
                "Reads": [{"path": f"{root}\\ca.pem", "kind": "file", "content": True}],
                "EnvNames": ["OS"],
            },
        }
    }
    checked = lab.playbook([read, apply], "--check").results()
    assert checked[0]["changed"] is False and checked[0]["result"]["reads"][0]["type"] == "missing"
    assert checked[1]["changed"] is True and checked[1]["msg"] == "skipped, running in check mode"
    assert not lab.host().exists(root)
    assert [c["check_mode"] for c in lab.calls()] == [True, True]
    done = lab.playbook([apply, read, apply]).results()
    assert done[0]["changed"] is True and [i["changed"] for i in done[0]["result"]["applied"]] == [True] * 4
    entry = done[1]["result"]["reads"][0]
    assert entry["content_b64"] == "UEVNCg==" and entry["owner"] == H.ADMINISTRATORS
    assert {(a["sid"], a["rights"]) for a in entry["acl"]} == {
        (H.SYSTEM, H.FULL),
        (H.ADMINISTRATORS, H.FULL),
        (H.USERS, H.READ_EXECUTE),
    }
    assert done[1]["result"]["env"] == {"OS": "Windows_NT"}
    assert done[2]["changed"] is False
    assert [c["script"] for c in lab.calls()[2:]] == ["apply_files", "host_read", "apply_files"]


# Single modules on a hand-made host whose folders nobody secured (not the fleet's flow, which secures
# before it runs anything): the simulator rightly records the starts there as escalations.
@pytest.mark.escalations_expected
def test_dropped_connection_leaves_the_change_applied(lab: Lab) -> None:
    with lab.edit() as host:
        host.state["faults"] = {
            "drop_connection_after": {"module": "ansible.windows.win_package", "times": 1}
        }
    tasks = [
        {"ansible.windows.win_file": {"path": INSTALLERS, "state": "directory"}},
        {"ansible.windows.win_get_url": {"url": MINICONDA2, "dest": INSTALLERS}},
        {
            "ansible.windows.win_package": {
                "path": f"{INSTALLERS}\\Miniconda2-py27_4.8.3-Windows-x86.exe",
                "arguments": ARGS,
            }
        },
        {"ansible.windows.win_stat": {"path": "C:\\Miniconda2"}},
    ]
    run = lab.playbook(tasks)
    assert run.stats()["unreachable"] == 1
    assert lab.host().is_file("C:\\Miniconda2\\Scripts\\conda.exe")
    assert modules_logged(lab)[-1] == "ansible.windows.win_package"  # win_stat never reached the host


def test_arcgis_facts_finds_each_scenarios_installs(tmp_path: Path) -> None:
    """The real arcgis_facts action (whatever host scripts it sends today) against three scenarios."""
    lab = make_lab(tmp_path / "lab", "reference", "desktop1082_bgp_pro35", "no_arcgis")
    # Read-only by default (probe.yml): Desktop's C:\Python27 users can write is found but never run.
    run = lab.playbook([{"arcgis_conda.fleet.arcgis_facts": {}}])
    statuses = {}
    for host in lab.hosts:
        result = run.results(host)[0]
        assert not result.get("failed"), result
        statuses[host] = [(f["id"], f["status"]) for f in result["ansible_facts"]["arcgis"]]
    assert statuses == {
        "sim-reference-01": [("desktop-10.4.1-32", "unsecured"), ("pro-3.3.0-64", "ok")],
        "sim-desktop1082-bgp-pro35-01": [
            ("desktop-10.8.2-32", "unsecured"),
            ("desktop_bgp-10.8.2-64", "unsecured"),
            ("pro-3.5.0-64", "ok"),
        ],
        "sim-no-arcgis-01": [],
    }
    assert [len([c for c in lab.calls(h) if c["kind"] == "module"]) for h in lab.hosts] == [2, 2, 1]
    assert not [e for h in lab.hosts for e in lab.events(h) if "Python27" in e["exe"]]
    # secure_pythons: that folder is secured first (one more call), then every Python is probed.
    lab.reset_calls()
    run = lab.playbook([{"arcgis_conda.fleet.arcgis_facts": {"secure_pythons": True}}])
    for host in lab.hosts:
        assert all(f["status"] == "ok" for f in run.results(host)[0]["ansible_facts"]["arcgis"])
    assert [len([c for c in lab.calls(h) if c["kind"] == "module"]) for h in lab.hosts] == [3, 3, 1]


def test_arcgis_facts_measures_esris_env_and_finds_per_user_pro(tmp_path: Path) -> None:
    """An active clone (HKLM PythonCondaEnv) is not what the pins are measured in; a per-user Pro (in a
    hive the script loads from NTUSER.DAT) is found and named, and its user-owned Python never started."""
    lab = make_lab(tmp_path / "lab", "pro33_clone_active", "pro33_per_user")
    run = lab.playbook([{"arcgis_conda.fleet.arcgis_facts": {}}])
    clone_host, user_host = lab.hosts
    (pro,) = run.results(clone_host)[0]["ansible_facts"]["arcgis"]
    assert pro["python_exe"] == "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\envs\\arcgispro-py3\\python.exe"
    assert pro["packages"]["numpy"] == "1.24.3"  # Esri's pin; the clone has 1.26.4
    assert pro["pro_conda_env"] == "C:\\ProgramData\\Esri\\conda\\envs\\arcgispro-py3-lab"
    result = run.results(user_host)[0]
    assert result["ansible_facts"]["arcgis"] == []
    (warning,) = [w for w in result.get("warnings") or [] if "installed for" in w]
    assert "ArcGIS Pro 3.3.0 is installed for student1 only" in warning
    assert "C:\\Users\\student1\\AppData\\Local\\Programs\\ArcGIS\\Pro\\" in warning
    assert len([c for c in lab.calls(user_host) if c["kind"] == "module"]) == 1  # nothing was run


def test_folder_copy_registry_certificates_and_package_rc(lab: Lab) -> None:
    tree = lab.dir / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "one.txt").write_text("1")
    (tree / "sub" / "two.txt").write_text("2")
    with lab.edit() as host:
        host.write(
            "C:\\Windows\\Temp\\fails.exe",
            None,
            host.principal(),
            synthetic={"size": 10, "sha256": "ab" * 32, "attrs": {"program": "exit", "rc": 1603}},
        )
    cert = REPO / "files" / "demo-lab-root-ca.crt"
    tasks = [
        {"ansible.windows.win_copy": {"src": f"{tree}/", "dest": "C:\\ProgramData\\tree"}},
        {
            "ansible.windows.win_regedit": {
                "path": "HKLM:\\SOFTWARE\\arcgis-conda",
                "name": "Managed",
                "data": 1,
                "type": "dword",
            }
        },
        {"ansible.windows.win_reg_stat": {"path": "HKLM:\\SOFTWARE\\arcgis-conda", "name": "Managed"}},
        {"ansible.windows.win_copy": {"src": str(cert), "dest": "C:\\Windows\\Temp\\ca.crt"}},
        {
            "ansible.windows.win_certificate_store": {
                "path": "C:\\Windows\\Temp\\ca.crt",
                "store_location": "LocalMachine",
                "store_name": "Root",
            }
        },
        {
            "ansible.windows.win_get_url": {
                "url": "file://\\\\fileserver\\installers\\readme.txt",
                "dest": "C:\\Windows\\Temp\\r.txt",
            },
            "ignore_errors": True,
        },
        {
            "ansible.windows.win_package": {"path": "C:\\Windows\\Temp\\fails.exe", "arguments": ["/quiet"]},
            "ignore_errors": True,
        },
        {
            "ansible.builtin.fetch": {
                "src": "C:\\ProgramData\\tree\\sub\\two.txt",
                "dest": f"{lab.dir}/fetched/",
                "flat": True,
            }
        },
    ]
    results = lab.playbook(tasks).results()
    host = lab.host()
    assert host.read_bytes("C:\\ProgramData\\tree\\sub\\two.txt", host.principal()) == b"2"  # explode mode
    assert (lab.dir / "fetched" / "two.txt").read_bytes() == b"2"  # fetch_file
    assert results[2]["value"] == 1 and results[2]["type"] == "REG_DWORD"
    # The store ships with Microsoft's root (scenarios/_base.yml); the task added one after it.
    assert results[4]["changed"] is True and host.store()[1:] == results[4]["thumbprints"]
    assert results[5]["failed"] and "no network credentials" in results[5]["msg"]
    assert results[6]["failed"] and results[6]["rc"] == 1603 and "unexpected rc" in results[6]["msg"]
    assert modules_logged(lab).count("ansible.windows.win_copy") == 4  # query + explode, query + single
