"""The doi_cert action plugins with Ansible's real Task and DataLoader; the host is faked.

Model: ansible-core's test/units/plugins/action/test_reboot.py (``_execute_module`` replaced by a
MagicMock fed with recorded host data). Here the recorded data comes from the in-memory Windows host
that the planner tests use, answering exactly the parameters the plugin sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import ANY, MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible_collections.arcgis_conda.fleet.plugins.action.doi_cert_bundle import (
    ActionModule as BundleAction,
)
from ansible_collections.arcgis_conda.fleet.plugins.action.doi_cert_plan import ActionModule as PlanAction
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_scan import SCAN_SCRIPT
from doi_cert_fakehost import FakeHost
from doi_cert_testca import make_ca, make_server

TASK_VARS = {"inventory_hostname": "gis101-01"}
MANIFEST = "C:\\ProgramData\\arcgis-conda\\doi_cert-state.json"


def make_action(cls, args: dict, search_path: Path, check_mode: bool = False):
    task = Task.load({"name": "test", "action": {"module": "arcgis_conda.fleet.x", **args}})
    task.check_mode = check_mode
    task.get_search_path = MagicMock(return_value=[str(search_path)])
    connection = MagicMock()
    connection._shell.tmpdir = None
    play_context = MagicMock(check_mode=check_mode)
    return cls(task, connection, play_context, DataLoader(), None, None)


@pytest.fixture(scope="module")
def ca():
    return make_ca("Test DOI Root CA")


def test_bundle_plugin_reads_files_relative_to_files_dir(tmp_path, ca):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "DOIRootCA.crt").write_bytes(ca.der)
    action = make_action(
        BundleAction,
        {"certificates": [{"path": "DOIRootCA.crt"}], "public_roots": "none"},
        tmp_path,
    )
    result = action.run(task_vars=TASK_VARS)
    assert result["changed"] is False
    assert result["certificates"][0]["sha1"] == ca.sha1
    assert result["public_roots_count"] == 0
    assert "BEGIN CERTIFICATE" in result["bundle_pem"]


def test_bundle_plugin_uses_the_controllers_certifi_by_default(tmp_path, ca):
    action = make_action(BundleAction, {"certificates": [{"content": ca.pem.decode()}]}, tmp_path)
    result = action.run(task_vars=TASK_VARS)
    assert result["public_roots_count"] > 100
    assert result["public_roots_source"].startswith("certifi ")


def test_bundle_plugin_errors_name_host_value_and_fix(tmp_path, ca):
    leaf = make_server(ca)
    (tmp_path / "server.crt").write_bytes(leaf.pem)
    action = make_action(BundleAction, {"certificates": [{"path": str(tmp_path / "server.crt")}]}, tmp_path)
    with pytest.raises(AnsibleActionFail) as err:
        action.run(task_vars=TASK_VARS)
    assert str(err.value).startswith("host gis101-01: certificate file ")
    assert "server.crt" in str(err.value) and "Fix:" in str(err.value)

    missing = make_action(BundleAction, {"certificates": [{"path": "nowhere.crt"}]}, tmp_path)
    with pytest.raises(AnsibleActionFail, match=r"host gis101-01: file 'nowhere.crt' was not found"):
        missing.run(task_vars=TASK_VARS)

    both = make_action(BundleAction, {"certificates": [{"path": "a", "content": "b"}]}, tmp_path)
    with pytest.raises(AnsibleActionFail, match="mutually exclusive"):
        both.run(task_vars=TASK_VARS)


def plan_args(bundle: dict, **extra) -> dict:
    return {
        "bundle": bundle,
        "cert_dir": "C:\\ProgramData\\arcgis-conda\\certs",
        "manifest_path": MANIFEST,
        "conda_installs": [
            {"prefix": "C:\\Miniconda2", "python_major_minor": "2.7", "label": "miniconda2-x86"}
        ],
        "users": ["alice"],
        **extra,
    }


def built_bundle(tmp_path: Path, ca) -> dict:
    action = make_action(
        BundleAction, {"certificates": [{"content": ca.pem.decode()}], "public_roots": "none"}, tmp_path
    )
    return action.run(task_vars=TASK_VARS)


def test_plan_plugin_scans_once_read_only_and_returns_the_plan(tmp_path, ca):
    host = FakeHost()
    host.mkdir("C:\\ProgramData")
    host.add_profile("GIS101-01\\alice", "C:\\Users\\alice")
    bundle = built_bundle(tmp_path, ca)
    action = make_action(PlanAction, plan_args(bundle), tmp_path, check_mode=True)
    action._execute_module = MagicMock(
        side_effect=lambda **kw: {"result": host.scan(kw["module_args"]["parameters"])}
    )
    result = action.run(task_vars=TASK_VARS)

    action._execute_module.assert_called_once()
    call = action._execute_module.call_args.kwargs
    assert call["module_name"] == "ansible.windows.win_powershell"
    assert call["module_args"]["script"] == SCAN_SCRIPT
    assert "[CmdletBinding(SupportsShouldProcess)]" in SCAN_SCRIPT  # so it also runs in check mode
    assert call["module_args"]["parameters"]["Thumbprints"] == [ca.sha1]
    assert result["changed"] is False
    assert result["check_mode"] is True  # the task's own check mode, reported for the role's guards
    assert (
        next(w["path"] for w in result["write_files"])
        == "C:\\ProgramData\\arcgis-conda\\certs\\ca-bundle.pem"
    )
    assert result["users"] == {"alice": "C:\\Users\\alice"}
    assert json.loads(result["manifest_text"])["bundle_path"].endswith("ca-bundle.pem")
    published = result["ansible_facts"]["doi_cert_result"]
    assert published["bundle_path"] == "C:\\ProgramData\\arcgis-conda\\certs\\ca-bundle.pem"
    assert published["certificates"] == [
        {"subject": ca.cert.subject.rfc4514_string(), "sha256": ca.sha256, "sha1": ca.sha1, "not_after": ANY}
    ]
    assert "pem" not in published["certificates"][0]


def test_plan_plugin_refuses_truststore_for_miniconda2_before_contacting_the_host(tmp_path, ca):
    action = make_action(PlanAction, plan_args(built_bundle(tmp_path, ca), ssl_verify="truststore"), tmp_path)
    action._execute_module = MagicMock()
    with pytest.raises(AnsibleActionFail, match=r"host gis101-01: .*miniconda2-x86 \(Python 2\.7\)"):
        action.run(task_vars=TASK_VARS)
    action._execute_module.assert_not_called()


def test_plan_plugin_reports_a_failed_scan_with_the_fix(tmp_path, ca):
    action = make_action(PlanAction, plan_args(built_bundle(tmp_path, ca)), tmp_path)
    action._execute_module = MagicMock(return_value={"failed": True, "msg": "Access is denied"})
    with pytest.raises(
        AnsibleActionFail, match=r"host gis101-01: the read-only doi_cert scan failed \(Access"
    ):
        action.run(task_vars=TASK_VARS)


def test_plan_plugin_needs_the_bundle_for_present(tmp_path):
    action = make_action(PlanAction, plan_args({}), tmp_path)
    action._execute_module = MagicMock()
    with pytest.raises(AnsibleActionFail, match=r"needs the result of arcgis_conda\.fleet\.doi_cert_bundle"):
        action.run(task_vars=TASK_VARS)
    action._execute_module.assert_not_called()
