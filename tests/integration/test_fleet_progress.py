"""The fleet_progress callback and the per-lab report, driven by a real ansible-playbook run."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

INVENTORY = """\
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: {python}
  children:
    windows_workstations:
      children:
        lab_gis101:
          hosts: {{ws101-a: {{}}, ws101-b: {{}}, ws101-c: {{}}}}
        lab_gis102:
          hosts: {{ws102-a: {{}}, ws102-b: {{}}}}
"""


class TableParser(HTMLParser):
    """Collects table rows (cell texts) and any external references."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.external: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.external.append(value)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def run_playbook(repo_root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(INVENTORY.format(python=sys.executable))
    env = {
        **os.environ,
        "ANSIBLE_CALLBACKS_ENABLED": "arcgis_conda.fleet.fleet_progress",
        "ARCGIS_FLEET_STATE_DIR": str(tmp_path),  # reports in <state>/reports
        "ANSIBLE_NOCOLOR": "1",
    }
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), "tests/integration/playbooks/progress_lab.yml"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def two_runs(repo_root, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("progress")
    first = run_playbook(repo_root, tmp_path)
    first_calls = json.loads((tmp_path / "reports" / "latest" / "module_calls.json").read_text())
    second = run_playbook(repo_root, tmp_path)
    return tmp_path / "reports" / "latest", first, first_calls, second


@pytest.mark.slow
def test_progress_lines_per_lab(two_runs):
    _, first, _, _ = two_runs
    assert first.returncode == 2, first.stdout + first.stderr  # one host failed
    lines = [line for line in first.stdout.splitlines() if line.startswith("[fleet] lab_")]
    assert "[fleet] lab_gis101: 3/3 hosts done, 0 failed" in lines
    assert "[fleet] lab_gis102: 2/2 hosts done, 1 failed" in lines
    # One line per change, not per task: 5 hosts in batches of 2 give at most a handful of lines.
    assert len(lines) <= 6
    assert len(lines) == len(set(lines))


@pytest.mark.slow
def test_module_calls_count_round_trips_only(two_runs):
    _, _, first_calls, _ = two_runs
    # command (1) + loop of 3 (3); set_stats, fail/skip and the delegated command count zero.
    assert first_calls == {"ws101-a": 4, "ws101-b": 4, "ws101-c": 4, "ws102-a": 4, "ws102-b": 4}


@pytest.mark.slow
def test_reports_parse_back_and_retry_file(two_runs):
    report, _, _, second = two_runs
    assert "--limit @" in second.stdout
    assert (report / "failed_hosts.txt").read_text() == "ws102-b\n"
    data = json.loads((report / "lab_gis102.json").read_text())
    by_host = {h["host"]: h for h in data["hosts"]}
    assert by_host["ws102-b"]["status"] == "failed"
    assert "simulated failure on ws102-b" in by_host["ws102-b"]["error"]
    assert by_host["ws102-a"]["bridge_verified"] is True
    assert by_host["ws102-a"]["module_calls_previous"] == 4  # the first run, read back by the second
    with (report / "lab_gis101.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["Host"] for r in rows] == ["ws101-a", "ws101-b", "ws101-c"]
    assert {r["Module calls"] for r in rows} == {"4"}
    parser = TableParser()
    parser.feed((report / "lab_gis102.html").read_text())
    assert parser.external == []
    header, *cells = parser.rows
    assert header[:3] == ["Host", "Status", "Module calls"]
    assert [c[:2] for c in cells] == [["ws102-a", "ok"], ["ws102-b", "failed"]]
