"""The fleet_files and fleet_verify action plugins with their one host module call faked.

Modelled on ansible-core's test/units/plugins/action/test_reboot.py: each plugin is loaded by FQCN
through Ansible's action loader and ``_execute_module`` is a MagicMock answering as win_powershell did
for the host scripts of module_utils/fleet_host.py (recorded shapes, see tests/simwin/scripts.py).
"""

from __future__ import annotations

import base64
import re
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.plugins.loader import action_loader
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_changes as fc
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_plan as mp
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_role as mr

HOST = "gis101-ws01.lab.example.org"
TASK_VARS = {"inventory_hostname": HOST}


@pytest.fixture
def action_for():
    def make(name: str, args: dict, answer: dict | None = None, check_mode: bool = False):
        task = MagicMock()
        task.args = args
        task.check_mode = check_mode
        task.async_val = 0
        task.delegate_to = None
        task.action = f"arcgis_conda.fleet.{name}"
        connection = MagicMock()
        connection._shell.SHELL_FAMILY = "powershell"
        connection._shell.tmpdir = None
        action = action_loader.get(
            f"arcgis_conda.fleet.{name}",
            task=task,
            connection=connection,
            play_context=MagicMock(check_mode=check_mode),
            loader=MagicMock(),
            templar=MagicMock(),
            shared_loader_obj=None,
        )
        action._execute_module = MagicMock(return_value=answer or {})
        return action

    return make


# --- fleet_files -------------------------------------------------------------------------------------

WRITE = fc.change(
    "doi_cert",
    "files",
    "write",
    "C:\\ProgramData\\arcgis-conda-fleet\\certs\\ca-bundle.pem",
    "CA bundle",
    fh.write_item("C:\\ProgramData\\arcgis-conda-fleet\\certs\\ca-bundle.pem", b"PEM", backup=False),
)
MKDIR = fc.change(
    "doi_cert",
    "files",
    "mkdir",
    "C:\\ProgramData\\arcgis-conda-fleet\\certs",
    "certs",
    {"op": "mkdir", "path": "C:\\ProgramData\\arcgis-conda-fleet\\certs"},
)


def done(item: dict, changed: bool = True, **extra) -> dict:
    return {"op": item["op"], "path": item["path"], "changed": changed, "backup_file": None, **extra}


def test_files_are_applied_in_one_call_in_plan_order(action_for):
    answer = {"changed": True, "result": {"applied": [done(MKDIR["item"]), done(WRITE["item"], secret="x")]}}
    action = action_for("fleet_files", {"changes": [MKDIR, WRITE]}, answer)
    result = action.run(task_vars=TASK_VARS)
    action._execute_module.assert_called_once()
    call = action._execute_module.call_args.kwargs
    assert call["module_name"] == "ansible.windows.win_powershell"
    assert call["module_args"]["script"] == fh.APPLY_FILES_SCRIPT
    assert call["module_args"]["parameters"] == {"Items": [MKDIR["item"], WRITE["item"]]}
    assert base64.b64decode(call["module_args"]["parameters"]["Items"][1]["content_b64"]) == b"PEM"
    assert result["changed"] is True and result["module_calls"] == 1
    assert result["msg"] == "2 of 2 file change(s) applied"
    # Only the names the report needs come back (never content or extra fields of the script).
    assert result["applied"][1] == {
        "op": "write",
        "path": WRITE["target"],
        "changed": True,
        "backup_file": None,
        "skipped": None,
        "moved": None,
    }
    assert "warnings" not in result
    assert "items" not in result  # Jinja's `result.items` is the dict method, never this list


def test_items_skipped_inside_a_secured_tree_are_warned_about_by_name(action_for):
    secure = fc.change(
        "miniconda",
        "files",
        "secure",
        "C:\\Miniconda2",
        "admin only",
        fh.secure_item("C:\\Miniconda2"),
    )
    locked = {
        "path": "C:\\Miniconda2\\pkgs\\locked",
        "why": "Attempted to perform an unauthorized operation.",
    }
    icacls = {
        "arguments": ["C:\\Miniconda2\\*", "/reset", "/T", "/C", "/L", "/Q"],
        "rc": 1,
        "output": "C:\\Miniconda2\\envs\\x\\a.dll: Access is denied.\r\nSuccessfully processed 9 files; "
        "Failed processing 1 files",
    }
    moved = {
        "path": "C:\\Miniconda2\\x.pth",
        "owner": "S-1-5-21-1-1001",
        "aside": "C:\\Miniconda2\\x.pth.untrusted",
    }
    answer = {
        "changed": True,
        "result": {"applied": [done(secure["item"], skipped=[locked], commands=[icacls], moved=[moved])]},
    }
    result = action_for("fleet_files", {"changes": [secure]}, answer).run(task_vars=TASK_VARS)
    assert result.get("failed") is not True and result["applied"][0]["skipped"] == [locked]
    fix = (
        "It keeps its own owner and ACL: inspect it, take ownership (takeown /f <path> /r) or delete it, "
        "and run again; playbooks/audit.yml lists what stays writable."
    )
    assert result["warnings"] == [
        f"{HOST}: secure C:\\Miniconda2: skipped C:\\Miniconda2\\pkgs\\locked (Attempted to perform an "
        f"unauthorized operation.). {fix}",
        f"{HOST}: secure C:\\Miniconda2: skipped C:\\Miniconda2\\envs\\x\\a.dll (icacls: Access is denied.). "
        f"{fix}",
        f"{HOST}: secure C:\\Miniconda2: C:\\Miniconda2\\x.pth was owned by S-1-5-21-1-1001, not an "
        "administrator: moved aside to C:\\Miniconda2\\x.pth.untrusted, never trusted. Inspect it, then "
        "delete it.",
    ]


def test_the_host_script_returns_the_key_the_plugin_reads():
    """fleet_apply_files.ps1 runs on Windows, out of reach here: its result key is read from its text."""
    keys = set(re.findall(r"\$Ansible\.Result = @\{ (\w+) =", fh.APPLY_FILES_SCRIPT))
    assert keys == {"applied"}


def test_files_already_right_report_no_change(action_for):
    answer = {"changed": False, "result": {"applied": [done(WRITE["item"], changed=False)]}}
    result = action_for("fleet_files", {"changes": [WRITE]}, answer).run(task_vars=TASK_VARS)
    assert result["changed"] is False and result["msg"] == "0 of 1 file change(s) applied"


def test_check_mode_sends_nothing_and_predicts_the_change(action_for):
    action = action_for("fleet_files", {"changes": [MKDIR, WRITE]}, check_mode=True)
    result = action.run(task_vars=TASK_VARS)
    action._execute_module.assert_not_called()
    assert result["changed"] is True and result["msg"] == "2 file change(s) would be applied"


def test_a_change_that_is_not_a_file_change_is_refused_before_any_call(action_for):
    package = fc.change("miniconda", "package", "install", "C:\\Miniconda3", "x", {"path": "C:\\x.exe"})
    action = action_for("fleet_files", {"changes": [MKDIR, package]})
    with pytest.raises(AnsibleActionFail, match=rf"^{HOST}: fleet_files: .* is not a planned file change"):
        action.run(task_vars=TASK_VARS)
    action._execute_module.assert_not_called()


def test_a_failure_names_the_error_and_how_far_it_got(action_for):
    answer = {
        "failed": True,
        "changed": True,
        "result": {"applied": [done(MKDIR["item"])]},
        "error": [{"output": f"write {WRITE['target']}: Access to the path is denied."}],
    }
    action = action_for("fleet_files", {"changes": [MKDIR, WRITE]}, answer)
    with pytest.raises(AnsibleActionFail) as err:
        action.run(task_vars=TASK_VARS)
    message = str(err.value)
    assert message.startswith(f"{HOST}: write {WRITE['target']}: Access to the path is denied.")
    assert "(1 of 2 file change(s) applied before it)" in message
    assert "run again" in message


def test_changes_are_required(action_for):
    with pytest.raises(AnsibleActionFail, match="changes"):
        action_for("fleet_files", {}).run(task_vars=TASK_VARS)


# --- fleet_verify ------------------------------------------------------------------------------------

PLAN = mp.plan_miniconda(mp.PlanInputs(flavours=["miniconda3-x64"]), 64)
INSTALL = PLAN["installs"][0]
READS, RUNS = mr.miniconda_verify(PLAN)
VERIFY = {
    "reads": [r.as_param() for r in READS],
    "runs": RUNS,
    "by_role": {"miniconda": [r["id"] for r in RUNS]},
}
JUDGE = {"miniconda": {"plan": PLAN}}


def host_answer(missing: tuple[str, ...] = (), version: str = "conda 23.5.2\r\n", rc: int = 0) -> dict:
    """host_read's result for the verify spec: each read file, each run."""
    reads = [{"path": r.path, "type": "missing" if r.path in missing else "file", "size": 1} for r in READS]
    runs = [{"id": run["id"], "rc": rc, "stdout": version, "stderr": ""} for run in RUNS]
    return {"changed": False, "result": {"reads": reads, "runs": runs, "env": {}, "store": {}}}


def test_verify_reads_and_runs_in_one_call_and_passes(action_for):
    action = action_for("fleet_verify", {"verify": VERIFY, "judge": JUDGE}, host_answer())
    result = action.run(task_vars=TASK_VARS)
    action._execute_module.assert_called_once()
    call = action._execute_module.call_args.kwargs
    assert call["module_name"] == "ansible.windows.win_powershell"
    assert call["module_args"] == fh.host_read_params(READS, RUNS)
    assert result.get("failed") is not True
    assert result["problems"] == {"miniconda": []}
    assert result["verified"] == {"miniconda": True}
    assert result["msg"] == f"{HOST}: verified {len(RUNS)} run(s) and {len(READS)} file(s): all good"


def test_verify_fails_naming_each_problem(action_for):
    answer = host_answer(missing=(INSTALL["conda_exe"],), version="", rc=1)
    result = action_for("fleet_verify", {"verify": VERIFY, "judge": JUDGE}, answer).run(task_vars=TASK_VARS)
    assert result["failed"] is True and result["changed"] is False
    [problem] = result["problems"]["miniconda"]
    assert INSTALL["conda_exe"] in problem and problem in result["msg"]


def test_a_path_verify_did_not_read_is_reported_as_a_plan_bug(action_for):
    answer = host_answer()
    answer["result"]["reads"] = answer["result"]["reads"][1:]
    result = action_for("fleet_verify", {"verify": VERIFY, "judge": JUDGE}, answer).run(task_vars=TASK_VARS)
    assert result["failed"] is True
    [problem] = result["problems"]["fleet"]
    assert problem.startswith(f"{HOST}: verify did not read ") and problem.endswith(": a bug in the plan")


def test_the_unread_path_is_named_as_written(action_for):
    answer = host_answer()
    answer["result"]["reads"] = answer["result"]["reads"][1:]
    result = action_for("fleet_verify", {"verify": VERIFY, "judge": JUDGE}, answer).run(task_vars=TASK_VARS)
    assert READS[0].path in result["problems"]["fleet"][0]


def test_nothing_to_verify_costs_no_call(action_for):
    action = action_for("fleet_verify", {"verify": {"reads": [], "runs": []}, "judge": {}})
    result = action.run(task_vars=TASK_VARS)
    action._execute_module.assert_not_called()
    assert result["module_calls"] == 0 and result["verified"] == {}
    assert result["msg"] == f"{HOST}: nothing to verify"


def test_a_failed_read_stops_with_the_host_error(action_for):
    answer = {"failed": True, "msg": "win_powershell failed", "error": [{"output": "Access denied"}]}
    action = action_for("fleet_verify", {"verify": VERIFY, "judge": JUDGE}, answer)
    with pytest.raises(AnsibleActionFail, match=rf"^{HOST}: the verify read failed: Access denied$"):
        action.run(task_vars=TASK_VARS)


def test_verify_runs_in_check_mode_too(action_for):
    # Read-only: supported in check mode (verify.yml skips it there, but playbooks/verify.yml may not).
    action = action_for("fleet_verify", {"verify": VERIFY, "judge": JUDGE}, host_answer(), check_mode=True)
    assert action.run(task_vars=TASK_VARS)["problems"] == {"miniconda": []}


def test_identical_hosts_share_one_plan_and_only_their_own_name_changes():
    """A group of identical hosts is planned once under a NUL-marked stand-in name; each member's copy
    gets its name there and nowhere else (a host called "arcgis" leaves C:\\ProgramData\\arcgis-conda be)."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_flow as engine
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_plan import HostInput

    stand_in = engine.GROUP_HOST
    result = {
        "row": {"host": stand_in, "lab": "x"},
        "error": f"{stand_in}: C:\\ProgramData\\arcgis-conda\\envs is in use",
        "planned": [{"target": "C:\\ProgramData\\arcgis-conda\\envs\\arcgis"}],
    }
    for name in ("arcgis", "envs", "pc2"):
        copy = engine.renamed(result, HostInput(host=name, lab="lab1"))
        assert copy["row"] == {"host": name, "lab": "lab1"}
        assert copy["error"] == f"{name}: C:\\ProgramData\\arcgis-conda\\envs is in use"
        assert copy["planned"] == result["planned"]
