"""What the simulated workstation models for playbooks/selftest.yml fails where Windows fails: reg save/load/
unload, mklink /J and rmdir, win_acl, a run that outlives its timeout. Fast: the model is driven directly."""

from __future__ import annotations

from pathlib import Path

import pytest
from simwin import host as H
from simwin import programs, scripts
from simwin.modules import Ctx, run_module
from simwin.scenario import create_host

KEY = "HKLM\\SOFTWARE\\arcgis-conda-selftest"
HIVE = "C:\\scratch\\selftest.hiv"


@pytest.fixture
def pc(tmp_path: Path) -> H.Host:
    host = create_host(tmp_path / "pc", "pro33")
    host.mkdir("C:\\scratch", host.principal("svc_fleet"))
    host.reg_set(KEY, "selftest", "value")
    return host


def reg(host: H.Host, user: str, *args: str) -> programs.Result:
    return programs.run_program(host, host.principal(user), ["reg.exe", *args])


def test_a_hive_saved_loads_reads_back_and_unloads_and_its_file_is_held_while_loaded(pc: H.Host) -> None:
    assert reg(pc, "svc_fleet", "save", KEY, HIVE, "/y").rc == 0
    assert reg(pc, "svc_fleet", "load", "HKU\\arcgis_conda_selftest", HIVE).rc == 0
    assert pc.reg_values("HKU\\arcgis_conda_selftest")["selftest"] == ["REG_SZ", "value"]
    again = reg(pc, "svc_fleet", "load", "HKU\\arcgis_conda_selftest", HIVE)
    assert again.rc == 1 and "Access is denied" in again.stderr
    with pytest.raises(H.WinError, match="being used by another process"):
        pc.delete(HIVE, pc.principal("svc_fleet"))
    assert reg(pc, "svc_fleet", "unload", "HKU\\arcgis_conda_selftest").rc == 0
    assert pc.reg_key("HKU\\arcgis_conda_selftest") is None
    twice = reg(pc, "svc_fleet", "unload", "HKU\\arcgis_conda_selftest")
    assert twice.rc == 1 and "The parameter is incorrect" in twice.stderr
    assert pc.delete(HIVE, pc.principal("svc_fleet"))


def test_reg_refuses_a_standard_user_a_missing_key_and_an_existing_file_without_y(pc: H.Host) -> None:
    assert (
        reg(pc, "student1", "save", KEY, "C:\\Users\\student1\\h.hiv", "/y").stderr == programs.REG_PRIVILEGE
    )
    assert reg(pc, "svc_fleet", "save", KEY + "\\nope", HIVE, "/y").stderr == programs.REG_NO_KEY
    assert reg(pc, "svc_fleet", "save", KEY, HIVE, "/y").rc == 0
    assert reg(pc, "svc_fleet", "save", KEY, HIVE).rc == 1


def cmd(host: H.Host, user: str, *args: str) -> programs.Result:
    return programs.run_program(host, host.principal(user), ["cmd.exe", "/d", "/c", *args])


def test_mklink_makes_a_junction_where_one_may_create_a_folder_and_rmdir_removes_only_the_link(
    pc: H.Host,
) -> None:
    admin = pc.principal("svc_fleet")
    pc.mkdir("C:\\scratch\\target", admin)
    pc.write("C:\\scratch\\target\\keep.txt", b"keep", admin)
    made = cmd(pc, "svc_fleet", "mklink", "/J", "C:\\scratch\\link", "C:\\scratch\\target")
    assert made.rc == 0 and pc.node("C:\\scratch\\link")["reparse"]["target"] == "C:\\scratch\\target"
    exists = cmd(pc, "svc_fleet", "mklink", "/J", "C:\\scratch\\link", "C:\\scratch\\target")
    assert exists.rc == 1 and "already exists" in exists.stderr
    denied = cmd(pc, "student1", "mklink", "/J", "C:\\Program Files\\link", "C:\\scratch\\target")
    assert denied.rc == 1 and "Access to the path" in denied.stderr
    assert cmd(pc, "svc_fleet", "rmdir", "C:\\scratch\\target").rc == 145  # not empty
    assert cmd(pc, "svc_fleet", "rmdir", "C:\\scratch\\link").rc == 0
    assert not pc.exists("C:\\scratch\\link") and pc.is_file("C:\\scratch\\target\\keep.txt")


def acl(host: H.Host, actor: str, args: dict[str, str]) -> dict:
    return run_module(host, "ansible.windows.win_acl", args, host.principal(actor), None)


def test_win_acl_adds_an_inherit_only_entry_children_take_at_once_and_fails_where_windows_does(
    pc: H.Host,
) -> None:
    admin = pc.principal("svc_fleet")  # below Program Files: users may not write it to begin with
    pc.mkdir("C:\\Program Files\\scratch", admin)
    pc.write("C:\\Program Files\\scratch\\old.txt", b"x", admin)
    args = {
        "path": "C:\\Program Files\\scratch",
        "user": "S-1-5-32-545",
        "rights": "Modify",
        "propagation": "InheritOnly",
    }
    assert acl(pc, "svc_fleet", args)["changed"] is True
    assert acl(pc, "svc_fleet", args)["changed"] is False  # idempotent
    own = [e for e in pc.node("C:\\Program Files\\scratch")["acl"] if not e["inherited"]]
    assert own == [H.ace(H.USERS, H.MODIFY, "both", inherit_only=True)]
    assert not pc.allowed(
        pc.node("C:\\Program Files\\scratch"), pc.principal("student1"), H.WRITE_DATA | H.DELETE
    )
    assert pc.allowed(
        pc.node("C:\\Program Files\\scratch\\old.txt"), pc.principal("student1"), H.DELETE
    )  # inherited
    missing = acl(pc, "svc_fleet", {**args, "path": "C:\\Program Files\\nope"})
    assert missing["failed"] and "does not exist" in missing["msg"]
    user = acl(pc, "svc_fleet", {**args, "user": "nobody"})
    assert user["failed"] and "not a valid user" in user["msg"]
    denied = acl(pc, "student1", {**args, "rights": "FullControl"})
    assert denied["failed"] and "Access to the path" in denied["msg"]


def test_a_run_that_outlives_its_timeout_has_its_whole_tree_ended(pc: H.Host) -> None:
    python = "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\envs\\arcgispro-py3\\python.exe"
    script = (Path(__file__).resolve().parents[2] / "roles/fleet/files/selftest_tree.py").read_text()
    ctx = Ctx(pc, pc.principal("svc_fleet"), False, "C:\\scratch", "ansible.windows.win_powershell")
    run = {
        "id": "tree",
        "file": python,
        "arguments": "tree.py C:\\scratch\\pids.json",
        "script": script,
        "timeout": 5,
    }
    answer, _changed = scripts.host_read(ctx, {"Runs": [run]})
    got = answer["runs"][0]
    assert got["rc"] is None and got["error"].startswith("no answer within 5 s: ended its process tree")
    assert "ended 2" in got["error"] and pc.state["processes"] == []
    assert pc.is_file("C:\\scratch\\pids.json") and not pc.exists("C:\\scratch\\tree.py")
