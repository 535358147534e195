"""Plan a fleet without connecting to it: what each role would do on every host.

Input per host: the probe's measured ``ansible_facts.arcgis`` from the fact cache when there is one, else
the ArcGIS releases the inventory declares (``fleet_arcgis_releases``), turned into install records of the
same shape through the release table. The roles' planners (module_utils/fleet_flow.py) run in the
action plugin ``fleet_plan``; this module supplies the host input records and the summary. No Ansible
imports.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_release import (
    ARCMAP_RETIRED,
    SOURCES,
    STACK_PACKAGES,
    UnknownRelease,
    arcgis_stack,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import PlanError

# Where ArcGIS Pro installs its conda by default: a declared Pro is planned as if it sat there.
PRO_DEFAULT_CONDA_ROOT = "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python"
# What a fleet_arcgis_releases entry may declare besides product and version (the stack it measured).
DECLARABLE = ("python", *STACK_PACKAGES)
_DECLARED_VERSION = re.compile(r"^\d+(\.\d+){1,3}$")


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
    """An ``ansible_facts.arcgis``-shaped record for a release declared in the inventory.

    The entry may declare the stack too (``python``, ``numpy``, ``matplotlib``, ``scipy``): a declared
    value fills a cell the release table cannot source (or sources only from a community page); it may not
    contradict a value the table has from Esri or from this project's own measurement.
    """
    product = str(release.get("product", ""))
    version = str(release.get("version", ""))
    try:
        stack = arcgis_stack(version, product)
    except UnknownRelease as exc:
        raise PlanError(f"{host}: fleet_arcgis_releases entry {dict(release)!r}: {exc}") from exc
    bits = int(stack["bits"])  # type: ignore[call-overload]
    unverified = [str(name) for name in stack.get("unverified") or []]  # type: ignore[union-attr]
    for name in DECLARABLE:
        if release.get(name) is None:
            continue
        value = str(release[name])
        if not _DECLARED_VERSION.match(value):
            raise PlanError(
                f"{host}: fleet_arcgis_releases entry for {product} {version}: {name} {value!r} is not a "
                "version; declare it as measured in that ArcGIS's Python, e.g. numpy: '1.9.3'"
            )
        if name == "python":
            value = ".".join(value.split(".")[:2])  # the table keeps major.minor
        if name not in unverified and stack[name] is not None and str(stack[name]) != value:
            raise PlanError(
                f"{host}: fleet_arcgis_releases entry for {product} {version}: {name} {value} contradicts "
                f"the release table's {stack[name]} ({stack['source']}). Fix: remove {name} from the entry, "
                "or probe the host (playbooks/probe.yml): measured facts win over the table"
            )
        stack = {**stack, name: value}
        unverified = [n for n in unverified if n != name]
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


def arcmap_notes(installs: Sequence[Mapping[str, Any]]) -> list[str]:
    """A note (not a failure) per ArcMap release on the host: Esri retired ArcMap on 1 March 2026."""
    releases = sorted(
        {str(i.get("version")) for i in installs if i.get("product") in ("desktop", "desktop_bgp")}
    )
    source = SOURCES["esri-faq-000013224"]
    return [
        f"ArcMap (ArcGIS Desktop {version}) is retired: Esri retired ArcMap on {ARCMAP_RETIRED} "
        f"({source.url}); its env and bridge are still managed, but plan the move to ArcGIS Pro"
        for version in releases
    ]


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
