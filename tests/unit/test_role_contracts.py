"""Every role's public contract is whole: each default is commented, prefixed with the role's name,
and declared in meta/argument_specs.yml, and the spec declares nothing the defaults lack."""

from __future__ import annotations

import pytest
import yaml

ROLES = ("miniconda", "doi_cert", "arcgis_env", "startup_bridge")


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_argument_specs_agree(repo_root, role):
    path = repo_root / "roles" / role / "defaults" / "main.yml"
    lines = path.read_text(encoding="utf-8").splitlines()
    defaults = yaml.safe_load("\n".join(lines)) or {}
    specs = yaml.safe_load((repo_root / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert defaults, role
    assert [k for k in defaults if not k.startswith(f"{role}_")] == []
    assert sorted(set(defaults) ^ set(options)) == []
    for index, line in enumerate(lines):
        if line and not line.startswith((" ", "#", "-", "---")) and ":" in line:
            assert index > 0 and lines[index - 1].startswith("#"), f"{path}:{index + 1} has no comment above"
    for name, option in options.items():
        assert option.get("description"), f"{role}: {name} has no description"
        assert option.get("type"), f"{role}: {name} has no type"
