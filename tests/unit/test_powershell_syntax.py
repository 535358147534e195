"""Every PowerShell script we send to Windows parses: there is no pwsh here, so a tree-sitter grammar of
PowerShell checks the syntax of the host scripts of module_utils/fleet_host.py (host_read: observe and
verify; apply_files: every file change) and of any win_powershell script in the YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
import tree_sitter_powershell
import yaml
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import (
    APPLY_FILES_SCRIPT,
    HOST_READ_SCRIPT,
)
from tree_sitter import Language, Node, Parser

PARSER = Parser(Language(tree_sitter_powershell.language()))
ROOT = Path(__file__).resolve().parents[2]


def problems(script: str) -> list[str]:
    """Lines with syntax errors or missing tokens; empty when the script parses."""
    found: list[str] = []

    def walk(node: Node) -> None:
        if node.is_error or node.is_missing:
            line = node.start_point[0]
            found.append(f"line {line + 1}: {script.splitlines()[line].strip() if script else ''}")
            return
        for child in node.children:
            walk(child)

    walk(PARSER.parse(script.encode("utf-8")).root_node)
    return found


def yaml_scripts(root: Path = ROOT) -> list[tuple[str, str]]:
    """(place, script) for every win_powershell task in roles/, playbooks/ and molecule/."""
    out = []
    for folder in ("roles", "playbooks", "molecule"):
        for path in sorted((root / folder).rglob("*.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            stack = [data]
            while stack:
                item = stack.pop()
                if isinstance(item, list):
                    stack.extend(item)
                elif isinstance(item, dict):
                    for key, value in item.items():
                        if key.endswith("win_powershell") and isinstance(value, dict) and "script" in value:
                            out.append((f"{path.relative_to(root)}: {item.get('name')}", value["script"]))
                        else:
                            stack.append(value)
    return out


# Every host script the collection ships as a file (plugins/module_utils/*.ps1), as sent.
PLUGIN_SCRIPTS = [
    (str(path.relative_to(root)), path.read_text(encoding="utf-8"))
    for root in [Path(__file__).resolve().parents[2]]
    for path in sorted((root / "plugins").rglob("*.ps1"))
]


@pytest.mark.parametrize(("place", "script"), PLUGIN_SCRIPTS + yaml_scripts(), ids=lambda v: str(v)[:60])
def test_script_parses(place, script):
    assert problems(script) == [], place


def test_the_shipped_script_files_are_what_is_sent():
    # Two files, each the exact text the action plugins send (no copy kept in Python).
    assert [path for path, _text in PLUGIN_SCRIPTS] == [
        "plugins/module_utils/fleet_apply_files.ps1",
        "plugins/module_utils/fleet_host_read.ps1",
    ]
    assert dict(PLUGIN_SCRIPTS) == {
        "plugins/module_utils/fleet_apply_files.ps1": APPLY_FILES_SCRIPT,
        "plugins/module_utils/fleet_host_read.ps1": HOST_READ_SCRIPT,
    }


def test_the_host_scripts_say_which_contract_they_are():
    # simwin (tests/simwin/scripts.py) and the reader of a WinRM trace rely on the first line.
    assert HOST_READ_SCRIPT.startswith("# arcgis_conda.fleet host script: host_read\n")
    assert APPLY_FILES_SCRIPT.startswith("# arcgis_conda.fleet host script: apply_files\n")


def test_the_yaml_scan_finds_an_inline_script(tmp_path):
    # The flow has no inline win_powershell today; the scan must still see one if a task adds it.
    (tmp_path / "roles" / "demo" / "tasks").mkdir(parents=True)
    (tmp_path / "roles" / "demo" / "tasks" / "main.yml").write_text(
        '- name: Inline\n  ansible.windows.win_powershell:\n    script: "Write-Output 1"\n'
    )
    assert yaml_scripts(tmp_path) == [("roles/demo/tasks/main.yml: Inline", "Write-Output 1")]


@pytest.mark.parametrize(
    "broken",
    [
        "foreach ($path in $Paths { Write-Output $path }",
        "if ($x -eq 1) { 'one' ",
        "$h = @{ a = 1; b = ",
    ],
)
def test_a_syntax_error_is_caught(broken):
    assert problems(broken)
