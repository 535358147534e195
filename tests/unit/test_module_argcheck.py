"""The module-argument check: it must catch what ansible-lint's production profile lets through."""

from __future__ import annotations

import textwrap
from pathlib import Path

import module_argcheck
import pytest


def write_tasks(tmp_path: Path, body: str) -> Path:
    tasks = tmp_path / "roles" / "demo" / "tasks"
    tasks.mkdir(parents=True)
    path = tasks / "main.yml"
    path.write_text("---\n" + textwrap.dedent(body), encoding="utf-8")
    return path


def findings_for(tmp_path: Path, body: str) -> list[str]:
    path = write_tasks(tmp_path, body)
    return [str(f) for f in module_argcheck.run([str(path.parent.parent.parent)])]


def test_unknown_option_names_file_line_task_option_and_allowed(tmp_path):
    found = findings_for(
        tmp_path,
        """
        - name: Download the installer
          ansible.windows.win_get_url:
            url: https://example.invalid/Miniconda3.exe
            dest: C:\\Temp\\Miniconda3.exe
            checksum_typo: abc
        """,
    )
    assert len(found) == 1
    msg = found[0]
    assert "roles/demo/tasks/main.yml:3:" in msg
    assert "'Download the installer'" in msg
    assert "ansible.windows.win_get_url" in msg
    assert "unknown option 'checksum_typo'" in msg
    assert "checksum_algorithm" in msg and "checksum_url" in msg


def test_value_outside_choices_lists_allowed_values(tmp_path):
    found = findings_for(
        tmp_path,
        """
        - name: Install Miniconda
          ansible.windows.win_package:
            path: C:\\Temp\\Miniconda3.exe
            state: bogus
        """,
    )
    assert found == [
        f"{tmp_path}/roles/demo/tasks/main.yml:3: task 'Install Miniconda': ansible.windows.win_package: "
        "option 'state' has value 'bogus', not one of the allowed values: absent, present"
    ]


def test_missing_required_option(tmp_path):
    found = findings_for(
        tmp_path,
        """
        - name: Download without a destination
          ansible.windows.win_get_url:
            url: https://example.invalid/x.exe
        """,
    )
    assert len(found) == 1 and "required option 'dest' is missing" in found[0]


def test_mutually_exclusive_options_from_the_modules_own_spec(tmp_path):
    found = findings_for(
        tmp_path,
        """
        - name: Two checksums
          ansible.windows.win_get_url:
            url: https://example.invalid/x.exe
            dest: C:\\x.exe
            checksum: abc
            checksum_url: https://example.invalid/x.sha256
        """,
    )
    assert len(found) == 1
    assert "'checksum' and 'checksum_url' are mutually exclusive" in found[0]


def test_free_form_and_cmd_together_are_mutually_exclusive(tmp_path):
    found = findings_for(
        tmp_path,
        """
        - name: Run twice over
          ansible.windows.win_command: whoami
          args:
            cmd: whoami
        """,
    )
    assert len(found) == 1 and "mutually exclusive" in found[0]


def test_tasks_inside_blocks_and_aliases(tmp_path):
    found = findings_for(
        tmp_path,
        """
        - name: A block
          block:
            - name: Alias of url_timeout is accepted
              ansible.windows.win_get_url:
                url: https://example.invalid/x.exe
                dest: C:\\x.exe
                timeout: 30
          rescue:
            - name: Bad option in rescue
              ansible.windows.win_stat:
                path: C:\\x
                get_bogus: true
        """,
    )
    assert len(found) == 1 and "'Bad option in rescue'" in found[0] and "get_bogus" in found[0]


def test_templated_values_and_free_form_pass(tmp_path):
    found = findings_for(
        tmp_path,
        """
        - name: Templated state
          ansible.windows.win_package:
            path: C:\\x.exe
            state: "{{ wanted_state }}"
        - name: Free-form command
          ansible.windows.win_shell: Get-ChildItem C:\\
          changed_when: false
        """,
    )
    assert found == []


def test_unknown_module_is_reported(tmp_path):
    found = findings_for(
        tmp_path,
        """
        - name: Typo in the module name
          ansible.windows.win_get_ulr:
            url: https://example.invalid/x.exe
        """,
    )
    assert len(found) == 1 and "win_get_ulr" in found[0]


def test_playbook_plays_are_checked(tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        textwrap.dedent(
            """\
            ---
            - name: A play
              hosts: all
              pre_tasks:
                - name: Bad choice
                  ansible.windows.win_package:
                    path: C:\\x.exe
                    state: installed
            """
        ),
        encoding="utf-8",
    )
    found = [str(f) for f in module_argcheck.run([str(playbook)])]
    assert len(found) == 1 and "play.yml:5:" in found[0] and "'installed'" in found[0]


def test_variable_files_are_not_mistaken_for_tasks(tmp_path):
    defaults = tmp_path / "roles" / "demo" / "defaults"
    defaults.mkdir(parents=True)
    (defaults / "main.yml").write_text("---\n- not_a_module: true\n", encoding="utf-8")
    assert module_argcheck.run([str(tmp_path)]) == []


def test_cli_exit_status(tmp_path, capsys):
    path = write_tasks(
        tmp_path,
        """
        - name: Install
          ansible.windows.win_package:
            path: C:\\x.exe
            state: bogus
        """,
    )
    assert module_argcheck.main([str(path)]) == 1
    assert "bogus" in capsys.readouterr().out
    path.write_text("---\n- name: Ping\n  ansible.windows.win_ping:\n", encoding="utf-8")
    assert module_argcheck.main([str(path)]) == 0


@pytest.mark.slow
def test_the_project_itself_passes(repo_root):
    paths = [p for p in module_argcheck.DEFAULT_PATHS if (repo_root / p).exists()]
    assert [str(f) for f in module_argcheck.run(paths)] == []


def test_set_fact_takes_any_variable_name(tmp_path):
    found = findings_for(
        tmp_path,
        """
        - name: Remember things
          ansible.builtin.set_fact:
            demo_anything: 1
            cacheable: true
        """,
    )
    assert found == []


def test_the_flow_actions_are_checked_against_their_doc_stubs(tmp_path):
    # fleet_* are action plugins with doc-only module files: the check reads those stubs.
    found = findings_for(
        tmp_path,
        """
        - name: Observe
          arcgis_conda.fleet.fleet_observe:
            require_arcgis: true
            probe_timeoutt: 5
        - name: Plan
          arcgis_conda.fleet.fleet_plan:
            mode: bogus
        - name: Apply files
          arcgis_conda.fleet.fleet_files:
            changez: []
        - name: Verify
          arcgis_conda.fleet.fleet_verify:
            verify: {}
        - name: A templated value is not judged
          arcgis_conda.fleet.fleet_plan:
            mode: "{{ fleet_mode }}"
        """,
    )
    assert [f.split(": ", 3)[-1] for f in found] == [
        "unknown option 'probe_timeoutt'; the module accepts: packages, probe_timeout, require_arcgis, "
        "secure_pythons",
        "option 'mode' has value 'bogus', not one of the allowed values: offline, live",
        "required option 'changes' is missing",
        "unknown option 'changez'; the module accepts: changes",
        "required option 'judge' is missing",
    ]
