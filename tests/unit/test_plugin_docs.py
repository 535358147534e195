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
