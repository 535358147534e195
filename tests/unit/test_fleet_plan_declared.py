"""Declared releases (fleet_arcgis_releases): a stack the table cannot give is a problem with its fix, and
the admin may declare it; ArcMap releases get the retirement note."""

from __future__ import annotations

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_env_role as er
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_plan as fp

PRODUCTS = ("desktop", "desktop_bgp", "pro")


def test_an_unsourced_desktop_stack_is_a_problem_naming_both_fixes():
    install = fp.declared_install("pc1", {"product": "desktop", "version": "10.8.1"})
    assert install["unverified"] == ["numpy", "matplotlib", "scipy"]
    facts, lines = er.arcgis_env_facts([install])
    assert facts == [] and lines[0].startswith("skipped: desktop-10.8.1-32: numpy, matplotlib, scipy unknown")
    (problem,) = er.unknown_stack_problems("pc1", [install], PRODUCTS)
    assert problem.startswith("ArcGIS desktop 10.8.1 (desktop-10.8.1-32): numpy, matplotlib, scipy unknown")
    assert "ansible-playbook playbooks/probe.yml --limit pc1" in problem
    assert (
        "fleet_arcgis_releases entry: {product: desktop, version: '10.8.1', numpy: '<version>', "
        "matplotlib: '<version>', scipy: '<version>'}"
    ) in problem


def test_a_community_sourced_value_is_not_enough_either():
    # 10.8's numpy 1.9.3 comes from a community copy of Esri's page: still unverified, still a problem.
    install = fp.declared_install("pc1", {"product": "desktop", "version": "10.8"})
    assert install["packages"]["numpy"] == "1.9.3"
    assert "numpy" in install["unverified"]
    assert er.unknown_stack_problems("pc1", [install], PRODUCTS)


def test_no_problem_for_a_known_stack_a_probed_install_or_an_unselected_product():
    known = fp.declared_install("pc1", {"product": "pro", "version": "3.7"})
    assert known["unverified"] == [] and known["packages"]["numpy"] == "2.3.5"
    unknown = fp.declared_install("pc1", {"product": "desktop", "version": "10.6"})
    probed = {**unknown, "status": "ok"}
    assert er.unknown_stack_problems("pc1", [known, probed], PRODUCTS) == []
    assert er.unknown_stack_problems("pc1", [unknown], ("pro",)) == []


def test_a_declared_stack_fills_the_unknown_cells_and_is_planned():
    entry = {"product": "desktop", "version": "10.8.1", "numpy": "1.9.3", "matplotlib": "1.5.2"}
    install = fp.declared_install("pc1", {**entry, "scipy": "0.17.0", "python": "2.7.18"})
    assert install["packages"] == {"numpy": "1.9.3", "matplotlib": "1.5.2", "scipy": "0.17.0"}
    assert install["unverified"] == [] and install["python_major_minor"] == "2.7"
    assert er.unknown_stack_problems("pc1", [install], PRODUCTS) == []
    facts, lines = er.arcgis_env_facts([install])
    assert lines == [] and facts[0]["status"] == "ok"
    # Declaring only some cells leaves the others a problem.
    partial = fp.declared_install("pc1", entry)
    assert partial["unverified"] == ["scipy"]
    assert "scipy unknown" in er.unknown_stack_problems("pc1", [partial], PRODUCTS)[0]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"product": "pro", "version": "3.3", "numpy": "1.26.4"},
            "numpy 1.26.4 contradicts the release table's",
        ),
        ({"product": "desktop", "version": "10.4.1", "scipy": "1.0.0"}, "scipy 1.0.0 contradicts"),
        ({"product": "desktop", "version": "10.8.1", "numpy": "latest"}, "numpy 'latest' is not a version"),
    ],
)
def test_a_declaration_may_not_contradict_a_sourced_value_or_be_no_version(entry, message):
    with pytest.raises(fp.PlanError, match=message) as info:
        fp.declared_install("pc1", entry)
    assert str(info.value).startswith("pc1: fleet_arcgis_releases entry for ")


def test_arcmap_releases_get_the_retirement_note_pro_does_not():
    installs = [
        fp.declared_install("pc1", {"product": "desktop", "version": "10.8.2"}),
        fp.declared_install("pc1", {"product": "desktop_bgp", "version": "10.8.2"}),
        fp.declared_install("pc1", {"product": "pro", "version": "3.5"}),
    ]
    (note,) = fp.arcmap_notes(installs)
    assert note.startswith("ArcMap (ArcGIS Desktop 10.8.2) is retired: Esri retired ArcMap on 2026-03-01")
    assert "000013224" in note
    assert fp.arcmap_notes(installs[2:]) == []
