"""The fleet dashboard: index counts and chart, per-lab grouping, plain words, escaping, stale files."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_dashboard as dash
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_report import Column, write_lab_reports

COLUMNS = [
    Column("host", "Host"),
    Column("status", "Status"),
    Column("arcgis_env", "Conda envs"),
    Column("changes", "Changes"),
    Column("error", "Problem"),
]
NOW = datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


def item(role: str, action: str, target: str, reason: str, **extra) -> dict:
    return {
        "role": role,
        "step": "files",
        "action": action,
        "target": target,
        "reason": reason,
        "item": extra,
    }


WRITE_PIP = item("doi_cert", "write", r"C:\ProgramData\pip\pip.ini", "pip")
INSTALL = item("miniconda", "install", r"C:\Miniconda2", r"Miniconda2 x86 4.8.3 into C:\Miniconda2")


def host(name: str, lab: str = "lab_a", status: str = "ok", planned=(), **extra) -> dict:
    planned = list(planned)
    return {
        "host": name,
        "lab": lab,
        "status": status,
        "error": "",
        "planned": planned,
        "changes": [f"{c['role']}: {c['action']} {c['target']}" for c in planned],
        **extra,
    }


class Elements(HTMLParser):
    """Start tags with their attributes, and all text, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def parse(text: str) -> Elements:
    parser = Elements()
    parser.feed(text)
    return parser


@pytest.fixture
def fleet() -> list[dict]:
    return [
        host("a-ok"),
        host("a-change", planned=[WRITE_PIP]),
        host("a-fail", status="failed", error="miniconda: installer exited 1603. Fix: free space on C:"),
        host("a-gone", status="unreachable", error="WinRM refused"),
        host("a-skip", status="skipped"),
        host("b-1", lab="lab_b", planned=[INSTALL]),
        host("b-2", lab="lab_b", planned=[INSTALL]),
        host("b-3", lab="lab_b"),
    ]


def test_outcomes_count_per_lab_for_a_plan_and_a_run(fleet, tmp_path):
    write_lab_reports(tmp_path / "plan", "fleet plan", fleet, COLUMNS, now=NOW)
    index = json.loads((tmp_path / "plan/index.json").read_text())
    counts = {lab["lab"]: lab["counts"] for lab in index["labs"]}
    assert index["kind"] == "plan"
    assert counts["lab_a"] == {
        "ok": 1,
        "would change": 1,
        "changed": 0,
        "failed": 1,
        "unreachable": 1,
        "incomplete": 0,
        "skipped": 1,
        "nothing managed": 0,
        "stopped": 0,
        "not run": 0,
    }
    assert counts["lab_b"]["would change"] == 2 and counts["lab_b"]["ok"] == 1
    # A run's rows carry module calls: the same host with changes "changed", not "would change".
    run = [{**r, "module_calls": 3, "module_calls_previous": None} for r in fleet]
    write_lab_reports(tmp_path / "run", "fleet run", run, COLUMNS, now=NOW)
    counts = {
        lab["lab"]: lab["counts"] for lab in json.loads((tmp_path / "run/index.json").read_text())["labs"]
    }
    assert counts["lab_b"]["changed"] == 2 and counts["lab_b"]["would change"] == 0
    # The index page shows the same figures per lab, and links each lab's page.
    page = parse((tmp_path / "run/index.html").read_text())
    assert [a["href"] for a in page.find("a")] == ["lab_a.html", "lab_b.html"]
    assert "2025-01-15 09:30 UTC" in "".join(page.text)


def test_an_incomplete_plan_is_its_own_outcome_even_with_changes(tmp_path):
    """A declared release whose stack is unknown gets no env: that host is never counted as ok."""
    rows = [host("a-part", status="incomplete", planned=[WRITE_PIP], error="numpy unknown"), host("a-ok")]
    write_lab_reports(tmp_path / "plan", "fleet plan", rows, COLUMNS, now=NOW)
    (lab,) = json.loads((tmp_path / "plan/index.json").read_text())["labs"]
    assert lab["counts"]["incomplete"] == 1 and lab["counts"]["ok"] == 1
    assert lab["counts"]["would change"] == 0


def test_index_shows_meta_only_when_given(fleet, tmp_path):
    meta = {"inventory": "inventory/agency", "playbook": "playbooks/plan.yml", "mode": "offline"}
    write_lab_reports(tmp_path / "m", "fleet plan", fleet, COLUMNS, meta=meta, now=NOW)
    text = "".join(parse((tmp_path / "m/index.html").read_text()).text)
    assert "Inventory:" in text and "inventory/agency" in text and "offline" in text
    write_lab_reports(tmp_path / "n", "fleet plan", fleet, COLUMNS, now=NOW)
    assert "Inventory" not in (tmp_path / "n/index.html").read_text()


def test_chart_bars_are_proportional_to_counts(fleet):
    counts = {"lab_a": {"ok": 1, "failed": 3}, "lab_b": {"ok": 8, "changed": 4}}
    svg = parse(dash.render_chart(counts))
    bars = svg.find("rect", **{"class": "bar"})
    assert {(b["data-lab"], b["data-outcome"], int(b["data-count"])) for b in bars} == {
        ("lab_a", "ok", 1),
        ("lab_a", "failed", 3),
        ("lab_b", "ok", 8),
        ("lab_b", "changed", 4),
    }
    per_host = {float(b["width"]) / int(b["data-count"]) for b in bars}
    assert max(per_host) - min(per_host) < 0.01
    # The biggest lab fills the chart width.
    assert sum(float(b["width"]) for b in bars if b["data-lab"] == "lab_b") == pytest.approx(dash.CHART_WIDTH)


def test_nothing_managed_is_its_own_outcome_in_the_json_the_index_and_the_page(fleet, tmp_path):
    """A per-user-Pro host (observed, nothing for the roles) is not a green "ok"; every output says so."""
    rows = [*fleet, host("a-per-user", status="nothing managed")]
    write_lab_reports(tmp_path, "fleet plan", rows, COLUMNS, now=NOW)
    data = json.loads((tmp_path / "lab_a.json").read_text())
    outcomes = {r["host"]: r["outcome"] for r in data["hosts"]}
    assert outcomes["a-per-user"] == "nothing managed" and outcomes["a-change"] == "would change"
    counts = {lab["lab"]: lab["counts"] for lab in json.loads((tmp_path / "index.json").read_text())["labs"]}
    assert counts["lab_a"] == {o: list(outcomes.values()).count(o) for o in counts["lab_a"]}
    page = parse((tmp_path / "lab_a.html").read_text())
    assert "nothing managed" in [s["data-outcome"] for s in page.find("section")]


def test_lab_page_lists_failed_and_unreachable_first(fleet, tmp_path):
    write_lab_reports(tmp_path, "fleet plan", fleet, COLUMNS, now=NOW)
    page = parse((tmp_path / "lab_a.html").read_text())
    assert [s["data-outcome"] for s in page.find("section")] == [
        "failed",
        "unreachable",
        "would change",
        "skipped",
        "ok",
    ]
    cards = [c["data-host"] for t, c in page.tags if t == "div" and "card" in c.get("class", "")]
    assert cards[:2] == ["a-fail", "a-gone"]
    assert page.find("a") == [] and page.find("script") == [] and page.find("link") == []


def test_a_script_in_an_error_is_escaped(tmp_path):
    evil = host("ws<1>", status="failed", error="<script>alert('x')</script> & more None")
    write_lab_reports(tmp_path, "fleet plan", [evil], COLUMNS, now=NOW, meta={"inventory": "<b>inv</b>"})
    for name in ("lab_a.html", "index.html"):
        text = (tmp_path / name).read_text()
        assert "<script" not in text and "<b>inv" not in text
    lab = (tmp_path / "lab_a.html").read_text()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more None" in lab  # as given
    assert "ws&lt;1&gt;" in lab


@pytest.mark.parametrize(
    ("planned", "expected"),
    [
        (INSTALL, r"install Miniconda2 x86 4.8.3 into C:\Miniconda2"),
        (WRITE_PIP, r"write C:\ProgramData\pip\pip.ini (pip)"),
        (
            item("doi_cert", "mkdir", r"C:\ProgramData\pip", "settings"),
            r"create folder C:\ProgramData\pip (settings)",
        ),
        (
            item("arcgis_env", "clone", r"C:\e", r"clone C:\pro to C:\e, then add spyder"),
            r"clone C:\pro to C:\e, then add spyder",
        ),
        (item("x", "copy", r"C:\b", "aside", src=r"C:\a"), r"copy C:\a to C:\b (aside)"),
        ("miniconda: install C:\\Miniconda3", "install C:\\Miniconda3"),
    ],
)
def test_changes_read_as_plain_words(planned, expected):
    assert dash.change_text(planned) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "unknown"),
        ("null", "unknown"),
        ("arcpro33 (pro_clone, win-64)", "arcpro33 (Pro clone, win-64)"),
        (["arc1041", "arcpro33"], "arc1041, arcpro33"),
        ([], "none"),
        (True, "yes"),
        ({"scope": None}, "scope: unknown"),
        (r"C:\None\null.txt", r"C:\None\null.txt"),
    ],
)
def test_human_strings(value, expected):
    assert dash.human(value) == expected


def test_long_role_lists_start_collapsed_and_are_grouped_by_role(tmp_path):
    many = [item("doi_cert", "write", rf"C:\f{i}", "cert") for i in range(6)]
    row = host(
        "h", planned=[INSTALL, *many], arcgis_env=["arcpro33 (pro_clone)"], security=["pip.ini: Users write"]
    )
    write_lab_reports(tmp_path, "fleet plan", [row], COLUMNS, now=NOW)
    text = (tmp_path / "lab_a.html").read_text()
    assert "<details class='role'><summary>doi_cert: 6 changes</summary>" in text
    assert (
        "<div class='role'><b>miniconda</b><ul><li>install Miniconda2 x86 4.8.3 into C:\\Miniconda2</li>"
        in text
    )
    assert "Pro clone" in text and "Security findings (1)" in text


def test_stale_lab_files_are_removed_and_nothing_else(fleet, tmp_path):
    write_lab_reports(tmp_path, "fleet plan", fleet, COLUMNS, now=NOW)
    assert (tmp_path / "lab_b.csv").exists()
    keep = [tmp_path / "failed_hosts.txt", tmp_path / "module_calls.json", tmp_path / "lab_c.html"]
    for path in keep:
        path.write_text("not ours\n")
    write_lab_reports(tmp_path, "fleet plan", [r for r in fleet if r["lab"] == "lab_a"], COLUMNS, now=NOW)
    assert not any((tmp_path / f"lab_b.{ext}").exists() for ext in ("html", "csv", "json"))
    assert all((tmp_path / f"lab_a.{ext}").exists() for ext in ("html", "csv", "json"))
    assert all(path.exists() for path in keep)
    assert [lab["lab"] for lab in json.loads((tmp_path / "index.json").read_text())["labs"]] == ["lab_a"]


def test_a_tampered_index_never_removes_files_outside_the_folder(tmp_path):
    outside = tmp_path / "precious.html"
    outside.write_text("x")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "index.json").write_text(json.dumps({"labs": [{"files": {"html": "../precious.html"}}]}))
    write_lab_reports(reports, "fleet plan", [host("a")], COLUMNS, now=NOW)
    assert outside.exists()


def test_existing_callers_keep_their_files(fleet, tmp_path):
    # The callback's and fleet_plan's call: positional, no new keywords.
    reports = write_lab_reports(tmp_path, "arcgis-conda fleet run", fleet, COLUMNS)
    assert [r.lab for r in reports] == ["lab_a", "lab_b"]
    assert set(reports[0].files) == {"html", "csv", "json"}
    data = json.loads((tmp_path / "lab_a.json").read_text())
    written = data["hosts"][0]
    # every key, and the outcome the pages show
    assert {
        **next(r for r in fleet if r["host"] == written["host"]),
        "outcome": written["outcome"],
    } == written
    with (tmp_path / "lab_b.csv").open(newline="") as fh:
        assert [r["Host"] for r in csv.DictReader(fh)] == ["b-1", "b-2", "b-3"]
    # The full table is still on the lab page, hosts sorted, so older readers find it.
    text = (tmp_path / "lab_b.html").read_text()
    assert "<th>Host</th><th>Status</th>" in text
    assert (
        text.index("<td><pre>b-1</pre>") < text.index("<td><pre>b-2</pre>") < text.index("<td><pre>b-3</pre>")
    )
    assert (tmp_path / "index.html").exists()


def test_hosts_ansible_stopped_or_never_ran_are_their_own_outcomes_never_ok():
    """A host halted by max_fail_percentage ("stopped") or whose batch never started ("not run") has no
    result of its own: counting it "ok" would hide a half-configured PC (issue 27)."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_dashboard as dash

    for status in ("stopped", "not run"):
        assert dash.outcome({"status": status, "changes": []}, dash.RUN) == status
        assert dash.outcome({"status": status, "changes": ["x"]}, dash.RUN) == status
        assert dash.count_line(dash.count_outcomes([{"status": status}], dash.RUN)) == f"1 {status}"
