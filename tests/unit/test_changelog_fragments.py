"""A change to plugins/ or roles/ comes with a changelog fragment (antsibull-changelog), as in
ansible.windows' CI: compared with the merge-base with main, so a branch is judged on its own diff."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NEEDS_FRAGMENT = ("plugins/", "roles/")
FRAGMENTS = "changelogs/fragments/"
# A release folds the fragments into changelog.yaml (and deletes them): that diff holds the entries.
RELEASED = "changelogs/changelog.yaml"


def missing_fragment(changed: list[str]) -> list[str]:
    """The changed collection files that want a fragment, when the diff holds none (else [])."""
    if any(n.startswith(FRAGMENTS) and n.endswith((".yml", ".yaml")) for n in changed) or RELEASED in changed:
        return []
    return sorted(n for n in changed if n.startswith(NEEDS_FRAGMENT))


def git(*args: str) -> str | None:
    proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


@pytest.mark.parametrize(
    ("changed", "missing"),
    [
        (["plugins/action/fleet_files.py"], ["plugins/action/fleet_files.py"]),
        (["roles/miniconda/tasks/main.yml", "README.md"], ["roles/miniconda/tasks/main.yml"]),
        (["roles/miniconda/tasks/main.yml", "changelogs/fragments/26-items.yml"], []),
        (["plugins/modules/fleet_files.py", "changelogs/changelog.yaml", "CHANGELOG.md"], []),
        (["plugins/x.py", "changelogs/fragments/.keep"], ["plugins/x.py"]),
        (["tests/unit/test_x.py", "README.md"], []),
    ],
)
def test_missing_fragment_rule(changed: list[str], missing: list[str]) -> None:
    assert missing_fragment(changed) == missing


def test_this_branch_has_a_fragment_for_its_plugin_and_role_changes() -> None:
    if git("rev-parse", "--is-inside-work-tree") is None:
        pytest.skip("not a git checkout (a tarball or an export): no diff to judge")
    base = git("merge-base", "HEAD", "main")
    if base is None:
        pytest.skip("no branch main in this clone: no merge-base to compare with")
    # The branch's commits and the working tree (staged, unstaged, new files): what would be merged.
    changed = (git("diff", "--name-only", base.strip()) or "").splitlines()
    changed += (git("ls-files", "--others", "--exclude-standard") or "").splitlines()
    missing = missing_fragment(changed)
    assert not missing, (
        f"{len(missing)} change(s) to plugins/ or roles/ since main and no changelog fragment: add "
        f"{FRAGMENTS}<issue>-<topic>.yml (sections in changelogs/config.yaml; 'trivial:' for a change "
        f"users do not see). Files: {missing[:10]}"
    )
