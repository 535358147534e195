"""Filter of site.yml's canary rollout: the workstations of each wave (``fleet_canary``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_report import lab_of

CANARY = "fleet_wave_canary"
REST = "fleet_wave_rest"
PASSED = "fleet_canary_passed"


def _lab(groups: Mapping[str, Any], host: str) -> str:
    """The host's lab as the reports name it (fleet_report.lab_of: its first ``lab_*`` group, sorted)."""
    return lab_of(name for name, members in groups.items() if host in (members or []))


def _inventory_order(groups: Mapping[str, Any], hosts: list[str]) -> list[str]:
    """``hosts`` lab by lab (labs by name), each lab's in its inventory order. group_by adds a host to its
    group as its result comes back, in whatever order the forks finish, and ``groups['all']`` is in no
    stable order either (ansible-core collects a parent group's hosts over a set of its descendants); a
    lab group lists its own hosts as the inventory does. A play's ``serial`` batches are cut from its host
    list, and must be the same on every run."""

    def key(host: str) -> tuple[str, int]:
        lab = _lab(groups, host)
        members = list(groups.get(lab) or [])
        return lab, members.index(host) if host in members else len(members)

    return sorted(hosts, key=key)


def fleet_wave(groups: Mapping[str, Any], wave: str) -> list[str]:
    """The hosts of ``wave``: ``canary``, the canary of each lab that has one; ``rest``, every other host
    whose lab has no canary or whose canary passed (reached the group ``fleet_canary_passed``); ``held``,
    the hosts a failed canary holds back. Without the canary step (no such groups), every wave is empty."""
    canaries = _inventory_order(groups, list(groups.get(CANARY) or []))
    if wave == "canary":
        return canaries
    if wave not in ("rest", "held"):
        raise AnsibleFilterError(f"fleet_wave: wave {wave!r} is not canary, rest or held")
    passed = set(groups.get(PASSED) or [])
    failed_labs = {_lab(groups, c) for c in canaries if c not in passed}
    rest, held = [], []
    for host in _inventory_order(groups, list(groups.get(REST) or [])):
        (held if _lab(groups, host) in failed_labs else rest).append(host)
    return rest if wave == "rest" else held


class FilterModule:
    """Canary rollout filters."""

    def filters(self) -> dict[str, Callable[..., object]]:
        return {"fleet_wave": fleet_wave}
