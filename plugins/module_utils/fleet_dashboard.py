"""The admin's fleet dashboard: an index page across labs and a readable page per lab.

Pure functions from report rows (plain dicts, as ``fleet_report`` gets them) to self-contained HTML:
inline CSS and SVG, no scripts, no external URLs, every value HTML-escaped. ``fleet_report`` writes
the files; this module only decides what a page says.

Outcomes are derived per host from ``status`` and its change list (``planned``, else ``changes``):
``failed``/``unreachable``/``incomplete``/``skipped``/``nothing managed`` as given, otherwise
``would change`` (a plan) or
``changed`` (a run) when the list is non-empty, else ``ok``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

PLAN = "plan"
RUN = "run"
# Index columns and chart legend, in this order; lab pages list failed and unreachable first.
# incomplete: planned, but part of it could not be (a declared release whose stack is unknown).
# nothing managed: observed, and nothing of ArcGIS for the roles to serve (none, or only a per-user Pro).
# The one source of truth for a host's status: the console, the HTML and the JSON all use outcome().
OUTCOMES = (
    "ok",
    "would change",
    "changed",
    "failed",
    "unreachable",
    "incomplete",
    "skipped",
    "nothing managed",
    "stopped",
    "not run",
)
PAGE_ORDER = (
    "failed",
    "unreachable",
    "stopped",
    "not run",
    "incomplete",
    "would change",
    "changed",
    "skipped",
    "nothing managed",
    "ok",
)
UNMANAGED = "nothing managed"
COLOURS = {
    "ok": "#2e8b57",
    "would change": "#d68910",
    "changed": "#2471a3",
    "failed": "#c0392b",
    "unreachable": "#7d3c98",
    "incomplete": "#b9770e",
    "skipped": "#909497",
    "nothing managed": "#5d6d7e",
    "stopped": "#922b21",
    "not run": "#6c3483",
}
COLLAPSE_AFTER = 5  # a role's change list longer than this starts collapsed
CHART_WIDTH = 360  # pixels for the largest lab's bar
# Raw tokens admins should not have to decode.
WORDS = {
    "pro_clone": "Pro clone",
    "desktop_bgp": "Desktop Background Geoprocessing",
}
UNKNOWN = ("None", "null", "none", "unknown")  # a whole value that says nothing is known
_WORD_RE = re.compile(r"\b(" + "|".join(map(re.escape, WORDS)) + r")\b")
# Keys a host card shows in its own way; the rest of the report's columns go under "Details".
_OWN_KEYS = {"host", "lab", "status", "error", "changes", "planned", "security", "module_calls"}
_OWN_KEYS |= {"module_calls_previous", "audit"}

STYLE = """
*{box-sizing:border-box}
body{font-family:Segoe UI,Arial,sans-serif;margin:1.2em auto;max-width:1400px;padding:0 1em;color:#222}
h1{font-size:1.35em;margin:.2em 0}h2{font-size:1.1em;margin:1.2em 0 .4em;border-bottom:2px solid #ddd}
h3{font-size:1em;margin:0 0 .3em}h4{font-size:.85em;margin:.5em 0 .1em;color:#444}
.meta{color:#555;font-size:.9em;margin:.2em 0}.meta b{color:#222}
.note{margin:.3em 0;font-size:.9em}
.chips span{display:inline-block;border-radius:1em;padding:.1em .7em;margin:.2em .3em .2em 0;
 color:#fff;font-size:.85em}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(400px,1fr));gap:.6em}
.card{border:1px solid #ccc;border-left:6px solid #999;border-radius:4px;padding:.5em .7em;
 font-size:.88em;background:#fff;overflow-wrap:anywhere}
.card.failed{border-left-color:#c0392b;background:#fdf2f1}
.card.unreachable{border-left-color:#7d3c98;background:#f6f0f9}
.card.would-change{border-left-color:#d68910}.card.changed{border-left-color:#2471a3}
.card.ok{border-left-color:#2e8b57}.card.skipped{border-left-color:#909497}
.badge{float:right;font-size:.8em;color:#fff;border-radius:.8em;padding:0 .6em}
.error{background:#fff;border:1px solid #e6b0aa;padding:.3em .5em;white-space:pre-wrap;margin:.3em 0}
ul{margin:.1em 0 .3em 1.2em;padding:0}li{margin:.05em 0}
details summary{cursor:pointer;color:#1a5276}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1em .6em;margin:.3em 0}dt{color:#555}
dd{margin:0}.security li{color:#922b21}
.quiet{font-size:.88em;color:#333}.quiet span{display:inline-block;margin:.1em .6em .1em 0}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #bbb;padding:3px 5px;vertical-align:top;text-align:left;font-size:.8em}
th{background:#eee}tr.failed td{background:#fde2e2}
pre{margin:0;white-space:pre-wrap}
table.counts{width:auto}table.counts td,table.counts th{font-size:.9em;text-align:right;padding:3px 10px}
table.counts td:first-child,table.counts th:first-child{text-align:left}
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def css_name(outcome_name: str) -> str:
    return outcome_name.replace(" ", "-")


def human(value: Any) -> str:
    """An admin's reading of a raw value: ``None`` is "unknown", tokens spelled out, lists joined."""
    if value is None or (isinstance(value, str) and value.strip() in UNKNOWN):
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return "; ".join(f"{human(k)}: {human(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple | set):
        return ", ".join(human(v) for v in value) or "none"
    return _WORD_RE.sub(lambda m: WORDS[m.group(1)], str(value))


def kind_of(rows: Iterable[Mapping[str, Any]], title: str = "") -> str:
    """``run`` when rows carry module calls (the run callback's), else ``plan``."""
    rows = list(rows)
    if any("module_calls" in r for r in rows):
        return RUN
    if not rows and "run" in title.lower():
        return RUN
    return PLAN


def change_list(row: Mapping[str, Any]) -> list[Any]:
    """The host's changes: structured ``planned`` items when present, else ``changes`` strings."""
    planned = row.get("planned")
    if isinstance(planned, list) and planned:
        return planned
    changes = row.get("changes")
    return list(changes) if isinstance(changes, list) else []


def outcome(row: Mapping[str, Any], kind: str) -> str:
    status = str(row.get("status") or "ok").lower()
    # stopped: Ansible halted it mid-batch (max_fail_percentage); not run: its batch never started.
    if status in ("failed", "unreachable", "incomplete", "skipped", UNMANAGED, "stopped", "not run"):
        return status
    if change_list(row):
        return "would change" if kind == PLAN else "changed"
    return "ok"


def count_line(counts: Mapping[str, int]) -> str:
    """The counts as the console prints them: outcomes with hosts, in the index's order."""
    return ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts.get(o)) or "no hosts"


def count_outcomes(rows: Iterable[Mapping[str, Any]], kind: str) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for row in rows:
        counts[outcome(row, kind)] += 1
    return counts


def group_by_outcome(rows: Iterable[Mapping[str, Any]], kind: str) -> list[tuple[str, list[Mapping]]]:
    """Hosts by outcome, failed and unreachable first; hosts in their given order inside a group."""
    groups: dict[str, list[Mapping[str, Any]]] = {o: [] for o in PAGE_ORDER}
    for row in rows:
        groups[outcome(row, kind)].append(row)
    return [(o, groups[o]) for o in PAGE_ORDER if groups[o]]


_VERBS = {
    "mkdir": "create folder",
    "rmdir_empty": "remove the empty folder",
    "secure": "restrict to administrators",
    "delete": "delete",
    "write": "write",
    "download": "download",
}


def change_text(item: Any) -> str:
    """One planned change in plain words, e.g. "write C:\\ProgramData\\pip\\pip.ini (pip)"."""
    if not isinstance(item, Mapping):
        text = str(item)
        role, sep, rest = text.partition(": ")
        return human(rest if sep and " " not in role else text)
    action = str(item.get("action") or "change")
    target = str(item.get("target") or "")
    reason = str(item.get("reason") or "")
    details = item.get("item") if isinstance(item.get("item"), Mapping) else {}
    if action == "install" and reason and reason.endswith(target):
        text = f"install {reason}"  # reason reads "Miniconda3 x64 23.5.2-0 into C:\Miniconda3"
    elif reason.split(" ", 1)[0] == action.split(" ", 1)[0]:
        text = reason  # "clone A to B, then add ...", "add tools to B ..." already say it all
    elif action == "copy" and details.get("src"):
        text = f"copy {details['src']} to {target}" + (f" ({reason})" if reason else "")
    elif action == "download" and reason.startswith("installer "):
        text = f"download the {reason} to {target}"
    else:
        text = f"{_VERBS.get(action, action)} {target}" + (f" ({reason})" if reason else "")
    return human(text)


def changes_by_role(row: Mapping[str, Any]) -> dict[str, list[str]]:
    """Plain-word changes grouped by role, in plan order."""
    roles: dict[str, list[str]] = {}
    for item in change_list(row):
        if isinstance(item, Mapping):
            role = str(item.get("role") or "other")
        else:
            head, sep, _tail = str(item).partition(": ")
            role = head if sep and " " not in head else "other"
        roles.setdefault(role, []).append(change_text(item))
    return roles


# -- rendering ---------------------------------------------------------------------------------------
def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>\n"
    )


def _chips(counts: Mapping[str, int]) -> str:
    chips = "".join(
        f"<span style='background:{COLOURS[o]}'>{esc(o)}: {n}</span>" for o, n in counts.items() if n
    )
    return f"<div class='chips'>{chips}</div>"


def _meta_lines(when: str, meta: Mapping[str, Any] | None) -> str:
    lines = [f"<p class='meta'><b>Date:</b> {esc(when)}</p>"] if when else []
    for key, value in (meta or {}).items():
        if value is None or value == "" or value == []:
            continue
        lines.append(f"<p class='meta'><b>{esc(human(key).capitalize())}:</b> {esc(human(value))}</p>")
    return "".join(lines)


def _items(values: Sequence[str], css: str = "") -> str:
    cls = f" class='{css}'" if css else ""
    return f"<ul{cls}>" + "".join(f"<li>{esc(v)}</li>" for v in values) + "</ul>"


def _value_html(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) > 1:
        return _items([human(v) for v in value])
    if isinstance(value, list | tuple):
        return esc(human(value[0])) if value else "none"
    return esc(human(value))


def render_changes(row: Mapping[str, Any], kind: str) -> str:
    roles = changes_by_role(row)
    if not roles:
        return ""
    total = sum(len(v) for v in roles.values())
    label = "Would change" if kind == PLAN else "Changes"
    parts = [f"<h4>{label} ({total})</h4>"]
    for role, texts in roles.items():
        if len(texts) > COLLAPSE_AFTER:
            parts.append(
                f"<details class='role'><summary>{esc(role)}: {len(texts)} changes</summary>"
                f"{_items(texts)}</details>"
            )
        else:
            parts.append(f"<div class='role'><b>{esc(role)}</b>{_items(texts)}</div>")
    return "".join(parts)


def render_card(row: Mapping[str, Any], kind: str, detail_keys: Sequence[tuple[str, str]]) -> str:
    name = outcome(row, kind)
    parts = [
        f"<div class='card {css_name(name)}' data-host='{esc(row.get('host'))}'>",
        f"<span class='badge' style='background:{COLOURS[name]}'>{esc(name)}</span>",
        f"<h3>{esc(row.get('host') or 'unknown host')}</h3>",
    ]
    error = row.get("error")
    if error:
        first = error[0] if isinstance(error, list) and error else error
        parts.append(f"<div class='error'>{esc(first)}</div>")  # as given: it names the fix
    if kind == RUN and "module_calls" in row:
        previous = row.get("module_calls_previous")
        was = f" (previous run: {esc(human(previous))})" if previous is not None else " (no previous run)"
        parts.append(f"<p class='meta'><b>Module calls:</b> {esc(human(row.get('module_calls')))}{was}</p>")
    parts.append(render_changes(row, kind))
    security = [s for s in (row.get("security") or []) if s] if isinstance(row.get("security"), list) else []
    audit = row.get("audit")
    if isinstance(audit, list):
        security += [human(a) for a in audit if a]
    if security:
        parts.append(f"<h4>Security findings ({len(security)})</h4>{_items(security, 'security')}")
    shown = [(k, h) for k, h in detail_keys if k in row and row.get(k) not in (None, "", [])]
    if shown:
        rows = "".join(f"<dt>{esc(h)}</dt><dd>{_value_html(row.get(k))}</dd>" for k, h in shown)
        parts.append(f"<details><summary>Details</summary><dl>{rows}</dl></details>")
    parts.append("</div>")
    return "".join(parts)


def _is_quiet(row: Mapping[str, Any], kind: str) -> bool:
    """An ok host with nothing to say: listed by name only, so a 40-host lab stays one screen."""
    return outcome(row, kind) == "ok" and not row.get("error") and not row.get("security")


def render_lab_page(
    title: str,
    lab: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Any],
    *,
    kind: str,
    notes: Sequence[str] = (),
    when: str = "",
    meta: Mapping[str, Any] | None = None,
    table: str = "",
) -> str:
    """A lab's page: counts, then host cards grouped by outcome, then the full table (every column)."""
    detail_keys = [(c.key, c.heading) for c in columns if c.key not in _OWN_KEYS]
    counts = count_outcomes(rows, kind)
    body = [
        f"<h1>{esc(title)}: {esc(lab)}</h1>",
        _meta_lines(when, meta),
        f"<p class='meta'><b>Hosts:</b> {len(rows)}</p>",
        _chips(counts),
        "".join(f"<p class='note'>{esc(n)}</p>" for n in notes),
    ]
    for name, members in group_by_outcome(rows, kind):
        body.append(f"<section class='outcome' data-outcome='{esc(name)}'>")
        body.append(f"<h2>{esc(name.capitalize())} ({len(members)})</h2>")
        quiet = [r for r in members if _is_quiet(r, kind)]
        loud = [r for r in members if not _is_quiet(r, kind)]
        if loud:
            body.append(
                "<div class='grid'>" + "".join(render_card(r, kind, detail_keys) for r in loud) + "</div>"
            )
        if quiet:
            names = "".join(
                f"<span class='host' data-host='{esc(r.get('host'))}'>{esc(r.get('host'))}</span>"
                for r in quiet
            )
            body.append(f"<div class='quiet'>{names}</div>")
            body.append(f"<details><summary>Details of these {len(quiet)} hosts</summary><div class='grid'>")
            body.append("".join(render_card(r, kind, detail_keys) for r in quiet) + "</div></details>")
        body.append("</section>")
    if table:
        body.append(
            f"<h2>All hosts, every column</h2><details><summary>Show the table</summary>{table}</details>"
        )
    return _page(f"{title}: {lab}", "".join(body))


def render_chart(counts_by_lab: Mapping[str, Mapping[str, int]]) -> str:
    """An inline SVG: one stacked horizontal bar per lab, segment widths proportional to host counts."""
    label_w, bar_h, gap, top = 170, 16, 6, 22
    biggest = max((sum(c.values()) for c in counts_by_lab.values()), default=0) or 1
    scale = CHART_WIDTH / biggest
    height = top + len(counts_by_lab) * (bar_h + gap) + 4
    width = label_w + CHART_WIDTH + 50
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='hosts per lab by outcome' "
        f"data-scale='{scale:.6f}'>"
    ]
    x = 0
    for name in OUTCOMES:  # legend
        parts.append(f"<rect x='{x}' y='2' width='10' height='10' fill='{COLOURS[name]}'/>")
        parts.append(f"<text x='{x + 13}' y='11' font-size='11'>{esc(name)}</text>")
        x += 13 + 7 * len(name) + 12
    for i, (lab, counts) in enumerate(counts_by_lab.items()):
        y = top + i * (bar_h + gap)
        parts.append(
            f"<text x='{label_w - 6}' y='{y + bar_h - 4}' font-size='12' text-anchor='end'>{esc(lab)}</text>"
        )
        x0 = float(label_w)
        for name in OUTCOMES:
            n = counts.get(name, 0)
            if not n:
                continue
            w = n * scale
            parts.append(
                f"<rect class='bar' x='{x0:.2f}' y='{y}' width='{w:.2f}' height='{bar_h}' "
                f"fill='{COLOURS[name]}' data-lab='{esc(lab)}' data-outcome='{esc(name)}' data-count='{n}'>"
                f"<title>{esc(lab)}: {n} {esc(name)}</title></rect>"
            )
            x0 += w
        total = sum(counts.values())
        parts.append(f"<text x='{x0 + 4:.2f}' y='{y + bar_h - 4}' font-size='11'>{total}</text>")
    parts.append("</svg>")
    return "".join(parts)


def render_index(
    title: str,
    labs: Mapping[str, Mapping[str, int]],
    pages: Mapping[str, str],
    *,
    when: str = "",
    meta: Mapping[str, Any] | None = None,
) -> str:
    """The report folder's front page: context, counts per lab by outcome, the chart, links."""
    total = dict.fromkeys(OUTCOMES, 0)
    for counts in labs.values():
        for name in OUTCOMES:
            total[name] += counts.get(name, 0)
    head = "".join(f"<th>{esc(o)}</th>" for o in OUTCOMES)
    body_rows = []
    for lab, counts in labs.items():
        cells = "".join(f"<td data-outcome='{esc(o)}'>{counts.get(o, 0)}</td>" for o in OUTCOMES)
        link = f"<a href='{esc(pages[lab])}'>{esc(lab)}</a>" if lab in pages else esc(lab)
        failed = " class='failed'" if counts.get("failed") or counts.get("unreachable") else ""
        body_rows.append(
            f"<tr{failed} data-lab='{esc(lab)}'><td>{link}</td>{cells}<td>{sum(counts.values())}</td></tr>"
        )
    foot = "".join(f"<td>{total[o]}</td>" for o in OUTCOMES)
    body = [
        f"<h1>{esc(title)}</h1>",
        _meta_lines(when, meta),
        f"<p class='meta'><b>Labs:</b> {len(labs)}, <b>hosts:</b> {sum(total.values())}</p>",
        _chips(total),
        render_chart(labs),
        f"<table class='counts'><thead><tr><th>lab</th>{head}<th>hosts</th></tr></thead>"
        f"<tbody>{''.join(body_rows)}</tbody>"
        f"<tfoot><tr><th>all labs</th>{foot}<th>{sum(total.values())}</th></tr></tfoot></table>",
    ]
    return _page(title, "".join(body))


def render_history(title: str, per_lab: Mapping[str, Sequence[tuple[str, Mapping, Mapping]]]) -> str:
    """The reports folder's front page: per lab its last runs, newest first (run, date, playbook, mode,
    outcomes), each linking to that run's lab page."""
    head = "".join(f"<th>{esc(o)}</th>" for o in OUTCOMES)
    body = [f"<h1>{esc(title)}</h1>", "<p class='meta'><a href='latest/index.html'>The latest run</a></p>"]
    for lab, entries in sorted(per_lab.items()):
        rows = []
        for folder, index, entry in entries:
            counts = entry.get("counts") or {}
            page = (entry.get("files") or {}).get("html") or "index.html"
            meta = index.get("meta") or {}
            cells = "".join(f"<td data-outcome='{esc(o)}'>{counts.get(o, 0)}</td>" for o in OUTCOMES)
            rows.append(
                f"<tr data-run='{esc(folder)}'><td><a href='{esc(folder)}/{esc(page)}'>{esc(folder)}</a></td>"
                f"<td>{esc(index.get('date'))}</td><td>{esc(meta.get('playbook'))}</td>"
                f"<td>{esc(meta.get('mode'))}</td>{cells}</tr>"
            )
        body.append(
            f"<h2>{esc(lab)}</h2><table class='counts' data-lab='{esc(lab)}'><thead><tr><th>run</th>"
            "<th>date</th>"
            f"<th>playbook</th><th>mode</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    return _page(title, "".join(body))
