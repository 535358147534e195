"""Plan a fleet without connecting to it: what each role would do on every host.

Input per host: the probe's measured ``ansible_facts.arcgis`` from the fact cache when there is one, else
the ArcGIS releases the inventory declares (``fleet_arcgis_releases``), turned into install records of the
same shape through the release table. The roles' planners (module_utils/fleet_flow.py) run in the
action plugin ``fleet_plan``; this module supplies the host input records and the summary. No Ansible
imports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_release import (
    UnknownRelease,
    arcgis_stack,
)

STACK_PACKAGES = ("numpy", "matplotlib", "scipy")
# Where ArcGIS Pro installs its conda by default: a declared Pro is planned as if it sat there.
PRO_DEFAULT_CONDA_ROOT = "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python"


class PlanError(ValueError):
    """A host's declared input cannot be planned; the message names host, value and fix."""


@dataclass
class HostInput:
    """What the controller knows about one host without connecting to it."""

    host: str
    lab: str
    facts: list[dict[str, Any]] | None = None
    declared: list[dict[str, Any]] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    observed: dict[str, Any] | None = (
        None  # the last host_read snapshot (ansible_facts.arcgis_conda_observed)
    )


def declared_install(host: str, release: Mapping[str, Any]) -> dict[str, Any]:
    """An ``ansible_facts.arcgis``-shaped record for a release declared in the inventory."""
    product = str(release.get("product", ""))
    version = str(release.get("version", ""))
    try:
        stack = arcgis_stack(version, product)
    except UnknownRelease as exc:
        raise PlanError(f"{host}: fleet_arcgis_releases entry {dict(release)!r}: {exc}") from exc
    bits = int(stack["bits"])  # type: ignore[call-overload]
    unverified = [str(name) for name in stack.get("unverified") or []]  # type: ignore[union-attr]
    problems = [f"{name} unverified in the release table" for name in unverified]
    return {
        "id": f"{product}-{version}-{bits}",
        "product": product,
        "version": version,
        "install_dir": None,
        "python_exe": None,
        "python_version": None,
        "python_major_minor": stack["python"],
        "bits": bits,
        "prefix": None,
        "site_packages": [],
        "user_site": None,
        "user_site_enabled": True,
        "packages": {name: stack[name] for name in STACK_PACKAGES},
        "pro_conda_root": PRO_DEFAULT_CONDA_ROOT if product == "pro" else None,
        "pro_conda_env": "arcgispro-py3" if product == "pro" else None,
        "status": "declared",
        "problems": problems,
        "unverified": unverified,
    }


def host_installs(item: HostInput) -> tuple[str, list[dict[str, Any]]]:
    """The host's installs and where they come from: ``probe``, ``declared`` or ``none``."""
    if item.facts is not None:
        return "probe", [dict(i) for i in item.facts]
    installs = [declared_install(item.host, r) for r in item.declared]
    return ("declared" if installs else "none"), installs


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts per lab and status, for the short summary printed after planning."""
    labs: dict[str, Counter[str]] = {}
    for row in rows:
        labs.setdefault(str(row["lab"]), Counter())[str(row["status"])] += 1
    return {
        "hosts": len(rows),
        "labs": {lab: dict(sorted(c.items())) for lab, c in sorted(labs.items())},
        "failed": sorted(str(r["host"]) for r in rows if r["status"] == "failed"),
    }
