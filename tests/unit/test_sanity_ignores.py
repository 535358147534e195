"""The sanity ignore files ship in the tarball: each line must be one the certified-collection rules
permit for plugins/ (ansible-lint's sanity rule, Partner Engineering's list) and carry its reason.
ansible-lint itself never sees them here (.ansible-lint excludes tests/), so this is where it is checked."""

from __future__ import annotations

from ansiblelint.rules.sanity import CheckSanityIgnoreFiles


def test_every_ignore_line_is_permitted_and_explained(repo_root):
    files = sorted((repo_root / "tests" / "sanity").glob("ignore-*.txt"))
    assert files
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            entry, _, reason = line.partition("#")
            target, test = entry.split()
            where = f"{path.name}:{number}"
            assert test in CheckSanityIgnoreFiles.allowed_ignores, f"{where}: {test} is not permitted"
            assert (repo_root / target).is_file(), f"{where}: {target} does not exist"
            assert reason.strip(), f"{where}: no reason given"
