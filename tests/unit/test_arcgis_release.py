"""The release table behind the arcgis_stack filter, and the filter as Ansible loads it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import esri_release_table
import pytest
from ansible.errors import AnsibleFilterError
from ansible.plugins.loader import filter_loader
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_release as release

DESKTOP_RELEASES = [
    "10.0", "10.1", "10.2", "10.2.1", "10.2.2", "10.3", "10.3.1", "10.4", "10.4.1", "10.5", "10.5.1",
    "10.6", "10.6.1", "10.7", "10.7.1", "10.8", "10.8.1", "10.8.2",
]  # fmt: skip
PRO_PUBLISHED = [f"2.{minor}" for minor in range(10)] + [f"3.{minor}" for minor in range(8)]
# Esri's own file is never committed (it stays Esri's): the checks read it from the shared data folder
# beside the checkout (../shared/data/esri/, where CI and this workplace keep it) or, when refreshing the
# table, from ARCGIS_DIST_JSON (the downloaded copy); without either they are skipped.
SHARED_ESRI_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "esri" / "arcgis-dist.json"
ESRI_FILE = Path(os.environ.get("ARCGIS_DIST_JSON") or SHARED_ESRI_FILE)
needs_esri_file = pytest.mark.skipif(
    not ESRI_FILE.is_file(),
    reason=f"Esri's arcgis-dist.json is neither at {SHARED_ESRI_FILE} nor named by ARCGIS_DIST_JSON",
)


def in_esris_shape() -> dict[str, dict[str, str]]:
    """The shipped rows written back in arcgis-dist.json's shape (release -> package -> version)."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_pro_dist

    return {
        release: {"arcgispro": release}
        | {name: value for name, value in zip(arcgis_pro_dist.FIELDS, row, strict=True) if value is not None}
        for release, row in arcgis_pro_dist.RELEASES.items()
    }


@pytest.fixture(scope="module")
def arcgis_stack():
    """The filter exactly as a playbook gets it, through Ansible's plugin loader and our collection."""
    return filter_loader.get("arcgis_conda.fleet.arcgis_stack").j2_function


@pytest.mark.parametrize("version", ["10.4", "10.4.1", "10.4.1.5524", "10.4.0"])
def test_the_seeds_row_10_4_x(arcgis_stack, version):
    stack = arcgis_stack(version, "desktop")
    assert (stack["numpy"], stack["matplotlib"], stack["scipy"]) == ("1.9.2", "1.4.3", "0.15.1")
    assert (stack["python"], stack["bits"]) == ("2.7", 32)
    assert stack["unverified"] == []
    assert "seed" in stack["source"]


def test_background_gp_is_the_desktop_stack_in_64_bits(arcgis_stack):
    stack = arcgis_stack("10.4.1", "desktop_bgp")
    assert (stack["numpy"], stack["bits"], stack["product"]) == ("1.9.2", 64, "desktop_bgp")


@pytest.mark.parametrize("version", ["3.3", "3.3.0", "3.3.2", "3.3.0.52636"])
def test_pro_short_and_registry_forms(arcgis_stack, version):
    stack = arcgis_stack(version, "pro")
    assert stack == {
        "product": "pro",
        "release": "3.3",
        "python": "3.11",
        "bits": 64,
        "numpy": "1.24.3",
        "matplotlib": "3.6.3",
        "scipy": "1.9.3",
        "unverified": [],
        "source": stack["source"],
    }
    assert "arcgis-dist.json" in stack["source"]


@pytest.mark.parametrize(
    ("version", "python", "numpy", "matplotlib", "scipy"),
    [
        ("2.0", "3.5", "1.11.2", "1.5.3", "0.18.1"),
        ("2.5", "3.6", "1.16.5", "3.1.1", "1.3.1"),
        ("2.9", "3.7", "1.20.1", "3.4.2", "1.6.2"),
        ("3.2", "3.9", "1.22.4", "3.6.3", "1.7.3"),
        ("3.5", "3.11", "1.26.4", "3.9.4", "1.14.1"),
        ("3.6", "3.13", "2.2.0", "3.9.4", "1.14.1"),
        ("3.7", "3.13", "2.3.5", "3.10.8", "1.16.3"),
    ],
)
def test_pro_rows_spot_checked_against_esris_arcgis_dist_json(version, python, numpy, matplotlib, scipy):
    stack = release.arcgis_stack(version, "pro")
    assert (stack["python"], stack["numpy"], stack["matplotlib"], stack["scipy"]) == (
        python,
        numpy,
        matplotlib,
        scipy,
    )


def test_every_desktop_10x_and_pro_2x_3x_release_has_a_row():
    assert release.known_releases("desktop") == DESKTOP_RELEASES
    assert release.known_releases("pro")[: len(PRO_PUBLISHED)] == PRO_PUBLISHED
    for version in PRO_PUBLISHED:
        assert release.lookup_release(version, "pro").unverified == [], version


def test_every_value_is_sourced_or_null_and_marked_unverified():
    for row in release.DESKTOP + release.PRO:
        for name in release.TABLE_FIELDS:
            value, source = getattr(row, name), row.source_of(name)
            if value is None or not source.verified:
                assert name in row.unverified, (row.version, name)
            if value is not None:
                assert source is not release.SOURCES["unsourced"], (row.version, name)
        assert row.as_dict()["source"], row.version


def test_unknown_release_lists_the_known_ones(arcgis_stack):
    with pytest.raises(AnsibleFilterError) as info:
        arcgis_stack("1.4", "pro")
    assert "ArcGIS pro 1.4 is not in the release table; known releases: 2.0, 2.1," in str(info.value)
    assert "3.7" in str(info.value)
    with pytest.raises(AnsibleFilterError, match=r"known releases: 10\.0, 10\.1, .*10\.8\.2"):
        arcgis_stack("9.3.1")
    with pytest.raises(AnsibleFilterError, match="unknown ArcGIS product 'server'"):
        arcgis_stack("10.4.1", "server")
    with pytest.raises(AnsibleFilterError, match="is not an ArcGIS version"):
        arcgis_stack("latest", "pro")


def test_unsourced_release_is_known_but_null(arcgis_stack):
    stack = arcgis_stack("10.6.1")
    assert stack["numpy"] is None
    assert stack["python"] == "2.7"
    assert set(stack["unverified"]) == {"numpy", "matplotlib", "scipy"}


@needs_esri_file
def test_every_pro_row_is_esris_file():
    """Each Pro row against Esri's own file (the commit the table names)."""
    dist = json.loads(ESRI_FILE.read_text(encoding="utf-8"))
    assert list(dist) == release.known_releases("pro")
    for version, packages in dist.items():
        stack = release.arcgis_stack(version, "pro")
        assert stack["python"] == ".".join(packages["python"].split(".")[:2]), version
        for name in release.STACK_PACKAGES:
            assert stack[name] == packages[name], (version, name)
        assert stack["unverified"] == [], version
        assert release.pro_shipped(version)["python"] == packages["python"]
    assert release.arcgis_stack("3.6", "pro")["numpy"].startswith("2.")


@needs_esri_file
def test_the_tool_regenerates_the_data_module_identically_from_esris_file():
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_pro_dist

    shipped = Path(arcgis_pro_dist.__file__).read_text(encoding="utf-8")
    assert esri_release_table.render(ESRI_FILE.read_bytes(), arcgis_pro_dist.SOURCE["commit"]) == shipped


def test_the_tool_round_trips_the_shipped_rows_and_follows_a_newer_file(tmp_path):
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_pro_dist

    commit = arcgis_pro_dist.SOURCE["commit"]
    shipped = Path(arcgis_pro_dist.__file__).read_text(encoding="utf-8")
    assert esri_release_table.releases_from(in_esris_shape()) == arcgis_pro_dist.RELEASES
    source = tmp_path / "arcgis-dist.json"
    source.write_text(json.dumps(in_esris_shape()), encoding="utf-8")
    out = tmp_path / "dist.py"
    assert esri_release_table.main([str(source), "--commit", commit, "--output", str(out)]) == 0
    written = out.read_text(encoding="utf-8")
    # The same rows as the shipped module; only the recorded SHA-256 of the source file differs.
    assert written.replace(esri_release_table.hashlib.sha256(source.read_bytes()).hexdigest(), "") == (
        shipped.replace(arcgis_pro_dist.SOURCE["sha256"], "")
    )
    assert esri_release_table.main([str(source), "--commit", commit, "--output", str(out), "--check"]) == 0
    # A newer Esri file (a made-up 3.8) changes the module: --check says so, a run writes it.
    dist = in_esris_shape()
    dist["3.8"] = {**dist["3.7"], "arcgispro": "3.8", "numpy": "2.4.0"}
    newer = tmp_path / "arcgis-dist.json"
    newer.write_text(json.dumps(dist), encoding="utf-8")
    assert esri_release_table.main([str(newer), "--commit", commit, "--output", str(out), "--check"]) == 1
    assert esri_release_table.main([str(newer), "--commit", commit, "--output", str(out)]) == 0
    assert '"3.8": ("3.13.13", "2.4.0",' in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update({"latest": {}}), "is not a Pro release"),
        (lambda d: d["3.7"].pop("python"), "3.7: no python entry"),
        (lambda d: d["3.7"].update({"numpy": "two"}), "numpy 'two' is not a version"),
        (lambda d: d["3.7"].update({"arcgispro": "3.6"}), "names arcgispro '3.6'"),
    ],
)
def test_the_tool_refuses_a_file_it_does_not_know(change, message):
    dist = in_esris_shape()
    change(dist)
    with pytest.raises(esri_release_table.DistError, match=message):
        esri_release_table.render(json.dumps(dist).encode(), "0" * 40)


def test_desktop_cells_name_their_own_source():
    row = release.lookup_release("10.8", "desktop")
    assert row.numpy == "1.9.3" and row.source_of("numpy").url.startswith("https://www.cnblogs.com/")
    assert row.source_of("matplotlib") is release.SOURCES["unsourced"]
    assert set(row.unverified) == {"numpy", "matplotlib", "scipy"}
    vesnikos = release.lookup_release("10.5", "desktop")
    assert vesnikos.source_of("numpy") is release.SOURCES["unsourced"]
    assert vesnikos.source_of("scipy") is release.SOURCES["gist-vesnikos"]
