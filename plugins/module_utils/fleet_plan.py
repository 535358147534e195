"""Plan a fleet without connecting to it: what each role would do on every host.

Input per host: the probe's measured ``ansible_facts.arcgis`` from the fact cache when there is one, else
the ArcGIS releases the inventory declares (``fleet_arcgis_releases``), turned into install records of the
same shape through the release table. The roles' planners (module_utils/fleet_flow.py) run in the
action plugin ``fleet_plan``; this module supplies the host input records, the input checks and the
summary. Its one Ansible import is ``open_url``, for the controller's check of the mirror.
"""

from __future__ import annotations

import difflib
import re
import urllib.error
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible.module_utils.urls import ConnectionError as OpenUrlError
from ansible.module_utils.urls import open_url
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_dashboard as dash
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
        None  # the last host_read snapshot (ansible_facts.arcgis_conda_observed, packed or plain)
    )
    # Problems the action found in the host's inputs outside any role (its lab group, the mirror).
    input_errors: list[str] = field(default_factory=list)


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


def summarize(rows: Sequence[Mapping[str, Any]], kind: str = "plan") -> dict[str, Any]:
    """Counts per lab and outcome (the reports' own, ``fleet_dashboard.outcome``), for the console."""
    labs: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        labs.setdefault(str(row["lab"]), []).append(row)
    return {
        "hosts": len(rows),
        "labs": {
            lab: {k: n for k, n in dash.count_outcomes(members, kind).items() if n}
            for lab, members in sorted(labs.items())
        },
        "failed": sorted(str(r["host"]) for r in rows if r["status"] == "failed"),
    }


def _shape(text: str, host: str) -> str:
    return text.replace(f"{host}: ", "").replace(host, "<host>")


def grouped(
    rows: Sequence[Mapping[str, Any]], texts: Callable[[Mapping[str, Any]], Sequence[str]]
) -> list[str]:
    """Each distinct text once, with the hosts it concerns ("3 hosts: a, b, c"), most hosts first: a lab of
    40 hosts that share one reason prints it once."""
    hosts: dict[str, list[str]] = {}
    for row in rows:
        for text in texts(row):
            hosts.setdefault(_shape(str(text), str(row["host"])), []).append(str(row["host"]))
    out = []
    for text, names in sorted(hosts.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        out.append(f"[{len(names)} host{'s' if len(names) > 1 else ''}: {shown}] {text}")
    return out


# --- the inputs, checked strictly against the roles' argument_specs ---------------------------------------

# Ansible's argument spec converts a string to a list by splitting at commas and "k=v" to a dict: a role
# variable given as "geopandas" would reach the planner as ["geopandas"] here and as its letters elsewhere.
# The public contract is checked without those conversions (ints and floats still pass for str).
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {"list": (list, tuple), "dict": (dict,)}
_SCALARS = (str, int, float)


def _kind(value: Any) -> str:
    for types, name in ((bool, "boolean"), (str, "string"), ((int, float), "number"), (dict, "mapping")):
        if isinstance(value, types):
            return name
    return "list" if isinstance(value, (list, tuple)) else _kind(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def strict_type_errors(name: str, value: Any, option: Mapping[str, Any]) -> list[str]:
    """What Ansible's argument spec would silently convert: a scalar for a list or dict, a list or dict
    for a string, a non-scalar list element for ``elements: str`` (each naming the variable, value, fix)."""
    wanted = str(option.get("type", "str"))
    if value is None:
        return []
    if wanted in _PYTHON_TYPES and not isinstance(value, _PYTHON_TYPES[wanted]):
        example = f"[{value!r}]" if wanted == "list" else "{key: value}"
        return [
            f"{name} = {_shown(value)} is a {_kind(value)}, the variable must be a {wanted}"
            + (f" of {option['elements']}" if option.get("elements") else "")
            + f". Fix: {name}: {example}"
        ]
    if wanted in ("str", "path") and isinstance(value, (list, tuple, dict)):
        return [
            f"{name} = {_shown(value)} is a {_kind(value)}, the variable must be a string. "
            f"Fix: give one value, e.g. {name}: '...'"
        ]
    if wanted == "list" and option.get("elements") in ("str", "path"):
        bad = [item for item in value if not isinstance(item, _SCALARS)]
        if bad:
            return [
                f"{name} = {_shown(value)}: element {_shown(bad[0])} is a {_kind(bad[0])}, each "
                f"element must be a string. Fix: {name}: ['value', ...]"
            ]
    if wanted == "list" and option.get("elements") == "dict":
        bad = [item for item in value if not isinstance(item, dict)]
        if bad:
            keys = ", ".join(option.get("options") or {}) or "key"
            return [
                f"{name} = {_shown(value)}: element {_shown(bad[0])} is a {_kind(bad[0])}, each "
                f"element must be a mapping ({keys}). Fix: {name}: [{{...}}]"
            ]
    return []


# Names 1.0.0 replaced: the state's folders follow fleet_state_dir (<state>/.cache/locks, .cache/rattler,
# reports/plan), in every playbook.
RENAMED = {
    "arcgis_env_lock_dir": "fleet_state_dir (locks in <state>/.cache/locks)",
    "arcgis_env_cache_dir": "fleet_state_dir (the solver's cache in <state>/.cache/rattler)",
    "fleet_plan_lock_dir": "fleet_state_dir (locks in <state>/.cache/locks)",
    "fleet_plan_cache_dir": "fleet_state_dir (the solver's cache in <state>/.cache/rattler)",
    "fleet_plan_report_dir": "fleet_state_dir (plan reports in <state>/reports/plan)",
}


def unknown_variable_errors(
    variables: Mapping[str, Any],
    declared: Collection[str],
    allowed: Collection[str],
    prefixes: tuple[str, ...],
) -> list[str]:
    """An error per ``<role>_*``/``fleet_*`` name no role declares, with its value and the nearest one."""
    errors = []
    for name in sorted(variables):
        if not name.startswith(prefixes) or name in declared or name in allowed:
            continue
        if name in RENAMED:
            errors.append(
                f"{name} = {_shown(variables[name])} was replaced in 1.0.0 by {RENAMED[name]}. Fix: remove "
                "it and give the state folder with -e fleet_state_dir=<folder> or ARCGIS_FLEET_STATE_DIR"
            )
            continue
        near = difflib.get_close_matches(name, sorted(declared), n=1, cutoff=0.75)
        errors.append(
            f"{name} = {_shown(variables[name])} is not a variable of any role"
            + (f": did you mean {near[0]}? Fix: rename it to {near[0]}" if near else ". Fix: remove it")
            + ", or list it in fleet_allow_unknown_variables if it is deliberate"
        )
    return errors


# A group named like a lab but not lab_*: its hosts would be reported as "ungrouped".
_LAB_LIKE = re.compile(r"lab", re.IGNORECASE)
LAB_PREFIX = "lab_"


def lab_group_error(groups: Sequence[str]) -> str:
    """Refuse a host whose lab group is misnamed (reports and progress are per ``lab_*`` group)."""
    if any(g.startswith(LAB_PREFIX) for g in groups):
        return ""
    lab_like = [g for g in groups if _LAB_LIKE.search(g)]
    if not lab_like:
        return ""
    name = re.sub(r"(?i)^lab[^a-z0-9]*|[^a-z0-9]*lab$", "", lab_like[0]) or lab_like[0]
    name = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return (
        f"inventory group {lab_like[0]!r} looks like a lab but is not named lab_*: reports and progress "
        f"would list this host as 'ungrouped'. Fix: rename the group lab_{name}"
    )


# --- what the run will need from the controller's side, checked once per fleet ------------------------------


def url_problem(url: str, timeout: float, method: str = "GET") -> tuple[str, int]:
    """('', status) when the controller gets an HTTP answer from ``url``, else (why, 0). A status is
    returned as it is: the caller decides which ones mean the file is missing."""
    try:  # ansible-core's open_url (certificate checks, proxies); http(s) only, checked by the caller
        with open_url(url, method=method, timeout=timeout, follow_redirects="safe") as response:
            return "", int(response.status)
    except urllib.error.HTTPError as exc:
        return "", int(exc.code)
    except (urllib.error.URLError, OpenUrlError, OSError, ValueError) as exc:
        return str(getattr(exc, "reason", None) or exc), 0


def mirror_unreachable(mirror: str, timeout: float) -> str:
    """Why the controller cannot reach an http(s) ``fleet_package_mirror`` at all ('' when it answers; a
    UNC share or host folder is the hosts' to read and is not checked here)."""
    if not str(mirror).lower().startswith(("http://", "https://")):
        return ""
    why, _status = url_problem(str(mirror).rstrip("/") + "/", timeout)
    if not why:
        return ""
    return (
        f"fleet_package_mirror = {mirror!r} is not reachable from the controller ({why}); every host would "
        "fail at its first download. Fix: correct fleet_package_mirror (the web root playbooks/mirror.yml "
        "serves), start its web server, or set fleet_package_mirror: '' to use the upstream channels; if "
        "only the workstations can reach it, set fleet_mirror_check: false"
    )


def missing_on_mirror(url: str, mirror: str, status: int) -> str:
    return (
        f"{url} answers HTTP {status} on the mirror (fleet_package_mirror = {mirror!r}): the host's download "
        "would fail after the run's first changes. Fix: rebuild the mirror for this fleet "
        "(ansible-playbook playbooks/mirror.yml -e fleet_mirror_dir=<its web root>) or correct "
        "fleet_package_mirror; fleet_mirror_check: false skips this check"
    )
