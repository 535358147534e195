"""Filters of the miniconda role that judge what the host reported (pure; logic in module_utils).

- ``miniconda_checksum_problem(install, sha256, host)``: '' or the failure message for a wrong installer.
- ``miniconda_judge(install, stat_results, version_result, host)``: whether an install is complete.
- ``miniconda_condarc_managed(slurp_content_b64)``: whether a condarc carries this role's marker.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.miniconda_plan import (
    checksum_problem,
    condarc_is_managed,
    judge_install,
)


def miniconda_checksum_problem(install: Mapping[str, Any], sha256: object, host: str) -> str:
    return checksum_problem(install, sha256, host)


def miniconda_judge(
    install: Mapping[str, Any],
    stat_results: Sequence[Mapping[str, Any]],
    version_result: Mapping[str, Any] | None,
    host: str,
) -> dict[str, Any]:
    """Judge from registered results: win_stat looped over install.expected_files, then win_command."""
    present: dict[str, bool] = {}
    for item in stat_results:
        path = item.get("item")
        if not isinstance(path, str):
            raise AnsibleFilterError(f"miniconda_judge: a stat result has no file path as item: {item!r}")
        present[path] = bool((item.get("stat") or {}).get("exists"))
    rc: int | None = None
    output = ""
    if version_result and not version_result.get("skipped"):
        rc = int(version_result.get("rc", 1))
        output = f"{version_result.get('stdout', '')}\n{version_result.get('stderr', '')}"
    return judge_install(install, present, rc, output, host)


def miniconda_condarc_managed(content_b64: object) -> bool:
    if not isinstance(content_b64, str) or not content_b64:
        return False
    try:
        text = base64.b64decode(content_b64).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return False
    return condarc_is_managed(text)


class FilterModule:
    """Filters of the miniconda role."""

    def filters(self) -> dict[str, Any]:
        return {
            "miniconda_checksum_problem": miniconda_checksum_problem,
            "miniconda_judge": miniconda_judge,
            "miniconda_condarc_managed": miniconda_condarc_managed,
        }
