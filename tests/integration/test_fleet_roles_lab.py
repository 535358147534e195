"""Each role's promises through the whole flow on simulated workstations (tests/simwin).

Ported from the tests of the deleted per-role task files (test_doi_cert_role_e2e.py,
test_doi_cert_role_run.py, test_arcgis_env_role.py, test_miniconda_playbook.py,
test_startup_bridge_action.py): the same behaviours,
now asserted on what a real site.yml / playbooks/uninstall.yml run did to the simulated host, as the
simulator logged it (``Lab.calls()`` effects), not as the plan said.
"""

from __future__ import annotations

import datetime as dt
import json
import ntpath
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from simwin.testing import Lab, fleet_run, make_lab, secure_arcgis_pythons

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))
from doi_cert_testca import NOW, make_ca, make_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = "C:\\ProgramData\\arcgis-conda\\certs\\ca-bundle.pem"
CONDARC = "C:\\ProgramData\\conda\\.condarc"
PIP_INI = "C:\\ProgramData\\pip\\pip.ini"
STUDENT_SITE = "C:\\Users\\student1\\AppData\\Roaming\\Python\\Python27\\site-packages"
USER_CONDARC = b"channels:\r\n  - my-own-channel\r\n"
USER_PIP_INI = b"[global]\r\ntimeout = 60\r\n"
USER_SHIM = b"print('my own usercustomize')\n"


def run(lab: Lab, playbook: str, variables: dict[str, Any], *extra: str) -> tuple[int, str, dict]:
    """Run a playbook on the lab with extra variables; exit code, output, fleet_progress rows by host."""
    return fleet_run(lab, playbook, variables, *extra)


def effects(lab: Lab, host: str) -> list[dict[str, Any]]:
    return [e for call in lab.calls(host) if call.get("kind") == "module" for e in call.get("effects") or []]


def read(lab: Lab, path: str, host: str | None = None) -> bytes | None:
    h = lab.host(host)
    return h.read_bytes(path, h.principal("svc_fleet")) if h.exists(path) else None


def bundle_sha256s(lab: Lab, host: str | None = None) -> set[str]:
    data = read(lab, BUNDLE, host)
    assert data is not None, "no CA bundle on the host"
    return {c.fingerprint(hashes.SHA256()).hex() for c in x509.load_pem_x509_certificates(data)}


# Microsoft Root Certificate Authority 2011, which every simulated store ships with (scenarios/_base.yml).
SHIPPED_ROOT = "8F43288AD272F3103B6FB1428485EA3014C0BCFE"


def store(lab: Lab) -> list[str]:
    """Thumbprints the fleet added to the machine's Trusted Root store, as the simulator keeps it."""
    stored = [t.upper() for t in lab.host().store()]
    assert SHIPPED_ROOT in stored, "a role removed a root certificate it did not add"
    return sorted(t for t in stored if t != SHIPPED_ROOT)


# --- a bad input stops every host in the plan step, before any change -------------------------------


def expired_ca(tmp: Path) -> dict[str, Any]:
    ca = make_ca(
        "Expired DOI Root CA", not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=2)
    )
    (tmp / "expired.cer").write_bytes(ca.der)
    return {"doi_cert_certificates": [{"path": str(tmp / "expired.cer")}], "doi_cert_fingerprints": []}


def leaf_certificate(tmp: Path) -> dict[str, Any]:
    (tmp / "server.crt").write_bytes(make_server(make_ca()).pem)
    return {"doi_cert_certificates": [{"path": str(tmp / "server.crt")}], "doi_cert_fingerprints": []}


BAD_INPUTS = {
    "bogus-flavour": (
        lambda tmp: {"miniconda_flavours": ["bogus"]},
        "value of miniconda_flavours must be one or more of: miniconda2-x86,",
    ),
    "expired-ca": (expired_ca, "expired"),
    "leaf-not-ca": (leaf_certificate, "is not a CA certificate"),
    "extra-moves-a-pin": (
        lambda tmp: {"arcgis_env_extra_packages": ["numpy>=1.11"]},
        "numpy",
    ),
    "unknown-ssl-verify": (
        lambda tmp: {"doi_cert_ssl_verify": "insecure"},
        "value of doi_cert_ssl_verify must be one of: bundle, truststore, got: insecure",
    ),
    "miniconda-older-than-4.4": (
        lambda tmp: {
            "miniconda_installer_files": {"miniconda2-x86": "Miniconda2-4.3.21-Windows-x86.exe"},
            "miniconda_checksums": {"miniconda2-x86": "1" * 64},
        },
        "is Miniconda 4.3.21, made with constructor < 2.0 (before Miniconda 4.4)",
    ),
    "truststore-on-miniconda2": (
        lambda tmp: {"doi_cert_ssl_verify": "truststore"},
        "truststore needs conda >= 23.9 on Python >= 3.10",
    ),
}


@pytest.fixture(scope="module")
def bad_lab(tmp_path_factory) -> Lab:
    return make_lab(tmp_path_factory.mktemp("bad"), "reference", per=2)


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_a_bad_input_fails_every_host_in_the_plan_step_before_any_change(
    bad_lab: Lab, tmp_path: Path, case: str
) -> None:
    make_vars, needle = BAD_INPUTS[case]
    rc, out, _ = run(bad_lab, "site.yml", make_vars(tmp_path))
    assert rc == 2, out
    for host in bad_lab.hosts:
        # The quiet console's plan line for the host (fleet_console), its reason below it.
        stop = "FAILED at 'Stop this workstation before its first change when its plan failed'"
        assert re.search(rf"^plan +{re.escape(host)} +{re.escape(stop)}", out, re.M), out
        calls = [c for c in bad_lab.calls(host) if c.get("kind") == "module"]
        # A bad value of a variable stops the host before observe secures ArcGIS's Python; an input found
        # bad only by the plan (an expired CA) leaves, at most, that folder secured: never a role's change.
        guard = [{"op": "secure", "path": "C:\\Python27"}]
        found = effects(bad_lab, host)
        assert found in ([], guard), "a bad input changed the host"
        assert len(calls) == 2 + len(found), "more than the observe step reached the host"
        if case == "bogus-flavour":
            assert found == [], "a bad variable let observe change the host"
    assert needle in out, out
    for host in bad_lab.hosts:  # every message names its own host
        assert f"{host}: " in out


# --- doi_cert: rotation ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rotation(tmp_path_factory) -> dict[str, Any]:
    """Three site.yml runs: trust the old root, then old + new, then the new one only (Root store too)."""
    tmp = tmp_path_factory.mktemp("rotation")
    lab = make_lab(tmp / "lab", "desktop1041")
    old, new = make_ca("Old DOI Root CA"), make_ca("New DOI Root CA")
    (tmp / "old.cer").write_bytes(old.der)
    (tmp / "new.pem").write_bytes(new.pem)
    both = [{"path": str(tmp / "old.cer")}, {"path": str(tmp / "new.pem")}]
    runs = []
    for certificates in (both[:1], both, both[1:]):
        variables = {"doi_cert_fingerprints": [], "doi_cert_windows_store": True}
        rc, out, rows = run(lab, "site.yml", {**variables, "doi_cert_certificates": certificates})
        assert rc == 0, out
        runs.append(
            {
                "bundle": bundle_sha256s(lab),
                "store": store(lab),
                "planned": rows[lab.hosts[0]]["planned"],
            }
        )
    return {"old": old, "new": new, "runs": runs}


def test_doi_cert_rotates_the_bundle_to_a_new_root_then_drops_the_old(rotation: dict[str, Any]) -> None:
    old, new = rotation["old"].sha256, rotation["new"].sha256
    first, second, third = rotation["runs"]
    assert old in first["bundle"] and new not in first["bundle"]
    assert {old, new} <= second["bundle"]
    assert len(second["bundle"]) == len(first["bundle"]) + 1  # the public roots stay
    assert {c["role"] for c in second["planned"]} == {"doi_cert"}  # nothing else moves
    assert new in third["bundle"] and old not in third["bundle"]
    assert len(third["bundle"]) == len(first["bundle"])


def test_doi_cert_rotates_the_root_store_too(rotation: dict[str, Any]) -> None:
    old, new = rotation["old"].sha1, rotation["new"].sha1
    first, second, third = rotation["runs"]
    assert first["store"] == [old]
    assert second["store"] == sorted([old, new])
    assert [c["item"].get("state") for c in second["planned"] if c["step"] == "cert"] == ["present"]
    assert third["store"] == [new]
    assert [c["item"].get("state") for c in third["planned"] if c["step"] == "cert"] == ["absent"]


# --- a workstation that already had its own condarc, pip.ini and usercustomize.py --------------------

USER_SCOPE = {
    "startup_bridge_scope": "user",
    "startup_bridge_users": ["student1"],
    "startup_bridge_default_profile": False,
}


def tree(lab: Lab, prefix: str) -> dict[str, bytes | None]:
    """Every path under ``prefix`` on the host, with the bytes of its files."""
    state = json.loads((lab.state() / "host.json").read_text())
    h = lab.host()
    out = {}
    for key, node in state["fs"].items():
        if key.startswith(prefix.lower()):
            out[key] = (
                h.node_bytes(node) if node.get("type") == "file" and not node.get("synthetic") else None
            )
    return out


@pytest.fixture(scope="module")
def owned(tmp_path_factory) -> dict[str, Any]:
    """A reference workstation with an admin's condarc and pip.ini and a student's usercustomize.py,
    after one site.yml run with the bridge in user scope."""
    lab = make_lab(tmp_path_factory.mktemp("owned"), "reference")
    with lab.edit() as host:
        admin = host.principal("svc_fleet")
        for folder in ("C:\\ProgramData\\conda", "C:\\ProgramData\\pip"):
            host.mkdir(folder, admin)
        host.write(CONDARC, USER_CONDARC, admin)
        host.write(PIP_INI, USER_PIP_INI, admin)
        student = host.as_user("student1")
        for folder in ("..\\..", "..", ""):
            student.mkdir(ntpath.normpath(ntpath.join(STUDENT_SITE, folder)))
        student.write_file(STUDENT_SITE + "\\usercustomize.py", USER_SHIM)
    before = tree(lab, "C:\\Users\\student1\\AppData\\Roaming\\Python")
    rc, out, rows = run(lab, "site.yml", USER_SCOPE)
    return {"lab": lab, "rc": rc, "out": out, "rows": rows, "before_profile": before}


def test_site_keeps_what_the_workstation_already_had(owned: dict[str, Any]) -> None:
    lab = owned["lab"]
    assert owned["rc"] == 0, owned["out"]
    assert "fatal:" not in owned["out"]  # verify passed too
    # miniconda: the admin's condarc is kept aside, byte for byte, and the role's written in its place.
    assert read(lab, CONDARC + ".before-arcgis-conda-fleet") == USER_CONDARC
    assert read(lab, CONDARC).startswith(b"# Managed by arcgis_conda.fleet (role miniconda).")
    # doi_cert: pip.ini gets the bundle and keeps the admin's own settings.
    pip_ini = read(lab, PIP_INI).decode()
    assert "timeout = 60" in pip_ini and BUNDLE in pip_ini
    # startup_bridge: the student's usercustomize.py is kept beside the shim, which runs it first.
    assert read(lab, STUDENT_SITE + "\\usercustomize.py.arcgis_conda_bridge.bak") == USER_SHIM
    shim = (ROOT / "roles" / "startup_bridge" / "files" / "usercustomize.py").read_bytes()
    assert read(lab, STUDENT_SITE + "\\usercustomize.py") == shim


def test_scope_user_verify_never_runs_the_admins_python_in_a_students_profile(owned: dict[str, Any]) -> None:
    """Issue 22 item 6: verify used to run each bridged Python as admin with PYTHONUSERBASE at student1's
    profile, so their usercustomize.py and .pth files ran as admin (the simulator's invariant records that
    as an escalation, and the autouse check fails the test). Only the Default profile is used now; without
    it (startup_bridge_default_profile: false) the user-scope checks are left out, and the run says so."""
    lab = owned["lab"]
    data = STUDENT_SITE + "\\arcgis_conda_bridge.json"
    good = read(lab, data)
    assert good is not None
    with lab.edit() as host:
        host.write(data, b"{not json", host.principal("svc_fleet"))
    try:
        rc, out, _ = run(lab, "playbooks/verify.yml", USER_SCOPE)
        assert rc == 0, out
        assert "the verify of the user-scope bridge" in out and "startup_bridge_default_profile" in out
    finally:
        with lab.edit() as host:
            host.write(data, good, host.principal("svc_fleet"))


def test_a_second_site_run_with_a_users_usercustomize_changes_nothing(owned: dict[str, Any]) -> None:
    lab = owned["lab"]
    rc, out, rows = run(lab, "site.yml", USER_SCOPE)
    assert rc == 0, out
    assert rows[lab.hosts[0]]["planned"] == []
    assert effects(lab, lab.hosts[0]) == []


def test_uninstall_puts_the_admins_condarc_and_pip_ini_back(owned: dict[str, Any]) -> None:
    lab = owned["lab"]
    rc, out, _ = run(lab, "playbooks/uninstall.yml", USER_SCOPE, "-e", "fleet_confirm=yes")
    assert rc == 0, out
    assert read(lab, CONDARC) == USER_CONDARC
    assert read(lab, CONDARC + ".before-arcgis-conda-fleet") is None
    assert read(lab, PIP_INI) == USER_PIP_INI
    assert read(lab, BUNDLE) is None


def test_uninstall_gives_the_student_their_usercustomize_back(owned: dict[str, Any]) -> None:
    lab = owned["lab"]
    assert read(lab, STUDENT_SITE + "\\usercustomize.py") == USER_SHIM
    assert tree(lab, "C:\\Users\\student1\\AppData\\Roaming\\Python") == owned["before_profile"]


def test_user_scope_finds_profiles_by_account_and_leaves_redirected_appdata_alone(tmp_path) -> None:
    """LAB\\jsmith's profile is C:\\Users\\jsmith.LAB (ProfileList); student2's AppData is redirected to a
    share, where Python's user site follows it: the plan bridges the first and names the second."""
    lab = make_lab(tmp_path / "lab", "reference_lab_profiles")
    secure_arcgis_pythons(lab)  # check mode never runs Desktop's Python while users can write it
    variables = {**USER_SCOPE, "startup_bridge_users": ["jsmith", "student2"]}
    rc, out, rows = run(lab, "site.yml", variables, "--check")
    assert rc == 0, out
    targets = [c["target"] for c in rows[lab.hosts[0]]["planned"] if c["role"] == "startup_bridge"]
    site = "C:\\Users\\jsmith.LAB\\AppData\\Roaming\\Python\\Python27\\site-packages"
    assert site + "\\usercustomize.py" in targets
    assert not [t for t in targets if "student2" in t]
    assert "redirected to \\\\fileserver\\profiles\\student2\\AppData\\Roaming" in " ".join(out.split())


PRO_ROOT = "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python"


def test_pro_conda_gets_the_ca_in_its_root_when_programdata_is_not_used(tmp_path) -> None:
    """doi_cert_condarc_locations [install_root]: ArcGIS Pro's own conda reads no Miniconda root, so the
    file goes into Pro's conda root too (never into an env), and verify judges Pro's conda."""
    lab = make_lab(tmp_path / "lab", "pro33")
    rc, out, _ = run(lab, "site.yml", {"doi_cert_condarc_locations": ["install_root"]})
    assert rc == 0, out
    text = read(lab, PRO_ROOT + "\\condarc.d\\doi_cert.yml")
    assert text is not None and BUNDLE.encode() in text
    assert read(lab, "C:\\ProgramData\\conda\\condarc.d\\doi_cert.yml") is None


def test_verify_reports_when_pros_conda_does_not_trust_the_ca(tmp_path) -> None:
    """An admin's <Pro root>\\.condarc with ssl_verify: false wins over ProgramData's file once
    doi_cert_condarc_final is false: the Miniconda condas trust the CA, Pro's conda does not."""
    lab = make_lab(tmp_path / "lab", "pro33")
    with lab.edit() as host:
        host.write(PRO_ROOT + "\\.condarc", b"ssl_verify: false\r\n", host.principal("svc_fleet"))
    rc, out, _ = run(lab, "site.yml", {"doi_cert_condarc_final": False})
    assert rc != 0, out
    flat = " ".join(out.split())
    assert "ssl_verify=False" in flat and "does not trust the organisation's CA" in flat
    assert "pro-3.3.0-64's conda" in flat


def test_user_condarc_files_are_judged_by_the_conda_version_observe_measured(tmp_path) -> None:
    """student1's ~\\.config\\conda\\.condarc: Miniconda2's conda 4.8.3 never reads it (that folder is read
    from conda 4.11), ArcGIS Pro's conda 23.7.4 does; only Pro's conda is reported as overridden."""
    lab = make_lab(tmp_path / "lab", "reference")
    first = {"doi_cert_condarc_final": False, "doi_cert_users": ["student1"]}
    rc, out, _ = run(lab, "site.yml", first)  # installs Miniconda2 4.8.3: its version is observed next time
    assert rc == 0, out
    with lab.edit() as host:
        student = host.as_user("student1")
        student.mkdir("C:\\Users\\student1\\.config")
        student.mkdir("C:\\Users\\student1\\.config\\conda")
        student.write_file("C:\\Users\\student1\\.config\\conda\\.condarc", "ssl_verify: false\r\n")
    _, out, _ = run(lab, "site.yml", first, "--check")
    flat = " ".join(out.split())
    assert "user student1 gets ssl_verify=False for pro-3.3.0-64 from" in flat, flat
    assert "for miniconda2-x86 from" not in flat


def test_arcgis_env_shortcuts_false_makes_no_start_menu_shortcuts(tmp_path) -> None:
    """The default (conda's menuinst, all-users shortcuts that absent removes) is asserted in
    test_fleet_e2e; false passes --no-shortcuts, and the simulated menuinst then makes none."""
    lab = make_lab(tmp_path / "lab", "desktop1041")
    rc, out, _ = run(lab, "site.yml", {"arcgis_env_shortcuts": False})
    assert rc == 0, out
    state = json.loads((lab.state() / "host.json").read_text())
    assert [k for k in state["fs"] if k.endswith(".lnk")] == []
    creates = [c for c in lab.calls() if c.get("module") == "ansible.windows.win_command"]
    assert creates, "no conda command ran"
