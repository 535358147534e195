"""Per-lab fleet reports: one self-contained HTML table, a CSV and a JSON file per lab.

Rows are plain dicts (one per host); columns name the keys to show. Nested values (lists of installs,
env plans) are flattened to readable text for HTML and CSV and kept as-is in JSON, so the JSON is the
machine-readable record and the HTML is what an admin opens from a file share (no external assets).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NO_LAB = "ungrouped"
_STYLE = """
body{font-family:Segoe UI,Arial,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}table{border-collapse:collapse;width:100%}
th,td{border:1px solid #bbb;padding:4px 6px;vertical-align:top;text-align:left;font-size:.9em}
th{background:#eee}tr.failed td{background:#fde2e2}tr.ok td{background:#fff}
pre{margin:0;white-space:pre-wrap}.summary{margin:.5em 0 1em}
"""


@dataclass(frozen=True)
class Column:
    """One report column: the row key it shows and its heading."""

    key: str
    heading: str


@dataclass
class LabReport:
    """The rows of one lab, and where its files were written."""

    lab: str
    rows: list[dict[str, Any]]
    files: dict[str, str] = field(default_factory=dict)


def lab_of(groups: Iterable[str], lab_prefix: str = "lab_") -> str:
    """The lab a host belongs to: its first group named ``lab_*`` (sorted), else ``ungrouped``."""
    labs = sorted(g for g in groups if g.startswith(lab_prefix))
    return labs[0] if labs else NO_LAB


def safe_name(name: str) -> str:
    """A file-name-safe form of a lab name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or NO_LAB


def as_text(value: Any) -> str:
    """Flatten a cell value to text: lists one item a line, dicts as ``key=value`` pairs."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={as_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "\n".join(as_text(v) for v in value)
    return str(value)


def group_by_lab(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows grouped by their ``lab`` key, labs and hosts sorted."""
    labs: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        labs.setdefault(str(row.get("lab") or NO_LAB), []).append(dict(row))
    return {lab: sorted(labs[lab], key=lambda r: str(r.get("host"))) for lab in sorted(labs)}


def render_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.heading for c in columns])
    for row in rows:
        writer.writerow([as_text(row.get(c.key)) for c in columns])
    return out.getvalue()


def render_html(
    title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], notes: Sequence[str] = ()
) -> str:
    """One self-contained HTML page: inline style, no scripts, no external links."""
    head = "".join(f"<th>{html.escape(c.heading)}</th>" for c in columns)
    body = []
    for row in rows:
        css = "failed" if row.get("status") == "failed" else "ok"
        cells = "".join(f"<td><pre>{html.escape(as_text(row.get(c.key)))}</pre></td>" for c in columns)
        body.append(f'<tr class="{css}">{cells}</tr>')
    summary = "".join(f"<p class='summary'>{html.escape(n)}</p>" for n in notes)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{summary}"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        "</body></html>\n"
    )


def write_lab_reports(
    out_dir: Path,
    title: str,
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    notes: Mapping[str, Sequence[str]] | None = None,
) -> list[LabReport]:
    """Write ``<lab>.html``, ``<lab>.csv`` and ``<lab>.json`` for every lab; return what was written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = []
    for lab, lab_rows in group_by_lab(rows).items():
        report = LabReport(lab, lab_rows)
        base = out_dir / safe_name(lab)
        lab_notes = list((notes or {}).get(lab, ()))
        files = {
            "html": (base.with_suffix(".html"), render_html(f"{title}: {lab}", lab_rows, columns, lab_notes)),
            "csv": (base.with_suffix(".csv"), render_csv(lab_rows, columns)),
            "json": (base.with_suffix(".json"), json.dumps({"lab": lab, "hosts": lab_rows}, indent=2) + "\n"),
        }
        for kind, (path, text) in files.items():
            path.write_text(text, encoding="utf-8")
            report.files[kind] = str(path)
        reports.append(report)
    return reports


def write_retry_file(out_dir: Path, failed_hosts: Iterable[str]) -> Path | None:
    """Write the failed hosts one a line, for ``ansible-playbook site.yml --limit @<file>``.

    With no failures, an older run's file is removed, so it can never retry hosts that now pass.
    """
    hosts = sorted(set(failed_hosts))
    path = out_dir / "failed_hosts.txt"
    if not hosts:
        path.unlink(missing_ok=True)
        return None
    path.write_text("".join(f"{h}\n" for h in hosts), encoding="utf-8")
    return path
