"""Fleet reports: per lab a readable HTML page, a CSV and a JSON file; across labs ``index.html``.

Rows are plain dicts (one per host); columns name the keys to show. Nested values (lists of installs,
env plans) are flattened to readable text for HTML and CSV and kept as-is in JSON, so the JSON is the
machine-readable record and the HTML is what an admin opens from a file share (no external assets).
The pages themselves are composed in ``fleet_dashboard``; this module writes the files, and removes the
lab files an earlier report set wrote (named in its ``index.json``) for labs no longer in the set.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_dashboard as dash
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_lock import atomic_write

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


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """The raw table: one row per host, one cell per column, every value escaped."""
    head = "".join(f"<th>{html.escape(c.heading)}</th>" for c in columns)
    body = []
    for row in rows:
        css = "failed" if row.get("status") in ("failed", "unreachable") else "ok"
        cells = "".join(f"<td><pre>{html.escape(as_text(row.get(c.key)))}</pre></td>" for c in columns)
        body.append(f'<tr class="{css}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(
    title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], notes: Sequence[str] = ()
) -> str:
    """One self-contained HTML page holding only the raw table: inline style, no scripts, no links."""
    summary = "".join(f"<p class='summary'>{html.escape(n)}</p>" for n in notes)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{summary}{render_table(rows, columns)}"
        "</body></html>\n"
    )


def write_lab_reports(
    out_dir: Path,
    title: str,
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    notes: Mapping[str, Sequence[str]] | None = None,
    *,
    meta: Mapping[str, Any] | None = None,
    kind: str | None = None,
    now: datetime | None = None,
) -> list[LabReport]:
    """Write ``<lab>.html``, ``<lab>.csv`` and ``<lab>.json`` for every lab, then ``index.html`` and
    ``index.json`` across them; remove the files of labs the previous ``index.json`` listed and this set
    does not. Return what was written per lab.

    ``meta`` is context for the pages (e.g. ``{"inventory": ..., "playbook": ..., "mode": ...}``; empty
    values are left out); ``kind`` is ``"plan"`` or ``"run"`` (default: ``"run"`` when rows carry
    ``module_calls``), which names a host with changes "would change" or "changed"; ``now`` the date shown.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    by_lab = group_by_lab(rows)
    all_rows = [r for lab_rows in by_lab.values() for r in lab_rows]
    kind = kind or dash.kind_of(all_rows, title)
    for row in all_rows:  # the outcome the pages and the console show, for scripts reading the JSON
        row["outcome"] = dash.outcome(row, kind)
    when = (now or datetime.now(UTC).astimezone()).strftime("%Y-%m-%d %H:%M %Z").strip()
    reports = []
    for lab, lab_rows in by_lab.items():
        report = LabReport(lab, lab_rows)
        base = out_dir / safe_name(lab)
        lab_notes = list((notes or {}).get(lab, ()))
        page = dash.render_lab_page(
            title,
            lab,
            lab_rows,
            columns,
            kind=kind,
            notes=lab_notes,
            when=when,
            meta=meta,
            table=render_table(lab_rows, columns),
        )
        files = {
            "html": (base.with_suffix(".html"), page),
            "csv": (base.with_suffix(".csv"), render_csv(lab_rows, columns)),
            "json": (base.with_suffix(".json"), json.dumps({"lab": lab, "hosts": lab_rows}, indent=2) + "\n"),
        }
        for file_kind, (path, text) in files.items():
            path.write_text(text, encoding="utf-8")
            report.files[file_kind] = str(path)
        reports.append(report)
    write_index(out_dir, title, reports, kind=kind, when=when, meta=meta)
    return reports


INDEX_JSON = "index.json"


def _previous_files(out_dir: Path) -> set[str]:
    """The lab file names the previous report set wrote here, from its ``index.json``."""
    try:
        data = json.loads((out_dir / INDEX_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    labs = data.get("labs") if isinstance(data, dict) else None
    names: set[str] = set()
    for lab in labs if isinstance(labs, list) else []:
        files = lab.get("files") if isinstance(lab, dict) else None
        for name in (files or {}).values() if isinstance(files, dict) else []:
            # Only bare names this module could have written: never a path out of the folder.
            bare = isinstance(name, str) and name == Path(name).name and name not in ("", ".", "..")
            if bare and Path(name).suffix in (".html", ".csv", ".json") and name != INDEX_JSON:
                names.add(name)
    return names


def write_index(
    out_dir: Path,
    title: str,
    reports: Sequence[LabReport],
    *,
    kind: str,
    when: str = "",
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``index.html`` and ``index.json`` for these labs; remove stale labs' files; return the page."""
    current = {Path(p).name for r in reports for p in r.files.values()}
    for name in sorted(_previous_files(out_dir) - current):
        (out_dir / name).unlink(missing_ok=True)
    counts = {r.lab: dash.count_outcomes(r.rows, kind) for r in reports}
    pages = {r.lab: Path(r.files["html"]).name for r in reports if "html" in r.files}
    index = out_dir / "index.html"
    index.write_text(dash.render_index(title, counts, pages, when=when, meta=meta), encoding="utf-8")
    record = {
        "title": title,
        "kind": kind,
        "date": when,
        "meta": dict(meta or {}),
        "labs": [
            {"lab": r.lab, "counts": counts[r.lab], "files": {k: Path(p).name for k, p in r.files.items()}}
            for r in reports
        ],
    }
    (out_dir / INDEX_JSON).write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return index


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


# --- run history: reports/<timestamp>-<playbook>/, reports/latest, merges and pruning -------------------

LATEST = "latest"
_RUN_NAME = re.compile(r"^(\d{8}-\d{6})(?:-\d+)?-([A-Za-z0-9_.-]+)$")


def run_folder(root: Path, playbook: str, now: datetime | None = None) -> Path:
    """A new, empty ``<root>/<YYYYmmdd-HHMMSS>-<playbook>/`` (``-2``, ``-3`` when that second is taken)."""
    stamp = (now or datetime.now(UTC).astimezone()).strftime("%Y%m%d-%H%M%S")
    name = safe_name(Path(playbook or "run").stem)
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        folder = root / (f"{stamp}-{name}" if n == 1 else f"{stamp}-{n}-{name}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise OSError(f"{root}: no free run folder name for {stamp}-{name}")


def runs(root: Path) -> list[Path]:
    """The run folders under ``root``, oldest first (their names sort by time)."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and _RUN_NAME.match(p.name)]
    return sorted(found, key=lambda p: (_RUN_NAME.match(p.name).group(1), p.stat().st_mtime))  # type: ignore[union-attr]


def playbook_of(folder: Path) -> str:
    found = _RUN_NAME.match(folder.name)
    return found.group(2) if found else ""


def point_latest(root: Path, folder: Path) -> Path:
    """Make ``<root>/latest`` a relative symbolic link to ``folder``, replaced atomically."""
    link = root / LATEST
    tmp = root / f".{LATEST}.{folder.name}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(folder.name, target_is_directory=True)
    tmp.replace(link)
    return link


def previous_run(root: Path, playbook: str, before: Path | None = None) -> Path | None:
    """The newest earlier finished run folder of the same playbook (its report is the lab's last picture);
    a run still in progress or interrupted has none."""
    name = safe_name(Path(playbook or "run").stem)
    earlier = [
        p
        for p in runs(root)
        if playbook_of(p) == name and p != before and (run_state(p) or {}).get("status") in (None, COMPLETE)
    ]
    return earlier[-1] if earlier else None


# A run's own state, in its folder: written "in progress" when the run starts (and ``latest`` points at
# it then), "complete" when its report is written. A controller that crashed or was killed leaves
# "in progress": the next run marks it "interrupted" and says so.
RUN_STATE = "run.json"
IN_PROGRESS, COMPLETE, INTERRUPTED = "in progress", "complete", "interrupted"


def run_state(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / RUN_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_state(folder: Path, state: Mapping[str, Any]) -> None:
    atomic_write(folder / RUN_STATE, json.dumps(state, indent=2, sort_keys=True) + "\n")


def _state_page(folder: Path, title: str, text: str) -> None:
    body = f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
    atomic_write(folder / "index.html", body + f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>\n")


def start_run(root: Path, playbook: str, who: Mapping[str, Any]) -> Path:
    """A new run folder marked in progress (``who``: the run's pid, controller, start and command), with a
    page saying so, and ``latest`` pointing at it: until the run finishes, the latest report says it is
    not a finished picture."""
    folder = run_folder(root, playbook)
    _write_state(folder, {"status": IN_PROGRESS, "run": dict(who)})
    _state_page(
        folder,
        f"Run in progress: {folder.name}",
        f"{who.get('playbook') or playbook} started {who.get('since')} (pid {who.get('pid')} on "
        f"{who.get('host')}). This page is replaced by the run's report when it finishes; if it is still "
        "here after the run, the controller stopped before the end: this run's report is incomplete.",
    )
    point_latest(root, folder)
    return folder


def finish_run(folder: Path, **details: Any) -> None:
    state = run_state(folder) or {}
    state.update(details, status=COMPLETE, finished=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _write_state(folder, state)


def interrupted_runs(root: Path, mine: Path, running: Any) -> list[tuple[Path, dict[str, Any]]]:
    """Earlier run folders still marked in progress whose run is not ``running`` (a callable given the
    state's ``run``): their controller stopped before their report. Each is marked interrupted, its page
    says so and names the run that found it."""
    found = []
    for folder in runs(root):
        state = run_state(folder)
        if folder == mine or not state or state.get("status") != IN_PROGRESS:
            continue
        if running(state.get("run") or {}):
            continue
        state.update(status=INTERRUPTED, noticed_by=mine.name)
        _write_state(folder, state)
        who = state.get("run") or {}
        _state_page(
            folder,
            f"Interrupted run: {folder.name}",
            f"{who.get('playbook') or 'This run'} started {who.get('since')} (pid {who.get('pid')} on "
            f"{who.get('host')}) and never finished: the controller stopped before its report, so no "
            f"host's outcome was recorded here. The run {mine.name} found it and observed every host again.",
        )
        found.append((folder, state))
    return found


def merge_previous(rows: list[dict[str, Any]], previous: Path | None) -> list[dict[str, Any]]:
    """A ``--limit`` run's rows plus, for each of its labs, the hosts it did not run as the previous run of
    the same playbook reported them (``reported_in`` names that run): the lab's picture stays whole."""
    if previous is None:
        return rows
    labs = {str(r.get("lab") or NO_LAB) for r in rows}
    seen = {str(r.get("host")) for r in rows}
    merged = list(rows)
    for lab in sorted(labs):
        try:
            data = json.loads((previous / f"{safe_name(lab)}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for row in data.get("hosts") or []:
            if isinstance(row, dict) and str(row.get("host")) not in seen:
                merged.append({**row, "reported_in": row.get("reported_in") or previous.name})
                seen.add(str(row.get("host")))
    return merged


RUN_KEY = ".run-key"  # in a run folder several jobs share (the slices of one AWX sliced job): what they share


def run_key_of(folder: Path) -> str:
    try:
        return (folder / RUN_KEY).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def shared_run_folder(root: Path, playbook: str, key: str) -> Path:
    """The run folder of the jobs sharing ``key`` for ``playbook`` (the first one creates it); call it under
    :func:`reports_lock`, so two slices finishing at once find the same folder."""
    name = safe_name(Path(playbook or "run").stem)
    for folder in reversed(runs(root)):
        if playbook_of(folder) == name and run_key_of(folder) == key:
            return folder
    folder = run_folder(root, playbook)
    (folder / RUN_KEY).write_text(key + "\n", encoding="utf-8")
    return folder


def merge_shared(rows: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """This job's rows plus those the other jobs of the same run (slices) already wrote into ``folder``."""
    seen = {str(r.get("host")) for r in rows}
    merged = list(rows)
    for page in sorted(folder.glob("*.json")):
        if page.name in (INDEX_JSON, RUN_STATE, "module_calls.json"):
            continue
        try:
            data = json.loads(page.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        hosts = data.get("hosts") if isinstance(data, dict) else None
        for row in hosts if isinstance(hosts, list) else []:
            if isinstance(row, dict) and str(row.get("host")) not in seen:
                merged.append(row)
                seen.add(str(row.get("host")))
    return merged


@contextmanager
def reports_lock(root: Path) -> Iterator[None]:
    """An advisory lock of the reports folder while a job writes a shared run folder and the history."""
    import fcntl

    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".reports.lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the flock


def prune_runs(root: Path, keep: int) -> list[str]:
    """Remove the oldest run folders beyond ``keep`` (never the one ``latest`` points to); their names."""
    import shutil

    folders = runs(root)
    latest = (root / LATEST).resolve() if (root / LATEST).exists() else None
    doomed = [p for p in folders[: max(0, len(folders) - max(keep, 1))] if p.resolve() != latest]
    for folder in doomed:
        shutil.rmtree(folder)
    return [p.name for p in doomed]


def write_history(root: Path, last: int = 10) -> Path:
    """``<root>/index.html``: the last ``last`` runs per lab (date, playbook, mode, outcomes), newest first,
    each linking to its run's lab page."""
    per_lab: dict[str, list[tuple[str, dict[str, Any], dict[str, Any]]]] = {}
    for folder in reversed(runs(root)):
        try:
            index = json.loads((folder / INDEX_JSON).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for lab in index.get("labs") or []:
            entries = per_lab.setdefault(str(lab.get("lab")), [])
            if len(entries) < last:
                entries.append((folder.name, index, lab))
    return write_history_page(root, per_lab)


def write_history_page(root: Path, per_lab: Mapping[str, Sequence[tuple[str, Mapping, Mapping]]]) -> Path:
    page = root / "index.html"
    page.write_text(dash.render_history("arcgis-conda fleet: runs per lab", per_lab), encoding="utf-8")
    return page
