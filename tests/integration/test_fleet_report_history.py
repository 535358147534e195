"""Reports with history (issue 25): each run its own folder and reports/latest; a --limit retry keeps the
lab's picture whole; verify does not overwrite site's report; old runs pruned by fleet_report_keep."""

from __future__ import annotations

import json

import pytest
from simwin.testing import fleet_run, make_lab

pytestmark = pytest.mark.slow


def test_runs_keep_their_reports_a_retry_merges_and_old_runs_are_pruned(tmp_path_factory) -> None:
    lab = make_lab(tmp_path_factory.mktemp("history"), "desktop1041", per=2)
    reports = lab.dir / "reports"
    first, second = lab.hosts

    rc, out, rows = fleet_run(lab, "site.yml")
    assert rc == 0, out and set(rows) == {first, second}
    site_run = (reports / "latest").resolve()
    assert site_run.name.endswith("-site") and site_run.parent == reports

    rc, out, _ = fleet_run(lab, "playbooks/verify.yml")
    assert rc == 0, out
    assert (reports / "latest").resolve().name.endswith("-verify")
    assert json.loads((site_run / "lab_sim.json").read_text())["hosts"], "verify replaced site's report"

    rc, out, rows = fleet_run(lab, "site.yml", None, "--limit", first)
    assert rc == 0, out
    assert set(rows) == {first, second}, "the retry's report lists only the hosts it ran"
    assert rows[second]["reported_in"] == site_run.name and "reported_in" not in rows[first]
    # this run: ok; the other host as the full run left it: changed
    assert (
        f"[fleet] lab_sim: 1 ok, 1 changed (1 host(s) as of {site_run.name}: not in this --limit)" in out
    ), out

    history = (reports / "index.html").read_text()
    assert history.count("<tr data-run=") == 3 and "-verify/" in history

    rc, out, _ = fleet_run(lab, "site.yml", {"fleet_report_keep": 2})
    assert rc == 0, out
    kept = sorted(p.name for p in reports.iterdir() if p.is_dir() and not p.is_symlink())
    assert len(kept) == 2 and (reports / "latest").resolve().name == kept[-1], kept
