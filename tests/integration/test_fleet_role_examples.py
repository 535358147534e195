"""Every role example in the READMEs runs as written (issue 25): each fenced YAML play that applies a role of
arcgis_conda.fleet, on the simulated lab, in the order the READMEs give them; each plans and changes only
its own roles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from simwin import lab as simlab
from simwin.testing import Lab, make_lab

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("miniconda", "doi_cert", "arcgis_env", "startup_bridge")
# The order an admin would follow: the README's own, then the roles' in site.yml's order.
READMES = ["README.md", *(f"roles/{role}/README.md" for role in ROLES)]


def examples() -> list[tuple[str, str]]:
    found = []
    for readme in READMES:
        text = (ROOT / readme).read_text(encoding="utf-8")
        for n, block in enumerate(re.findall(r"```yaml\n(.*?)```", text, re.S)):
            if "hosts:" in block and "arcgis_conda.fleet." in block:
                found.append((f"{readme}#{n}", block))
    return found


EXAMPLES = examples()


def roles_of(block: str) -> set[str]:
    plays = yaml.safe_load(block)
    names = [r if isinstance(r, str) else r["role"] for play in plays for r in play.get("roles") or []]
    return {name.rsplit(".", 1)[-1] for name in names}


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    return make_lab(tmp_path_factory.mktemp("examples"), "reference")


def test_every_role_of_the_collection_has_an_example() -> None:
    assert set().union(*(roles_of(block) for _name, block in EXAMPLES)) == set(ROLES)


@pytest.mark.parametrize(("name", "block"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_the_example_runs_as_written_and_changes_only_its_roles(lab: Lab, name: str, block: str) -> None:
    playbook = lab.dir / f"{name.replace('/', '_').replace('#', '_')}.yml"
    playbook.write_text(block, encoding="utf-8")
    lab.reset_calls()
    proc = simlab.run(lab.dir, ["ansible-playbook", str(playbook)], capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    planned = set(
        re.findall(r"- '(\w+?)(?:_retire)?: (?:mkdir|write|secure|delete|copy|download|install|run)", out)
    )
    assert planned <= roles_of(block), f"{name} planned changes of {planned - roles_of(block)}:\n{out}"
