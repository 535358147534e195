"""Write a sample fleet report (synthetic hosts, no inventory or host needed) to look at the dashboard.

Usage (from the repository root, in the project's venv)::

    python tools/dashboard_sample.py [--out DIR] [--kind run|plan] [--hosts 40] [--screenshot PNG]

Writes ``DIR/index.html`` and ``DIR/lab_gis101.html|csv|json`` (plus a small second lab), with failed,
unreachable, changed and untouched hosts. ``--screenshot`` renders the lab page with headless Chromium
(``/usr/bin/chromium``), as ``docs/dashboard.png`` was made.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")


def _import_report() -> Any:
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=[str(ROOT / "collections")], scan_sys_paths=True)._install()
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_report

    return fleet_report


def planned(host: int, full: bool) -> list[dict[str, Any]]:
    """A first run's change list (full) or a small drift repair, shaped like fleet_changes' items."""
    env = r"C:\ProgramData\arcgis-conda\envs\arcpro33"
    items = [
        ("doi_cert", "files", "write", r"C:\ProgramData\pip\pip.ini", "pip"),
        ("doi_cert", "files", "write", r"C:\ProgramData\arcgis-conda\certs\ca-bundle.pem", "CA bundle"),
    ]
    if full:
        items = [
            ("miniconda", "files", "mkdir", r"C:\ProgramData\arcgis-conda\installers", "installer folder"),
            ("miniconda", "package", "install", r"C:\Miniconda2", r"Miniconda2 x86 4.8.3 into C:\Miniconda2"),
            ("miniconda", "files", "write", r"C:\ProgramData\conda\.condarc", "channels, mirror and proxy"),
            *items,
            ("doi_cert", "files", "mkdir", r"C:\ProgramData\conda\condarc.d", "certificates and settings"),
            ("doi_cert", "files", "secure", r"C:\ProgramData\arcgis-conda\certs", "a trust store"),
            (
                "doi_cert",
                "files",
                "write",
                r"C:\ProgramData\conda\condarc.d\doi_cert.yml",
                "conda ssl_verify",
            ),
            ("doi_cert", "files", "write", r"C:\ProgramData\arcgis-conda\doi_cert-state.json", "the record"),
            (
                "arcgis_env",
                "command",
                "clone",
                env,
                rf"clone C:\Program Files\ArcGIS\Pro\bin\Python\envs\arcgispro-py3 to {env}, then add spyder",
            ),
            (
                "startup_bridge",
                "files",
                "write",
                env + r"\Lib\site-packages\arcgis_conda_bridge.py",
                "the bridge hook",
            ),
        ]
    return [
        {"role": r, "step": s, "action": a, "target": t, "reason": why, "item": {"path": t}}
        for r, s, a, t, why in items
    ]


def sample_rows(hosts: int, kind: str) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, hosts + 1):
        name = f"gis101-ws{i:02d}.lab.example.org"
        row: dict[str, Any] = {"host": name, "lab": "lab_gis101", "status": "ok", "error": ""}
        if i in (7, 23):
            row["status"] = "failed"
            row["error"] = (
                "miniconda: Install Miniconda2 x86 into C:\\Miniconda2: the installer exited 1603. "
                "Fix: free 3 GB on C: and retry with --limit @reports/last-run/failed_hosts.txt"
            )
        elif i == 31:
            row["status"] = "unreachable"
            row["error"] = "WinRM: connection refused on port 5986. Fix: winrm quickconfig -transport:https"
        full = i % 9 == 1
        drift = i % 6 == 0
        row["planned"] = planned(i, full) if (full or drift or row["status"] == "failed") else []
        row["changes"] = [f"{c['role']}: {c['action']} {c['target']} ({c['reason']})" for c in row["planned"]]
        if kind == "run":
            row.update(
                module_calls=16 if row["planned"] else 3,
                module_calls_previous=None if full else 3,
                arcgis=["desktop-10.4.1-32", "pro-3.3.0-64"],
                envs=["arc1041", "arcpro33"],
                bridge_verified=None if row["status"] != "ok" else True,
            )
        else:
            row.update(
                source="probe" if i % 5 else None,
                arcgis=["pro-3.3.0-64 python 3.11 numpy 1.24.3 matplotlib 3.6.3 scipy 1.9.3"],
                miniconda=[r"Miniconda2 x86 4.8.3 into C:\Miniconda2"],
                arcgis_env=["arcpro33 (pro_clone, win-64, python 3.11): numpy==1.24.3"],
                startup_bridge=["scope machine"],
                security=[r"C:\ProgramData\pip\pip.ini: Users may modify it"] if i % 13 == 0 else [],
            )
        rows.append(row)
    for i in (1, 2):
        rows.append({**rows[-1], "host": f"gis102-ws{i:02d}.lab.example.org", "lab": "lab_gis102"})
    return rows


def chromium_argv(page: Path, profile: Path | str, *args: str) -> list[str]:
    """Headless Chromium on a local page, with a fresh profile and nothing that reaches the network."""
    return [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
        *args,
        page.resolve().as_uri(),
    ]


def screenshot(page: Path, png: Path) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            chromium_argv(page, profile, f"--screenshot={png}"), check=True, capture_output=True, timeout=120
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "sample")
    parser.add_argument("--kind", choices=("run", "plan"), default="run")
    parser.add_argument("--hosts", type=int, default=40)
    parser.add_argument(
        "--screenshot", type=Path, help="write a PNG of the lab page (needs /usr/bin/chromium)"
    )
    args = parser.parse_args(argv)
    fleet_report = _import_report()
    Column = fleet_report.Column
    columns = [Column("host", "Host"), Column("status", "Status")]
    if args.kind == "run":
        columns += [Column("module_calls", "Module calls"), Column("arcgis", "ArcGIS installs")]
        columns += [Column("envs", "Conda envs"), Column("bridge_verified", "Bridge verified")]
    else:
        columns += [Column("source", "ArcGIS from"), Column("arcgis", "ArcGIS installs")]
        columns += [Column("miniconda", "Miniconda"), Column("arcgis_env", "Conda envs")]
        columns += [Column("startup_bridge", "Startup bridge"), Column("security", "Security")]
    columns += [Column("changes", "Changes"), Column("error", "First error")]
    reports = fleet_report.write_lab_reports(
        args.out,
        f"arcgis-conda fleet {args.kind} (sample)",
        sample_rows(args.hosts, args.kind),
        columns,
        meta={
            "inventory": "inventory/example",
            "playbook": "site.yml" if args.kind == "run" else "playbooks/plan.yml",
        },
        now=datetime(2025, 1, 15, 9, 30, tzinfo=UTC),
    )
    page = Path(reports[0].files["html"])
    print(f"wrote {args.out / 'index.html'} and {', '.join(r.files['html'] for r in reports)}")
    if args.screenshot:
        if not CHROMIUM.exists():
            print(f"{CHROMIUM} not found: install the Debian package chromium", file=sys.stderr)
            return 2
        screenshot(page, args.screenshot)
        print(f"wrote {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
