"""Roles compose safely (issue 27 item 1): with every file a role may move aside planted by a student on
every scenario (and an earlier run's moved-aside files already in place), one ordinary run loses nothing a
user owned: each planted file survives byte-identical where it was or where the report's planned changes
say it was moved, every moved-aside name is unique, and the host still has our system condarc.

Before the fix, miniconda moved a student's C:\\ProgramData\\conda\\.condarc aside and wrote its own;
doi_cert then copied that new file over ``.condarc.untrusted`` and deleted ``.condarc``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from simwin.testing import fleet_run, make_lab

pytestmark = pytest.mark.slow

SCENARIOS = ("reference", "pro33", "pro35", "desktop1041", "desktop1082_bgp_pro35")
# Machine-wide files conda, pip or the fleet's record reads in the admin run, which a student may create
# (ProgramData subfolders let Users create files), and the startup files of ArcGIS Desktop's Python.
MACHINE = (
    "C:\\ProgramData\\conda\\.condarc",
    "C:\\ProgramData\\conda\\condarc",
    "C:\\ProgramData\\conda\\condarc.d\\doi_cert.yml",
    "C:\\ProgramData\\conda\\condarc.d\\arcgis_env.yml",
    "C:\\ProgramData\\conda\\condarc.d\\zz.yml",
    "C:\\ProgramData\\pip\\pip.ini",
    "C:\\ProgramData\\arcgis-conda\\certs\\ca-bundle.pem",
    "C:\\ProgramData\\arcgis-conda\\doi_cert-state.json",
)
STARTUP = ("evil.pth", "sitecustomize.py", "usercustomize.py")
PYTHONS = ("C:\\Python27\\ArcGIS10.4", "C:\\Python27\\ArcGIS10.8", "C:\\Python27\\ArcGISx6410.8")
# Names an earlier run's move aside already holds: the new ones must not replace them.
EARLIER = ("C:\\ProgramData\\conda\\.condarc", "C:\\ProgramData\\pip\\pip.ini")


def test_every_file_a_role_moves_aside_survives_byte_identical_and_named_in_the_report(
    tmp_path: Path,
) -> None:
    lab = make_lab(tmp_path, *SCENARIOS)
    planted: dict[str, dict[str, bytes]] = {}
    for name in lab.hosts:
        files = planted.setdefault(name, {})
        with lab.edit(name) as host:
            student = host.as_user("student1")
            paths = list(MACHINE)
            paths += [f"{py}\\Lib\\site-packages\\{f}" for py in PYTHONS if host.exists(py) for f in STARTUP]
            paths += [f"{p}.untrusted" for p in EARLIER] + [f"{p}.untrusted.1" for p in EARLIER[:1]]
            for path in paths:
                parts = path.split("\\")[:-1]
                for depth in range(2, len(parts) + 1):
                    if not host.exists("\\".join(parts[:depth])):
                        student.mkdir("\\".join(parts[:depth]))
                data = f"# {name}'s {path}, the student's own\nssl_verify: false\n".encode()
                student.write_file(path, data)
                files[path] = data

    rc, out, rows = fleet_run(lab, "site.yml")
    assert rc == 0, out[-4000:]
    for name in lab.hosts:
        host = lab.host(name)
        planned = rows[name]["planned"]
        moves = [c for c in planned if c["item"].get("op") == "copy" and c["action"] == "copy"]
        targets = [c["target"].lower() for c in moves]
        assert len(targets) == len(set(targets)), f"{name}: two files moved to one name: {targets}"
        # A folder the student made where the run makes its own is moved aside whole (never adopted).
        folders = [c["item"] for c in planned if c["item"].get("op") == "move"]
        for path, data in planted[name].items():
            named = [path] + [c["target"] for c in moves if c["item"].get("src", "").lower() == path.lower()]
            named += [
                f["path"] + path[len(f["src"]) :]
                for f in folders
                if path.lower().startswith(f["src"].lower() + "\\")
            ]
            # What observe's securing of ArcGIS's Python folder moved aside is named in its warning.
            if f"moved aside to {path}.untrusted" in " ".join(out.split()):
                named.append(f"{path}.untrusted")
            kept = [p for p in named if host.exists(p) and host.node_bytes(host.node(p)) == data]
            assert kept, f"{name}: {path} was lost (looked in {named})"
        assert host.exists("C:\\ProgramData\\conda\\.condarc"), f"{name}: no system condarc left"
        assert b"arcgis_conda.fleet" in host.node_bytes(host.node("C:\\ProgramData\\conda\\.condarc"))
