"""Filters of playbooks/selftest.yml: each step's host-script call, the program a process check may run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_selftest as fs


def fleet_selftest_call(
    suffix: object, step: str, python: str | None = None, conda: str | None = None
) -> dict[str, Any]:
    """The ``win_powershell`` ``script`` and ``parameters`` of selftest step ``step`` in the scratch folder
    named by ``suffix``."""
    try:
        return fs.host_call(step, str(suffix), python or None, conda or None)
    except ValueError as exc:
        raise AnsibleFilterError(f"fleet_selftest_call: {exc}") from exc


def fleet_selftest_pick(read: Mapping[str, Any], kind: str = "python") -> str:
    """The first Python (``kind`` python) or Miniconda2 conda (``kind`` conda2) the selftest read that only
    an admin can change; '' when there is none."""
    if kind not in ("python", "conda2"):
        raise AnsibleFilterError(f"fleet_selftest_pick: kind {kind!r} is not python or conda2")
    return fs.pick(dict(read or {}), kind) or ""


class FilterModule:
    """Selftest filters."""

    def filters(self) -> dict[str, Callable[..., object]]:
        return {"fleet_selftest_call": fleet_selftest_call, "fleet_selftest_pick": fleet_selftest_pick}
