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
    index = json.loads((lab.dir / "reports" / "latest" / "index.json").read_text())
    counts = {k: n for k, n in index["labs"][0]["counts"].items() if n}
    assert counts == {"would change": 1, "nothing managed": 1}, counts
    assert console_counts(out) == counts, out
    assert {r["outcome"] for r in rows.values()} == set(counts)
    page = (lab.dir / "reports" / "latest" / "lab_sim.html").read_text()
    assert "data-outcome='nothing managed'" in page and "data-outcome='would change'" in page


def test_plan_prints_counts_and_warnings_per_lab(lab: Lab) -> None:
    rc, out, _ = fleet_run(
        lab,
        "playbooks/plan.yml",
        {"doi_cert_fingerprints": []},
    )
    assert rc == 0, out
    index = json.loads((lab.dir / "reports" / "plan" / "index.json").read_text())
    counts = {k: n for k, n in index["labs"][0]["counts"].items() if n}
    assert console_counts(out) == counts == {"would change": 1, "nothing managed": 1}, out
    # The demo CA's warning and the licence in force, on the console, once for the hosts they concern.
    warnings = out[out.index("warnings:") : out.index("notes:")]
    assert "[1 host: sim-reference-01] doi_cert trusts the example inventory's DEMO CA" in warnings, out
    assert "package sources:\n  [1 host: sim-reference-01] Anaconda licence: licensed" in out.replace(
        "        ", ""
    )
    assert "[1 host: sim-pro33-per-user-01] no ArcGIS installed for all users" in out


def diffs(out: str) -> dict[str, str]:
    """``--diff`` output by file: the text from its "--- before: <path>" header to the next header."""
    parts = re.split(r"^--- before: (.+?) \(as observed\)$", out, flags=re.M)
    return {path: body.split("\nTASK [")[0] for path, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_check_diff_shows_each_configuration_file_and_the_bundle_as_certificates(tmp_path_factory) -> None:
    lab = make_lab(tmp_path_factory.mktemp("diff"), "desktop1041")
    rc, out, _ = fleet_run(lab, "site.yml", None, "--check", "--diff")
    assert rc == 0, out
    assert not [e for c in lab.calls() for e in c.get("effects") or []], "check mode changed the host"
    shown = diffs(out)
    condarc = shown["C:\\ProgramData\\conda\\.condarc"]
    assert "+++ after: C:\\ProgramData\\conda\\.condarc (planned)" in condarc and "+channels:" in condarc
    assert "[global]" in shown["C:\\ProgramData\\pip\\pip.ini"]
    bundle = next(text for path, text in shown.items() if path.endswith("ca-bundle.pem"))
    assert re.search(r"\+\d+ certificate\(s\)", bundle) and "CN=Demo Lab Root CA" in bundle
    assert "BEGIN CERTIFICATE" not in bundle  # a summary, not the PEM


def test_apply_diff_shows_the_change_and_never_a_secret(tmp_path_factory) -> None:
    lab = make_lab(tmp_path_factory.mktemp("diffapply"), "desktop1041")
    assert fleet_run(lab, "site.yml")[0] == 0
    secret = "s3cret-proxy-pw"
    rc, out, _ = fleet_run(lab, "site.yml", {"miniconda_remote_max_retries": 7}, "--diff")
    assert rc == 0, out
    condarc = diffs(out)["C:\\ProgramData\\conda\\.condarc"]  # before/after of the apply itself
    assert "-remote_max_retries: 5\n+remote_max_retries: 7" in condarc, out
    rc, out, _ = fleet_run(
        lab,
        "site.yml",
        {
            "miniconda_proxy": f"http://fleet:{secret}@proxy.example.org:3128",
            "miniconda_proxy_password_readable_by_users": True,
        },
        "--diff",
    )
    assert rc == 0, out
    assert secret not in out and "C:\\ProgramData\\conda\\.condarc" not in diffs(out)
