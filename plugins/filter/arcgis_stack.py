"""Filters over the ArcGIS release table: ``{{ '10.4.1' | arcgis_conda.fleet.arcgis_stack('desktop') }}``."""

from __future__ import annotations

from collections.abc import Callable

from ansible.errors import AnsibleFilterError
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_release import (
    UnknownRelease,
    arcgis_stack,
)


def arcgis_stack_filter(version: object, product: str = "desktop") -> dict[str, object]:
    """What ArcGIS release ``version`` of ``product`` (desktop | desktop_bgp | pro) ships in its Python."""
    try:
        return arcgis_stack(str(version), product)
    except UnknownRelease as exc:
        raise AnsibleFilterError(f"arcgis_stack: {exc}") from exc


class FilterModule:
    """ArcGIS release filters."""

    def filters(self) -> dict[str, Callable[..., object]]:
        return {"arcgis_stack": arcgis_stack_filter}
