"""Every role's public contract is whole: each default is commented, prefixed with the role's name,
and declared in meta/argument_specs.yml, and the spec declares nothing the defaults lack."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# Every role of the repository, the internal flow role ``fleet`` included.
ROLES = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))


def test_every_role_is_checked():
    assert set(ROLES) >= {"fleet", "miniconda", "doi_cert", "arcgis_env", "startup_bridge"}
    assert sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir()) == ROLES


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_argument_specs_agree(repo_root, role):
    path = repo_root / "roles" / role / "defaults" / "main.yml"
    lines = path.read_text(encoding="utf-8").splitlines()
    defaults = yaml.safe_load("\n".join(lines)) or {}
    specs = yaml.safe_load((repo_root / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert defaults, role
    assert [k for k in defaults if not k.startswith(f"{role}_")] == []
    # A decision only the organisation can make has no default (fleet_anaconda_channels): declared in the
    # spec without one, and named in a comment of defaults/main.yml saying why.
    undefaulted = {
        k for k, o in options.items() if k not in defaults and "default" not in o and not o.get("required")
    }
    for name in undefaulted:
        assert f"# {name} has NO default" in "\n".join(lines), f"{path}: say why {name} has no default"
    assert sorted(set(defaults) ^ (set(options) - undefaulted)) == []
    for index, line in enumerate(lines):
        if line and not line.startswith((" ", "#", "-", "---")) and ":" in line:
            assert index > 0 and lines[index - 1].startswith("#"), f"{path}:{index + 1} has no comment above"
    for name, option in options.items():
        assert option.get("description"), f"{role}: {name} has no description"
        assert option.get("type"), f"{role}: {name} has no type"


@pytest.mark.parametrize("role", ROLES)
def test_argument_spec_defaults_are_the_role_defaults(repo_root, role):
    defaults = yaml.safe_load((repo_root / "roles" / role / "defaults" / "main.yml").read_text()) or {}
    specs = yaml.safe_load((repo_root / "roles" / role / "meta" / "argument_specs.yml").read_text())
    for name, option in specs["argument_specs"]["main"]["options"].items():
        if "default" in option and name in defaults:
            assert option["default"] == defaults[name], f"{role}: {name} defaults differ"
