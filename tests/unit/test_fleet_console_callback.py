"""The quiet console's pure parts: which phase a task belongs to, and the reason a failed result gives."""

from __future__ import annotations

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.callback.fleet_console import phase_of, reason_of


@pytest.mark.parametrize(
    ("path", "phase"),
    [
        ("/c/roles/fleet/tasks/observe.yml:2", "observe"),
        ("/c/roles/fleet/tasks/plan.yml:40", "plan"),
        ("/c/roles/fleet/tasks/verify.yml:2", "verify"),
        ("/c/roles/fleet/tasks/step_command.yml:5", "apply"),
        ("/c/roles/fleet/tasks/apply_step.yml:2", "apply"),
        ("/c/roles/miniconda/tasks/main.yml:6", "apply"),
        ("/c/roles/doi_cert/meta/argument_specs.yml:3", "apply"),
        ("C:\\c\\roles\\fleet\\tasks\\plan.yml:4", "plan"),
        ("/c/site.yml:10", None),
        ("/c/playbooks/plan.yml:30", None),
        ("", None),
    ],
)
def test_a_task_is_in_the_phase_of_its_file(path, phase):
    assert phase_of(path) == phase


def test_a_failed_loop_item_gives_the_reason_with_its_exit_code_and_stderr():
    result = {
        "msg": "One or more items failed",
        "results": [
            {"changed": True, "rc": 0},
            {"failed": True, "rc": 1, "msg": "non-zero return code", "stderr": "CondaHTTPError: HTTP 000\n"},
        ],
    }
    assert reason_of(result) == "non-zero return code (rc 1): CondaHTTPError: HTTP 000"


def test_a_command_that_never_ran_gives_its_own_message():
    result = {"msg": "One or more items failed", "results": [{"failed": True, "msg": "CondaHTTPError"}]}
    assert reason_of(result) == "CondaHTTPError"
    assert reason_of({"stderr": "boom\n"}) == "boom"
    assert reason_of({}) == "failed"
