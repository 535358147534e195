"""A filter of playbooks/selftest.yml, documented in the .yml file of the same name."""

from __future__ import annotations

from collections.abc import Callable
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


class FilterModule:
    """The selftest step's host call."""

    def filters(self) -> dict[str, Callable[..., object]]:
        return {"fleet_selftest_call": fleet_selftest_call}
