"""Every PowerShell script we send to Windows parses: there is no pwsh here, so a tree-sitter grammar of
PowerShell checks the syntax of the probe's, doi_cert's and the roles' win_powershell scripts."""

from __future__ import annotations

from pathlib import Path

import pytest
import tree_sitter_powershell
import yaml
from ansible_collections.arcgis_conda.fleet.plugins.action.arcgis_facts import (
    REGISTRY_SCRIPT,
    RUN_PROBE_SCRIPT,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_scan import SCAN_SCRIPT
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


def yaml_scripts() -> list[tuple[str, str]]:
    """(place, script) for every win_powershell task in roles/, playbooks/ and molecule/."""
    out = []
    for folder in ("roles", "playbooks", "molecule"):
        for path in sorted((ROOT / folder).rglob("*.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            stack = [data]
            while stack:
                item = stack.pop()
                if isinstance(item, list):
                    stack.extend(item)
                elif isinstance(item, dict):
                    for key, value in item.items():
                        if key.endswith("win_powershell") and isinstance(value, dict) and "script" in value:
                            out.append((f"{path.relative_to(ROOT)}: {item.get('name')}", value["script"]))
                        else:
                            stack.append(value)
    return out


PLUGIN_SCRIPTS = [
    ("arcgis_facts REGISTRY_SCRIPT", REGISTRY_SCRIPT),
    ("arcgis_facts RUN_PROBE_SCRIPT", RUN_PROBE_SCRIPT),
    ("doi_cert_scan SCAN_SCRIPT", SCAN_SCRIPT),
]


@pytest.mark.parametrize(("place", "script"), PLUGIN_SCRIPTS + yaml_scripts(), ids=lambda v: str(v)[:60])
def test_script_parses(place, script):
    assert problems(script) == [], place


def test_the_yaml_scripts_are_found():
    assert any("startup_bridge" in place for place, _ in yaml_scripts())


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
