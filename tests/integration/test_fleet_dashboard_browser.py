"""The dashboard in a real browser: headless Chromium renders the index and a 40-host lab page."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_report import Column, write_lab_reports
from dashboard_sample import CHROMIUM, chromium_argv, sample_rows  # tools/, on sys.path through conftest

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium not installed (Debian package chromium)"
)
COLUMNS = [Column("host", "Host"), Column("status", "Status"), Column("module_calls", "Module calls")]
COLUMNS += [Column("changes", "Changes"), Column("error", "First error")]


def chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        chromium_argv(page, profile, *args),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed image data of a PNG, read with the standard library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, zlib.decompress(idat)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dashboard")
    write_lab_reports(
        out, "arcgis-conda fleet run", sample_rows(40, "run"), COLUMNS, meta={"playbook": "site.yml"}
    )
    return out


@pytest.mark.parametrize("page", ["index.html", "lab_gis101.html"])
def test_page_renders_and_is_not_blank(sample, tmp_path, page):
    png = tmp_path / "shot.png"
    proc = chromium(tmp_path, sample / page, f"--screenshot={png}")
    assert png.exists(), proc.stderr[-2000:]
    width, height, pixels = png_pixels(png)
    assert (width, height) == (1280, 900)
    # A blank page is one colour: its rows compress to a few distinct bytes. Text, cards and bars do not.
    assert len(set(pixels)) > 50
    assert png.stat().st_size > 10_000


def test_dom_shows_the_hosts_and_labs(sample, tmp_path):
    lab = chromium(tmp_path, sample / "lab_gis101.html", "--dump-dom")
    assert lab.returncode == 0, lab.stderr[-2000:]
    for i in (1, 7, 31, 40):
        assert f"gis101-ws{i:02d}.lab.example.org" in lab.stdout
    assert lab.stdout.index("gis101-ws07") < lab.stdout.index("gis101-ws31") < lab.stdout.index("gis101-ws02")
    index = chromium(tmp_path, sample / "index.html", "--dump-dom")
    assert "lab_gis101.html" in index.stdout and "lab_gis102" in index.stdout
    assert "<svg" in index.stdout
