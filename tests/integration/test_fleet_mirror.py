"""playbooks/mirror.yml for real: 40 hosts, 3 stacks, an upstream and a mirror HTTP server on 127.0.0.1.

The upstream server's own request log is the measure: every file the locks need is requested once, a
re-run requests none, a file corrupted in transit is refused; the mirror's repodata (written by
py-rattler's indexer) lists exactly the locked files with the upstream's hashes; and what the hosts are
told to install (locks, plan sources) names only the mirror.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path

import mirror_lab as ml
import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_mirror as fm
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_lock import parse_explicit

pytestmark = pytest.mark.slow
HOSTS = 40


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("mirror-lab")
    upstream = ml.serve(root / "upstream")
    sums = ml.build_upstream(root / "upstream")
    web = ml.serve(root / "web")
    mirror = f"{web.url}/conda"
    inventory = ml.write_inventory(root / "hosts.yml", HOSTS, upstream.url, mirror, sums)
    yield {"root": root, "upstream": upstream, "web": web, "mirror": mirror, "inventory": inventory}
    upstream.stop()
    web.stop()


def run(lab, playbook: str, *extra: str) -> subprocess.CompletedProcess[str]:
    argv, env = ml.playbook_command(lab["root"], lab["inventory"], playbook)
    return subprocess.run(
        [*argv, *extra], env={**os.environ, **env}, capture_output=True, text=True, check=False
    )


def mirror_result(proc: subprocess.CompletedProcess[str]) -> dict:
    return ml.playbook_result(proc.stdout, "Download")


def locked(root: Path) -> dict[str, str]:
    """Every lock line: mirror-relative path -> md5."""
    out = {}
    for lock in sorted((root / ".cache" / "locks").glob("*.txt")):
        for package in parse_explicit(lock.read_text())[1]:
            out[package.url] = package.md5
    return out


def test_the_mirror_holds_exactly_the_locked_files_each_fetched_once(lab):
    upstream = lab["upstream"]
    first = run(lab, "playbooks/mirror.yml")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    result = mirror_result(first)["mirror"]
    lines = locked(lab["root"])
    assert (
        len(result["locks"]) == 3
    )  # desktop 32-bit, its 64-bit Background Geoprocessing, the Pro clone's tools
    # Hosts are told to install from the mirror only.
    assert lines and all(url.startswith(lab["mirror"] + "/") for url in lines)
    needed = {url[len(lab["mirror"]) :] for url in lines}
    needed |= {f"/miniconda/{file}" for file in ml.INSTALLERS.values()}
    requested = upstream.package_requests()
    assert sorted(requested) == sorted(needed)
    assert len(requested) == len(set(requested)) == result["fetched"]
    assert result["fetched_bytes"] == sum(
        (upstream.root / r.lstrip("/")).stat().st_size for r in upstream.package_requests()
    )
    # The Pro clone's added tools come from Esri's channel first.
    assert any("/esri/win-64/spyder-5.4.3-py311_esri_0.tar.bz2" in url for url in lines)

    dest = lab["root"] / "web" / "conda"
    for channel in ("pkgs/free", "pkgs/main", "esri"):
        index = fm.read_index(dest, channel)
        expected = {u[len(lab["mirror"]) + len(channel) + 2 :] for u in lines if f"/conda/{channel}/" in u}
        assert set(index) == expected, channel
        upstream_index = fm.read_index(upstream.root, channel)
        for rel, record in index.items():
            assert record["md5"] == upstream_index[rel]["md5"] == lines[f"{lab['mirror']}/{channel}/{rel}"]
            assert record["sha256"] == upstream_index[rel]["sha256"]
    # Channels the hosts' condarc names exist, empty.
    assert (
        fm.read_index(dest, "pkgs/r") == {} and (dest / "pkgs" / "r" / "noarch" / "repodata.json").is_file()
    )

    # Served by the mirror server: what a host would download.
    mirror_requests_before = len(lab["web"].requests)
    some = next(iter(lines))

    with urllib.request.urlopen(some) as response:
        assert fm.Wanted("x", some, md5=lines[some]).problem(response.read()) == ""
    assert len(lab["web"].requests) == mirror_requests_before + 1

    # A re-run fetches nothing.
    before = len(upstream.package_requests())
    again = run(lab, "playbooks/mirror.yml")
    assert again.returncode == 0, again.stdout[-3000:]
    assert mirror_result(again)["mirror"]["fetched"] == 0
    assert mirror_result(again)["changed"] is False
    assert len(upstream.package_requests()) == before


def test_a_file_corrupted_in_transit_is_refused_then_fetched_once_when_sound(lab):
    if not (lab["root"] / ".cache" / "locks").is_dir():
        assert run(lab, "playbooks/mirror.yml").returncode == 0
    dest = lab["root"] / "web" / "conda"
    victim = "pkgs/main/win-64/numpy-1.24.3-py311_0.tar.bz2"
    (dest / victim).unlink()
    upstream = lab["upstream"]
    upstream.corrupt.add(f"/{victim}")
    try:
        bad = run(lab, "playbooks/mirror.yml")
    finally:
        upstream.corrupt.clear()
    assert bad.returncode != 0
    result = mirror_result(bad)
    assert result["failed"] is True
    assert any(
        r.startswith(victim) and "md5" in r and "not written" in r for r in result["mirror"]["refused"]
    )
    assert not (dest / victim).exists()
    assert f"win-64/{victim.rsplit('/', 1)[1]}" not in fm.read_index(dest, "pkgs/main")
    before = list(upstream.package_requests())
    good = run(lab, "playbooks/mirror.yml")
    assert good.returncode == 0, good.stdout[-3000:]
    assert upstream.package_requests()[len(before) :] == [f"/{victim}"]
    assert f"win-64/{victim.rsplit('/', 1)[1]}" in fm.read_index(dest, "pkgs/main")


def test_the_plan_names_only_the_mirror_as_every_hosts_source(lab):
    if not (lab["root"] / ".cache" / "locks").is_dir():
        assert run(lab, "playbooks/mirror.yml").returncode == 0
    reports = lab["root"] / "reports" / "plan"  # the mirror lab's fleet state
    proc = run(lab, "playbooks/plan.yml", "-e", "fleet_plan_lock=true")
    assert proc.returncode == 0, proc.stdout[-3000:]
    rows = [
        row
        for lab_file in sorted(reports.glob("lab_*.json"))
        for row in json.loads(lab_file.read_text())["hosts"]
    ]
    assert len(rows) == HOSTS
    for row in rows:
        assert row["status"] == "ok", row["error"]
        sources = row["sources"]
        assert sources[0] == f"Anaconda licence: mirror_only, hosts read only the mirror {lab['mirror']}"
        urls = [w.strip(",()") for line in sources[1:] for w in line.split() if "://" in w]
        assert urls and all(u == lab["mirror"] or u.startswith(lab["mirror"] + "/") for u in urls), sources
    # The plan reused the mirror's locks: no new solve wrote other URLs.
    assert all(url.startswith(lab["mirror"] + "/") for url in locked(lab["root"]))


# --- a simulated workstation installs from the mirror only ------------------------------------------------

LOCKS = "C:\\ProgramData\\arcgis-conda\\arcgis_env\\locks"
CONDARC = "C:\\ProgramData\\conda\\.condarc"
SHARE = "\\\\fileserver\\installers\\conda-mirror"


@pytest.mark.parametrize("where", ["web", "share"])
def test_a_simulated_workstation_reads_only_the_mirror(lab, tmp_path, where):
    """site.yml on the simulated reference workstation (Desktop 10.4.1 + Pro 3.3): Anaconda's installer URLs
    are removed from its network, so only the mirror can serve it; with the mirror on a UNC share, every
    read of it runs with runas new_credentials (the second hop)."""
    from simwin import lab as simlab
    from simwin.testing import make_lab

    sim = make_lab(tmp_path / "sim", "reference")
    mirror = lab["mirror"] if where == "web" else SHARE
    url = lab["mirror"] if where == "web" else "file://fileserver/installers/conda-mirror"
    with sim.edit() as host:
        network = host.state["network"]
        for source in [u for u in network if u.startswith("https://repo.anaconda.com/miniconda/")]:
            entry = network.pop(source)
            name = source.rsplit("/", 1)[1]
            if where == "web":
                network[f"{mirror}/installers/{name}"] = entry
            else:
                system = host.principal("SYSTEM", network=True)
                host.mkdir(f"{SHARE}\\installers", system, parents=True)
                host.write(f"{SHARE}\\installers\\{name}", None, system, synthetic=entry)
    upstream = lab["upstream"].url
    variables = {
        "doi_cert_certificates": [{"path": str(Path("files/demo-lab-root-ca.crt").resolve())}],
        "fleet_anaconda_channels": "mirror_only",
        "fleet_package_mirror": mirror,
        "fleet_esri_channel": f"{upstream}/esri",
        "arcgis_env_channel_base": f"{upstream}/pkgs",
        "arcgis_env_package_format": "tar_bz2",
        "fleet_share_user": "LAB\\svc_fleet",
        "fleet_share_password": "not-a-real-password",
        # The installers sit in the simulated host's network only, not in this test's web root, so the
        # controller's own check of the mirror's installers (issue 25) would rightly find them missing.
        "fleet_mirror_check": False,
    }
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    proc = simlab.run(
        sim.dir,
        ["ansible-playbook", "site.yml", "-e", f"@{tmp_path / 'vars.json'}"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    host = sim.host()
    admin = host.principal("svc_fleet")
    locks = [n["path"] for n in host.children(LOCKS) if n["path"].endswith(".txt")]
    assert len(locks) == 1  # the Desktop env; the Pro clone adds its tools with conda's own solve
    lines = [
        line
        for line in host.read_bytes(locks[0], admin).decode().splitlines()
        if "://" in line and not line.startswith("#")
    ]
    assert lines and all(line.startswith(url + "/pkgs/") for line in lines), lines
    condarc = host.read_bytes(CONDARC, admin).decode()
    assert f'channel_alias: "{url}"' in condarc and "repo.anaconda.com" not in condarc
    commands = [
        (call, effect["argv"])
        for call in sim.calls()
        for effect in call.get("effects") or []
        if effect.get("op") == "command" and "conda.exe" in effect["argv"][0]
    ]
    channel_args = [a for _, argv in commands for a in argv if "://" in a]
    assert channel_args and all(a.startswith(url + "/") for a in channel_args), channel_args
    if where == "share":
        assert all(call["become"] for call, _ in commands)  # runas new_credentials: conda reads the share
        copies = [c for c in sim.calls() if c.get("module") == "ansible.windows.win_copy"]
        assert copies and all(c["become"] for c in copies)
