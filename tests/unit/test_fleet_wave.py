"""site.yml's waves (plugins/filter/fleet_wave.py): the hosts of each wave, in the inventory's order."""

from __future__ import annotations

from ansible_collections.arcgis_conda.fleet.plugins.filter.fleet_wave import CANARY, PASSED, REST, fleet_wave

ALL = ["c1", "b2", "a1", "b1", "a3", "a2"]  # ansible-core's groups['all'] is in no stable order


def groups(rest: list[str], canary: list[str], passed: list[str]) -> dict[str, list[str]]:
    return {
        "all": ALL,
        "lab_a": ["a1", "a2", "a3"],
        "lab_b": ["b1", "b2"],
        "lab_c": ["c1"],
        REST: rest,
        CANARY: canary,
        PASSED: passed,
    }


def test_a_wave_keeps_each_labs_inventory_order_whatever_order_group_by_added_its_hosts() -> None:
    """group_by adds hosts as the forks finish: serial batches must still be cut from the inventory order."""
    scrambled = groups(rest=["b2", "a3", "c1", "a2"], canary=["b1", "a1"], passed=["a1", "b1"])
    assert fleet_wave(scrambled, "canary") == ["a1", "b1"]
    assert fleet_wave(scrambled, "rest") == ["a2", "a3", "b2", "c1"]
    assert fleet_wave(scrambled, "held") == []


def test_a_failed_canary_holds_back_its_own_lab_only() -> None:
    failed_b = groups(rest=["b2", "a3", "a2", "c1"], canary=["b1", "a1"], passed=["a1"])
    assert fleet_wave(failed_b, "rest") == ["a2", "a3", "c1"]
    assert fleet_wave(failed_b, "held") == ["b2"]
