"""One role, one place: the shape of plugins/ that keeps each role's behaviour in its own modules.

- No function, class or constant is defined under the same name in two modules of plugins/ (Ansible's
  per-plugin entry points excepted: every action plugin is an ``ActionModule``, every module documents
  itself in ``DOCUMENTATION``...), so nothing is written twice and a grep finds the one definition.
- A role's modules (``<role>_*.py``) import no other role's; a generic module imports none, except the
  registry (``registry.py``), which imports each role's ``<role>_role`` and is the one place naming them.
- Every role in the registry implements the interface in its own ``<role>_role.py``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_role
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.registry import ROLES

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
# Names Ansible requires in each plugin file of a kind (a plugin is loaded alone, never imported by another).
PER_PLUGIN = frozenset(
    {"ActionModule", "CallbackModule", "FilterModule", "DOCUMENTATION", "EXAMPLES", "RETURN", "ARGUMENT_SPEC"}
)
# fleet_mirror copies exactly the packages arcgis_env locked: it reads those locks and their channels'
# repodata through the arcgis_env lock module (the mirror is that role's package source, not a fifth role).
ALLOWED = {("fleet_mirror", "arcgis_env_lock")}


def top_level_names(path: Path) -> list[str]:
    names = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return names


def imported_modules(path: Path) -> list[str]:
    """The collection modules a file imports (last dotted part, or the names imported from module_utils)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and "arcgis_conda.fleet" in node.module:
            if node.module.endswith(".module_utils"):
                found += [alias.name for alias in node.names]
            else:
                found.append(node.module.rsplit(".", 1)[-1])
    return found


def role_of(module: str) -> str | None:
    return next((role.name for role in ROLES if module.startswith(f"{role.name}_")), None)


def test_no_name_is_defined_in_two_modules_of_plugins():
    where = defaultdict(list)
    for path in sorted(PLUGINS.rglob("*.py")):
        for name in top_level_names(path):
            if name not in PER_PLUGIN:
                where[name].append(str(path.relative_to(PLUGINS)))
    assert {name: paths for name, paths in where.items() if len(paths) > 1} == {}


def test_the_duplicate_check_sees_a_duplicate(tmp_path):
    # The check above must be able to fail: two modules defining one constant are found.
    (tmp_path / "a.py").write_text("PRODUCTS = ()\n")
    (tmp_path / "b.py").write_text("PRODUCTS: tuple = ()\ndef f():\n    PRODUCTS = 1\n")
    assert top_level_names(tmp_path / "a.py") == ["PRODUCTS"]
    assert top_level_names(tmp_path / "b.py") == ["PRODUCTS", "f"]  # f's local PRODUCTS is not top-level


def test_no_module_outside_a_role_imports_that_roles_modules():
    crossings = []
    for path in sorted(PLUGINS.rglob("*.py")):
        mine = role_of(path.stem) if path.parent.name == "module_utils" else None
        for module in imported_modules(path):
            theirs = role_of(module)
            if theirs is None or theirs == mine or (path.stem, module) in ALLOWED:
                continue
            if path.stem == "registry" and module == f"{theirs}_role":
                continue
            crossings.append(f"{path.relative_to(PLUGINS)} imports {module}")
    assert crossings == []


def test_the_registry_is_the_apply_order_and_each_role_is_one_module():
    assert [role.name for role in ROLES] == ["miniconda", "doi_cert", "arcgis_env", "startup_bridge"]
    for role in ROLES:
        assert isinstance(role, fleet_role.Role)
        assert type(role).__module__.rsplit(".", 1)[-1] == f"{role.name}_role"
        assert (PLUGINS / "module_utils" / f"{role.name}_role.py").is_file()
        assert role.column and (role.argument_spec or role.argument_parts)
        for method in ("observe", "plan", "judge"):
            assert getattr(type(role), method) is not getattr(fleet_role.Role, method), (role.name, method)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_each_roles_planner_spec_matches_its_vars_plan_wiring(role):
    """roles/<role>/vars/plan.yml gives exactly the arguments the role's spec declares (no stray key)."""
    import yaml

    wiring = yaml.safe_load((PLUGINS.parent / "roles" / role.name / "vars" / "plan.yml").read_text())
    args = wiring[f"__{role.name}_plan_args"]
    if role.argument_parts:
        assert set(args) == set(role.argument_parts)
        for part, spec in role.argument_parts.items():
            assert set(args[part]) <= set(spec), (role.name, part)
    else:
        assert set(args) <= set(role.argument_spec), role.name
