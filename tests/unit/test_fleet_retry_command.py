"""The retry line the run prints repeats every option the run needs to reach the same hosts (issue 25)."""

from __future__ import annotations

import shlex
from pathlib import Path

from ansible_collections.arcgis_conda.fleet.plugins.callback.fleet_progress import retry_command


def test_the_retry_keeps_the_inventory_vars_vault_and_mode() -> None:
    args = {
        "inventory": ["inventory/agency"],
        "extra_vars": ["@extra.json", "fleet_serial=10"],
        "tags": ["all"],
        "skip_tags": ["startup_bridge"],
        "check": True,
        "diff": True,
        "vault_ids": ["prod@prompt"],
        "vault_password_files": ["~/.vault-pass"],
        "remote_user": "labadmin",
    }
    words = shlex.split(retry_command("site.yml", args, Path("reports/r/failed_hosts.txt")))
    assert words[:4] == ["ansible-playbook", "site.yml", "-i", "inventory/agency"]
    joined = " ".join(words)
    for expected in (
        "-e @extra.json -e fleet_serial=10",
        "--skip-tags startup_bridge",
        "--check",
        "--diff",
        "--vault-id prod@prompt",
        "--vault-password-file ~/.vault-pass",
        "--user labadmin",
    ):
        assert expected in joined, joined
    assert "--tags" not in words  # "all" is the default, not repeated
    assert words[-2:] == ["--limit", "@reports/r/failed_hosts.txt"]


def test_a_run_without_options_retries_with_none() -> None:
    line = retry_command("site.yml", {}, Path("f.txt"))
    assert line == "ansible-playbook site.yml --limit @f.txt"
