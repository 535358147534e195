"""One validation of the admin's inputs, before any change, the same in plan.yml and site.yml (issue 25).

Bad inputs from every source at once (group_vars, host_vars, -e, a misnamed lab group, a mirror the
controller cannot reach), in one run per playbook on the simulated lab: the run exits non-zero, no host
changed, and the console names each host, variable, value and fix.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from simwin import lab as simlab
from simwin.testing import Lab, fleet_run, make_lab

pytestmark = pytest.mark.slow

PRO = "sim-pro33-01"
REF = "sim-reference-01"

# variable source -> values; every one is wrong.
GROUP_VARS = {"miniconda_stat": "absent", "arcgis_env_extra_packages": "geopandas"}
HOST_VARS = {REF: {"fleet_anaconda_channels": "unlicensed"}}
EXTRA_VARS = {
    "startup_bridge_scope": "everyone",
    "doi_cert_users": "alice",
    "miniconda_flavour_overrides": "pro=none",
    "fleet_package_mirror": "http://127.0.0.1:9/conda",
    "miniconda_remote_max_retries": "lots",
}
# (hosts, what the console must say: the variable, its value and the fix)
EXPECTED = [
    ((REF, PRO), ["miniconda_stat = 'absent'", "did you mean miniconda_state?", "Fix: rename it"]),
    (
        (REF, PRO),
        ["arcgis_env_extra_packages = 'geopandas'", "Fix: arcgis_env_extra_packages: ['geopandas']"],
    ),
    (
        (REF,),
        ["fleet_anaconda_channels must be one of: licensed, not_licensed, mirror_only, got: unlicensed"],
    ),
    ((REF, PRO), ["startup_bridge_scope must be one of: machine, user, got: everyone"]),
    ((REF, PRO), ["doi_cert_users = 'alice'", "Fix: doi_cert_users: ['alice']"]),
    ((REF, PRO), ["miniconda_flavour_overrides = 'pro=none' is a string"]),
    ((REF, PRO), ["miniconda_remote_max_retries", "'lots'"]),
    (
        (REF, PRO),
        [
            "fleet_package_mirror = 'http://127.0.0.1:9/conda' is not reachable from the controller",
            "Fix: correct",
        ],
    ),
    (
        (PRO,),
        ["inventory group 'gislab102' looks like a lab but is not named lab_*", "Fix: rename the group"],
    ),
]


def misname_lab_group(lab: Lab, host: str) -> None:
    """Move ``host`` from lab_sim into a lab group not named lab_* (the admin's typo)."""
    path = lab.dir / "inventory" / "hosts.yml"
    data = yaml.safe_load(path.read_text())
    children = data["all"]["children"]["windows_workstations"]["children"]
    entry = children["lab_sim"]["hosts"].pop(host)
    children["gislab102"] = {"hosts": {host: entry}}
    path.write_text(yaml.safe_dump(data))


@pytest.fixture(scope="module")
def bad_lab(tmp_path_factory) -> Lab:
    lab = make_lab(tmp_path_factory.mktemp("inputs"), "reference", "pro33")
    inventory = lab.dir / "inventory"
    (inventory / "group_vars" / "windows_workstations" / "typos.yml").write_text(yaml.safe_dump(GROUP_VARS))
    (inventory / "host_vars").mkdir(exist_ok=True)
    for host, values in HOST_VARS.items():
        (inventory / "host_vars" / f"{host}.yml").write_text(yaml.safe_dump(values))
    misname_lab_group(lab, PRO)
    return lab


def effects(lab: Lab, host: str) -> list:
    return [e for c in lab.calls(host) for e in c.get("effects") or []]


@pytest.mark.parametrize("playbook", ["playbooks/plan.yml", "site.yml"])
def test_every_bad_input_is_refused_before_any_change(bad_lab: Lab, playbook: str) -> None:
    rc, out, _rows = fleet_run(bad_lab, playbook, EXTRA_VARS)
    assert rc != 0, out
    for host in bad_lab.hosts:
        assert effects(bad_lab, host) == [], f"a bad input changed {host}"
        assert not [c for c in bad_lab.calls(host) if c.get("kind") == "module"][2:], "more than observe ran"
    for hosts, needles in EXPECTED:
        for host in bad_lab.hosts:
            said = "\n".join(messages(out, host))
            for needle in needles:
                assert (needle in said) == (host in hosts), f"{host}: {needle!r}:\n{out}"


def messages(out: str, host: str) -> list[str]:
    """The console's statements of ``host``'s bad inputs: site.yml's per-host failure, or plan.yml's line
    for the hosts that share them ("[2 hosts: a, b] 8 bad input(s) ...")."""
    starts = [m.start() for m in re.finditer(re.escape(host) + r"(?:: |\] )\d+ bad input", out)]
    assert starts, f"no statement of {host}'s bad inputs:\n{out}"
    return [out[i : out.index("Fix them where", i)] for i in starts]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def empty_mirror(tmp_path: Path) -> Iterator[str]:
    """A web server that answers, with nothing in it: every installer is a 404."""
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/conda"
    server.shutdown()


def test_an_installer_missing_from_the_mirror_stops_its_hosts_before_any_change(
    tmp_path_factory, empty_mirror: str
) -> None:
    lab = make_lab(tmp_path_factory.mktemp("mirror404"), "desktop1041")
    rc, out, _rows = fleet_run(lab, "site.yml", {"fleet_package_mirror": empty_mirror})
    assert rc != 0, out
    # Found by the plan, after observe secured Desktop's C:\Python27 for its probe: nothing else changed.
    assert effects(lab, lab.hosts[0]) == [{"op": "secure", "path": "C:\\Python27"}]
    assert f"{empty_mirror}/installers/" in out and "answers HTTP 404 on the mirror" in out, out
    assert "fleet_package_mirror" in out and "Fix: rebuild the mirror" in out


# --- the roles' own checks: one bad input per host (each stops its host), all in one run per playbook ----

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))
from doi_cert_testca import NOW, make_ca, make_server  # noqa: E402

DEMO = str(Path(__file__).resolve().parents[2] / "files" / "demo-lab-root-ca.crt")


def per_host_inputs(tmp: Path) -> list[tuple[dict[str, Any], list[str]]]:
    """(host_vars, what the console must say) per host."""
    expired = make_ca(
        "Expired Root", not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=2)
    )
    (tmp / "expired.cer").write_bytes(expired.der)  # DER: converted, then refused as expired
    (tmp / "leaf.crt").write_bytes(make_server(make_ca()).pem)
    return [
        (
            {"doi_cert_certificates": [{"path": str(tmp / "expired.cer")}], "doi_cert_fingerprints": []},
            ["expired"],
        ),
        (
            {"doi_cert_certificates": [{"path": str(tmp / "leaf.crt")}], "doi_cert_fingerprints": []},
            ["is not a CA certificate"],
        ),
        (
            {"doi_cert_certificates": [{"path": DEMO}], "doi_cert_fingerprints": ["00" * 32]},
            ["doi_cert_fingerprints", "Fix"],
        ),
        (
            {"miniconda_checksums": {"miniconda2-x86": "not-hex"}},
            ["miniconda_checksums", "'not-hex' is not a SHA-256", "Fix: copy the value"],
        ),
        (
            {"miniconda_prefixes": {"miniconda2-x86": "C:\\Mini conda2"}},
            ["'C:\\\\Mini conda2' contains a space", "Fix: use a short absolute path"],
        ),
        # An unknown release (plan.yml, declared) and a bad choice (both playbooks).
        (
            {
                "fleet_arcgis_releases": [{"product": "desktop", "version": "10.9.9"}],
                "doi_cert_ssl_verify": "insecure",
            },
            ["doi_cert_ssl_verify must be one of: bundle, truststore, got: insecure"],
        ),
    ]


@pytest.fixture(scope="module")
def per_host_lab(tmp_path_factory) -> tuple[Lab, dict[str, list[str]]]:
    lab = make_lab(tmp_path_factory.mktemp("perhost"), "desktop1041", per=6)
    host_vars = lab.dir / "inventory" / "host_vars"
    host_vars.mkdir(exist_ok=True)
    expected = {}
    for host, (values, needles) in zip(lab.hosts, per_host_inputs(lab.dir), strict=True):
        declared = {"fleet_arcgis_releases": [{"product": "desktop", "version": "10.4.1"}]}
        (host_vars / f"{host}.yml").write_text(yaml.safe_dump({**declared, **values}))
        expected[host] = needles
    return lab, expected


@pytest.mark.parametrize("playbook", ["playbooks/plan.yml", "site.yml"])
def test_each_roles_own_check_stops_its_host_before_any_change(per_host_lab, playbook: str) -> None:
    lab, expected = per_host_lab
    lab.reset_calls()  # the inventory's own values, host_vars included (fleet_run's -e would override them)
    proc = simlab.run(lab.dir, ["ansible-playbook", playbook], capture_output=True, text=True)
    rc, out = proc.returncode, proc.stdout + proc.stderr
    assert rc != 0, out
    report = lab.dir / "reports" / ("plan" if "plan" in playbook else "latest") / "lab_sim.json"
    errors = {row["host"]: row["error"] for row in json.loads(report.read_text())["hosts"]}
    flat = " ".join(out.split())  # the console, unwrapped
    for host, needles in expected.items():
        # A role's own check runs in the plan: at most observe's securing of Desktop's C:\Python27 came first.
        found = effects(lab, host)
        assert found in ([], [{"op": "secure", "path": "C:\\Python27"}]), f"a bad input changed {host}"
        for needle in needles:
            assert needle in errors[host], f"{host}: {needle!r} not in its error: {errors[host]}"
            assert " ".join(needle.split()) in flat, f"{needle!r} not on the console:\n{out}"
        if "plan" in playbook:  # each reason on one console line with its host
            assert f"[1 host: {host}] " in out, out
    if "plan" in playbook:
        assert "10.9.9" in errors[list(expected)[-1]]


def test_the_licence_is_a_decision_site_stops_without_it_and_fixes_fit_the_host(tmp_path_factory) -> None:
    """Issue 25 item 6 on site.yml: without fleet_anaconda_channels no host changes and each is told the
    choices that fit its ArcGIS; with not_licensed the 32-bit ArcMap host is never sent to Miniforge (it has
    no 32-bit build) and its report still shows the setting in force."""
    lab = make_lab(tmp_path_factory.mktemp("licence"), "desktop1041", "pro33")
    path = lab.dir / "inventory" / "hosts.yml"
    data = yaml.safe_load(path.read_text())
    del data["all"]["children"]["windows_workstations"]["vars"]["fleet_anaconda_channels"]
    path.write_text(yaml.safe_dump(data))
    desktop, pro = lab.hosts
    rc, out, rows = fleet_run(lab, "site.yml")
    assert rc != 0, out
    for host in lab.hosts:
        assert effects(lab, host) == [], f"{host} changed without a licence decision"
        assert rows[host]["status"] == "failed"
        assert any(s.startswith("Anaconda licence: not set") for s in rows[host]["sources"]), rows[host]
    assert out.count("fleet_anaconda_channels is not set") >= 1, out
    assert "https://www.anaconda.com/legal/terms/academic-non-profit" in out
    assert "desktop-10.4.1-32): only Anaconda's channels carry its stack" in out
    assert "pro-3.3.0-64): any of the three" in out

    rc, out, rows = fleet_run(lab, "site.yml", {"fleet_anaconda_channels": "not_licensed"})
    assert rc != 0, out
    # Found by the plan (the stack's bitness), after observe secured Desktop's C:\Python27 for its probe
    # (README "Security model"): nothing else changed.
    assert effects(lab, desktop) == [{"op": "secure", "path": "C:\\Python27"}], "the host changed"
    assert rows[desktop]["status"] == "failed"
    reason = rows[desktop]["error"]
    assert "not_licensed" in reason and "mirror_only" in reason, reason
    assert "Miniforge3 installer" not in reason, reason  # Miniforge has no 32-bit build
    assert rows[desktop]["sources"] == ["Anaconda licence: not_licensed"], rows[desktop]
    # The 64-bit Pro host's fix is the one that fits it: Miniforge3 (or no Miniconda: Pro's own conda).
    assert "Miniforge3 installer" in rows[pro]["error"] and "{pro: none}" in rows[pro]["error"], rows[pro]
    assert rows[pro]["sources"] == ["Anaconda licence: not_licensed"], rows[pro]
    assert effects(lab, pro) == []
