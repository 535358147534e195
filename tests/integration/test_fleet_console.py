"""What the admin reads (issue 25): the console, the HTML and the JSON agree on every host's outcome; a host
with nothing to manage (a per-user ArcGIS Pro) is "nothing managed", not a green "ok"; plan.yml prints its
counts per lab and its warnings."""

from __future__ import annotations

import json
import re

import pytest
from simwin.testing import Lab, fleet_run, make_lab

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    return make_lab(tmp_path_factory.mktemp("console"), "reference", "pro33_per_user")


def console_counts(out: str, lab: str = "lab_sim") -> dict[str, int]:
    """The last "[fleet] lab_sim: 1 would change, 1 nothing managed" line (or plan.yml's "lab_sim: ...")."""
    line = [
        m for m in re.findall(rf"^\s*(?:\[fleet\] )?{lab}: ([^/\n]+)$", out, re.M) if "hosts done" not in m
    ][-1]
    return {name: int(n) for n, name in re.findall(r"(\d+) ([a-z ]+?)(?:,|$)", line)}


def test_check_mode_console_html_and_json_agree(lab: Lab) -> None:
    rc, out, rows = fleet_run(lab, "site.yml", None, "--check")
    assert rc == 0, out
    index = json.loads((lab.dir / "reports" / "index.json").read_text())
    counts = {k: n for k, n in index["labs"][0]["counts"].items() if n}
    assert counts == {"would change": 1, "nothing managed": 1}, counts
    assert console_counts(out) == counts, out
    assert {r["outcome"] for r in rows.values()} == set(counts)
    page = (lab.dir / "reports" / "lab_sim.html").read_text()
    assert "data-outcome='nothing managed'" in page and "data-outcome='would change'" in page


def test_plan_prints_counts_and_warnings_per_lab(lab: Lab) -> None:
    rc, out, _ = fleet_run(
        lab,
        "playbooks/plan.yml",
        {"doi_cert_fingerprints": []},
        "-e",
        f"fleet_plan_report_dir={lab.dir}/plan",
    )
    assert rc == 0, out
    index = json.loads((lab.dir / "plan" / "index.json").read_text())
    counts = {k: n for k, n in index["labs"][0]["counts"].items() if n}
    assert console_counts(out) == counts == {"would change": 1, "nothing managed": 1}, out
    # The demo CA's warning and the licence in force, on the console, once for the hosts they concern.
    warnings = out[out.index("warnings:") : out.index("notes:")]
    assert "[1 host: sim-reference-01] doi_cert trusts the example inventory's DEMO CA" in warnings, out
    assert "package sources:\n  [1 host: sim-reference-01] Anaconda licence: licensed" in out.replace(
        "        ", ""
    )
    assert "[1 host: sim-pro33-per-user-01] no ArcGIS installed for all users" in out
