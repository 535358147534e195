"""A filter of playbooks/selftest.yml, documented in the .yml file of the same name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_selftest as fs


def fleet_selftest_pick(read: Mapping[str, Any], kind: str = "python") -> str:
    """The first Python (``kind`` python) or Miniconda2 conda (``kind`` conda2) the selftest read that only
    an admin can change; '' when there is none."""
    if kind not in ("python", "conda2"):
        raise AnsibleFilterError(f"fleet_selftest_pick: kind {kind!r} is not python or conda2")
    return fs.pick(dict(read or {}), kind) or ""


class FilterModule:
    """The program a selftest process check may run."""

    def filters(self) -> dict[str, Callable[..., object]]:
        return {"fleet_selftest_pick": fleet_selftest_pick}
