"""What the admin reads (issue 25): the console, the HTML and the JSON agree on every host's outcome; a host
with nothing to manage (a per-user ArcGIS Pro) is "nothing managed", not a green "ok"; plan.yml prints its
counts per lab and its warnings."""

from __future__ import annotations

import json
import re

import pytest
from simwin.faultrun import FAULTS
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
    # Every host's setting in force, also the one with nothing managed (issue 25 item 6).
    assert re.search(
        r"package sources:\n  \[2 hosts: [^\]]*\] Anaconda licence: licensed\n", out.replace("        ", "")
    ), out
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


# The fault run's own faults (tests/simwin/faultrun.py): a conda create that fails, a dropped connection.
CREATE_FAILS = FAULTS["create_fails"]
DROPS = FAULTS["drops"]


def test_a_ten_host_first_run_console_is_quiet_and_names_every_outcome_and_reason(tmp_path_factory) -> None:
    """Issue 25 item 7: the default console of a 10-host lab's first site.yml run (1,057 lines before) stays
    under 150 lines, yet names every host's outcome in each phase, each failure reason (a conda step that
    failed before it ran: its own message, never "no attribute 'rc'") and the unreachable host; -v still
    prints every task and result, with one banner per task."""
    lab = make_lab(
        tmp_path_factory.mktemp("ten"), "reference", "desktop1041", "pro33", "pro35", "no_arcgis", per=2
    )
    assert len(lab.hosts) == 10
    failing, unreachable = "sim-pro33-02", "sim-desktop1041-02"
    with lab.edit(failing) as h:
        h.state["faults"] = CREATE_FAILS
    with lab.edit(unreachable) as h:
        h.state["faults"] = DROPS
    rc, out, rows = fleet_run(lab, "site.yml")
    assert rc != 0, out
    lines = out.splitlines()
    assert len(lines) < 150, f"{len(lines)} lines:\n{out}"
    assert "TASK [" not in out and "ok: [" not in out and "included: " not in out
    said = {(m[0], m[1]): m[2] for m in re.findall(r"^(observe|plan|apply|verify) +(\S+) +(.+)$", out, re.M)}
    for host in lab.hosts:  # every host's observe and plan outcome, with what it found
        assert ("observe", host) in said and ("plan", host) in said, (host, out)
    # Desktop's C:\Python27 is secured by observe before its Python's first run (README "Security model").
    assert said[("observe", "sim-reference-01")] == "changed, ArcGIS desktop-10.4.1-32, pro-3.3.0-64"
    assert said[("plan", "sim-no-arcgis-01")].endswith("nothing to do here")
    assert re.match(
        r"ok, \d+ change\(s\) planned \(miniconda \d+, doi_cert \d+", said[("plan", "sim-pro35-01")]
    )
    assert said[("apply", failing)].startswith("FAILED at 'Run the planned commands (arcgis_env)'"), out
    assert any(k[1] == unreachable and v.startswith("UNREACHABLE at ") for k, v in said.items()), out
    fine = [h for h in lab.hosts if h not in (failing, unreachable) and "no-arcgis" not in h]
    assert all(said[("verify", h)] == "ok" for h in fine), out
    assert (("verify", failing) not in said) and (("verify", unreachable) not in said)
    # Each reason once, naming its host(s): the command's own message, never a broken condition.
    assert re.search(rf"^ +\[1 host: {failing}\] CondaHTTPError", out, re.M), out
    assert "no attribute 'rc'" not in out and "changed_when_result" not in out
    # The plan's warnings once for the hosts they concern, and the outcomes the report has.
    assert re.search(r"^ +\[8 hosts: .*\] doi_cert trusts the example inventory's DEMO CA", out, re.M), out
    assert rows[failing]["status"] == "failed" and rows[unreachable]["status"] == "unreachable"
    assert re.search(r"^\[fleet\] lab_sim: .*1 failed.*1 unreachable", out, re.M), out

    rc, verbose, _ = fleet_run(lab, "site.yml", None, "-v")
    assert rc == 0, verbose[-3000:]
    assert "TASK [fleet : Observe each workstation" in verbose and f"ok: [{failing}]" in verbose
    assert verbose.count("TASK [fleet : End this workstation's run]") == 1  # once, not once per host
