"""Every plugin of the collection documents itself: `ansible-doc` must parse each one."""

from __future__ import annotations

import json
import subprocess

import pytest

FQCN = "arcgis_conda.fleet"


def plugin_names(repo_root, kind: str) -> list[str]:
    if kind == "module":
        return sorted(p.stem for p in (repo_root / "plugins/modules").glob("*.py") if p.stem != "__init__")
    if kind == "filter":
        return sorted(p.stem for p in (repo_root / "plugins/filter").glob("*.yml"))
    return sorted(p.stem for p in (repo_root / f"plugins/{kind}").glob("*.py"))


@pytest.mark.parametrize("kind", ["module", "filter", "callback"])
def test_ansible_doc_parses_every_plugin(repo_root, kind):
    names = plugin_names(repo_root, kind)
    assert names, f"no {kind} plugins found"
    proc = subprocess.run(
        ["ansible-doc", "--json", "-t", kind, *(f"{FQCN}.{n}" for n in names)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    assert sorted(docs) == sorted(f"{FQCN}.{n}" for n in names)
    for name, entry in docs.items():
        doc = entry["doc"]
        assert doc.get("short_description"), name
        assert doc.get("description"), name
        if kind == "module":
            assert entry.get("examples"), f"{name} has no EXAMPLES"
            assert entry.get("return") is not None, f"{name} has no RETURN"


def action_specs() -> dict[str, dict]:
    """ARGUMENT_SPEC of every action plugin that declares one, by plugin name."""
    import importlib
    import sys

    from conftest import ROOT

    specs = {}
    for path in sorted((ROOT / "plugins" / "action").glob("*.py")):
        module = importlib.import_module(f"ansible_collections.arcgis_conda.fleet.plugins.action.{path.stem}")
        # A subclass (fleet_observe) validates with the spec of the plugin it extends (arcgis_facts).
        for cls in module.ActionModule.__mro__:
            spec = getattr(sys.modules[cls.__module__], "ARGUMENT_SPEC", None)
            if spec is not None:
                specs[path.stem] = spec
                break
    return specs


def module_docs(repo_root, names) -> dict:
    """``ansible-doc --json`` of the collection's modules ``names``, in one call."""
    proc = subprocess.run(
        ["ansible-doc", "--json", "-t", "module", *(f"{FQCN}.{n}" for n in names)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_every_action_plugin_with_a_spec_has_a_doc_stub_that_matches_it(repo_root):
    """The doc stub is what ansible-doc and tools/module_argcheck.py check callers against: it must say
    exactly what the plugin's validate_argument_spec accepts (names, types, required, choices, defaults)."""
    specs = action_specs()
    assert {"fleet_observe", "fleet_plan", "fleet_files", "fleet_verify", "arcgis_facts"} <= set(specs)
    docs = module_docs(repo_root, specs)
    for name, spec in specs.items():
        options = docs[f"{FQCN}.{name}"]["doc"].get("options") or {}
        assert sorted(options) == sorted(spec), name
        for option, want in spec.items():
            doc = options[option]
            where = f"{name}.{option}"
            assert doc.get("type", "str") == want.get("type", "str"), where
            assert bool(doc.get("required")) == bool(want.get("required")), where
            assert doc.get("choices") == want.get("choices"), where
            if "default" in want:
                assert doc.get("default") == want["default"], where
            if want.get("elements"):
                assert doc.get("elements") == want["elements"], where


def return_keys(returns: dict, where: str = "") -> list[str]:
    keys = []
    for key, spec in (returns or {}).items():
        keys.append(f"{where}{key}")
        keys.extend(return_keys(spec.get("contains") or {}, f"{where}{key}."))
    return keys


def test_no_module_returns_a_key_jinja_dot_notation_cannot_read(repo_root):
    """`result.items` in Jinja is the dict method, not the value (fleet_files returned `items` before
    1.0.0; ansible-core 2.21's sanity rejects such names): no RETURN key, nested ones included, may be
    the name of a dict attribute."""
    docs = module_docs(repo_root, plugin_names(repo_root, "module"))
    reserved = {name for name in dir(dict) if not name.startswith("_")}
    clashes = [
        f"{module}: {key}"
        for module, entry in docs.items()
        for key in return_keys(entry.get("return") or {})
        if key.rsplit(".", 1)[-1] in reserved
    ]
    assert not clashes, clashes


def test_antsibull_docs_lint_finds_nothing(repo_root):
    """What docs.ansible.com's build checks: markup, references (M() of a filter is an error), schemas.

    rstcheck of the rendered pages is skipped (it alone takes most of a minute); about 10 s."""
    collection = repo_root / "collections" / "ansible_collections" / "arcgis_conda" / "fleet"
    proc = subprocess.run(
        ["antsibull-docs", "lint-collection-docs", "--plugin-docs", "--skip-rstcheck", "."],
        cwd=collection,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_the_action_group_holds_every_action_and_versions_agree(repo_root):
    """`module_defaults: {group/arcgis_conda.fleet.fleet: ...}` reaches every fleet action; one version."""
    import tomllib

    import yaml

    runtime = yaml.safe_load((repo_root / "meta" / "runtime.yml").read_text())
    actions = sorted(p.stem for p in (repo_root / "plugins" / "action").glob("*.py"))
    assert sorted(runtime["action_groups"]["fleet"]) == actions
    galaxy = yaml.safe_load((repo_root / "galaxy.yml").read_text())
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    assert project["version"] == galaxy["version"]
