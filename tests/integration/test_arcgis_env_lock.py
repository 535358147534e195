"""Locks with the real py-rattler solver against a conda channel generated on disk."""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_lock import (
    Locker,
    UnsatisfiableError,
    lock_fleet,
    parse_explicit,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_spec import (
    EnvSettings,
    build_spec,
    plan_fleet,
)
from conda_channel import CATALOGUE, MINICONDA2_X86, MINICONDA3_X64, STACKS, build_channel
from rattler.explicit_environment import ExplicitEnvironmentSpec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    return build_channel(tmp_path_factory.mktemp("channel") / "chan")


def settings(channel_url: str, **more) -> EnvSettings:
    return EnvSettings(
        channels=(channel_url,), pro_mode="conda", products=("desktop", "desktop_bgp", "pro"), **more
    )


def fleet_of(n_hosts: int, stack_ids, cfg: EnvSettings):
    hosts = {
        f"pc{i:04d}": {
            "arcgis": [copy.deepcopy(STACKS[stack_ids[i % len(stack_ids)]])],
            "conda_installs": [MINICONDA2_X86, MINICONDA3_X64],
        }
        for i in range(n_hosts)
    }
    return plan_fleet(hosts, cfg)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_desktop_1041_lock_is_an_explicit_file_conda_can_install(channel, tmp_path):
    spec = build_spec(STACKS["desktop-10.4.1-32"], settings(channel.url))
    out = lock_fleet({spec.key: spec}, {}, tmp_path / "locks", Locker(tmp_path / "cache"))
    assert out[spec.key].status == "solved"
    assert (
        json.loads(json.dumps(out[spec.key].to_dict()))["packages"][0]["build"] == "0"
    )  # plain data for Ansible
    text = (tmp_path / "locks" / f"{spec.key}.txt").read_text()
    lines = text.splitlines()
    assert lines[0] == f"# arcgis-conda fleet lock {spec.key}"
    assert "# platform: win-32" in lines
    body = lines[lines.index("@EXPLICIT") + 1 :]
    expected = {
        ("win-32", "python-2.7.14-0.tar.bz2"),
        ("win-32", "numpy-1.9.2-py27_0.tar.bz2"),
        ("win-32", "matplotlib-1.4.3-np19py27_0.tar.bz2"),
        ("win-32", "scipy-0.15.1-np19py27_0.tar.bz2"),
        ("win-32", "ipython-5.8.0-py27_0.tar.bz2"),
        ("win-32", "notebook-5.7.8-py27_0.tar.bz2"),
        ("win-32", "spyder-3.3.6-py27_0.tar.bz2"),
        ("win-32", "tornado-4.5.3-py27_0.tar.bz2"),
        ("noarch", "qtconsole-4.7.7-py_0.tar.bz2"),
        ("noarch", "traitlets-4.3.3-py_0.tar.bz2"),
        ("noarch", "pickleshare-0.7.5-py_0.tar.bz2"),
        ("noarch", "six-1.16.0-pyhd3eb1b0_0.tar.bz2"),
        ("noarch", "python-dateutil-2.8.2-pyhd3eb1b0_0.tar.bz2"),
        ("noarch", "pyparsing-2.4.7-pyhd3eb1b0_0.tar.bz2"),
    }
    assert sorted(body) == sorted(f"{channel.url}/{s}/{f}#{channel.md5(s, f)}" for s, f in expected)
    # dependencies before dependants: conda does not solve an explicit file
    position = {line.rsplit("/", 1)[1].rsplit("-", 2)[0]: i for i, line in enumerate(body)}
    for pkg in CATALOGUE:
        if pkg.name in position and f"{pkg.name}-{pkg.version}-{pkg.build}.tar.bz2" in text:
            for dep in pkg.depends:
                assert position[dep.split()[0]] < position[pkg.name], (dep, pkg.name)
    # an independent parser (py-rattler's) reads the same file
    parsed = ExplicitEnvironmentSpec.from_str(text)
    assert str(parsed.platform) == "win-32"
    assert [p.url for p in parsed.packages] == body
    key, packages = parse_explicit(text)
    assert key == spec.key and [p.line for p in packages] == body


def test_pins_keep_newer_builds_out(channel, tmp_path):
    spec = build_spec(STACKS["desktop-10.4.1-32"], settings(channel.url))
    lock = Locker(tmp_path / "cache").lock(spec)
    versions = {p.name: p.version for p in lock.packages}
    assert versions["numpy"] == "1.9.2"  # 1.11.3 exists
    assert versions["matplotlib"] == "1.4.3"  # 2.2.3 exists


def test_each_distinct_stack_is_solved_exactly_once(channel, tmp_path):
    fleet = fleet_of(60, list(STACKS), settings(channel.url))
    assert len(fleet.specs) == 6
    locker = Locker(tmp_path / "cache")
    out = lock_fleet(fleet.specs, fleet.releases, tmp_path / "locks", locker)
    assert locker.solves == 6
    assert {o.status for o in out.values()} == {"solved"}
    assert sorted(p.name for p in (tmp_path / "locks").iterdir()) == sorted(f"{k}.txt" for k in fleet.specs)
    for spec in fleet.specs.values():  # asking again costs no solve
        locker.lock(spec)
    assert locker.solves == 6

    again = Locker(tmp_path / "cache")
    reused = lock_fleet(fleet.specs, fleet.releases, tmp_path / "locks", again)
    assert again.solves == 0
    assert {o.status for o in reused.values()} == {"reused"}
    assert {k: o.packages for k, o in reused.items()} == {k: o.packages for k, o in out.items()}

    refreshed = Locker(tmp_path / "cache")
    lock_fleet(fleet.specs, fleet.releases, tmp_path / "locks", refreshed, refresh=True)
    assert refreshed.solves == 6


def test_pins_no_channel_carries_fail_naming_package_platform_and_release_and_write_nothing(
    channel, tmp_path
):
    good = STACKS["desktop-10.6.1-32"]
    bad = copy.deepcopy(STACKS["desktop-10.4.1-32"])
    bad["packages"]["numpy"] = "1.9.9"
    fleet = plan_fleet(
        {
            "pc1": {"arcgis": [bad], "conda_installs": [MINICONDA2_X86]},
            "pc2": {"arcgis": [good], "conda_installs": [MINICONDA2_X86]},
        },
        settings(channel.url),
    )
    with pytest.raises(UnsatisfiableError) as err:
        lock_fleet(fleet.specs, fleet.releases, tmp_path / "locks", Locker(tmp_path / "cache"))
    message = str(err.value)
    assert "cannot lock the Python stack of ArcGIS desktop 10.4.1 (desktop-10.4.1-32) for win-32" in message
    assert "no package in the channels satisfies numpy==1.9.9" in message
    assert "matplotlib" not in message.split("satisfies", 1)[1].split("(", 1)[0]
    assert channel.url in message
    assert not (tmp_path / "locks").exists()


def test_pins_that_exist_but_conflict_are_reported_as_such(channel, tmp_path):
    spec = build_spec(STACKS["pro-3.3-64"], settings(channel.url, extra_packages=("pandas",)))
    with pytest.raises(UnsatisfiableError, match="exist but cannot be installed together"):
        Locker(tmp_path / "cache").lock(spec, "ArcGIS pro 3.3 (pro-3.3-64)")


@pytest.mark.parametrize("where", ["missing_dir", "closed_port"])
def test_unreachable_channel_falls_back_to_per_host_create_and_says_so(channel, tmp_path, where):
    url = (
        (tmp_path / "no-such-channel").as_uri()
        if where == "missing_dir"
        else f"http://127.0.0.1:{closed_port()}/pkgs"
    )
    fleet = fleet_of(4, ["desktop-10.4.1-32", "pro-3.3-64"], settings(channel.url))
    unreachable = build_spec(STACKS["pro-3.3-64"], settings(url))
    specs = {**{k: s for k, s in fleet.specs.items() if s.python == "2.7"}, unreachable.key: unreachable}
    locker = Locker(tmp_path / "cache", timeout=2)
    out = lock_fleet(specs, {unreachable.key: ["ArcGIS pro 3.3 (pro-3.3-64)"]}, tmp_path / "locks", locker)
    assert locker.solves == 1
    assert sorted(o.status for o in out.values()) == ["fallback", "solved"]
    message = out[unreachable.key].message
    assert message.startswith("ArcGIS pro 3.3 (pro-3.3-64): cannot read channel " + url)
    assert (
        "run `conda create` with the pins (python=3.11 matplotlib==3.8.0 numpy==1.24.3 scipy==1.11.4"
        in message
    )
    assert not (tmp_path / "locks" / f"{unreachable.key}.txt").exists()


def test_controller_mirror_is_read_but_lock_names_the_hosts_channel(channel, tmp_path):
    public = "https://repo.example.invalid/pkgs/free"
    spec = build_spec(STACKS["desktop-10.4.1-32"], EnvSettings(channels=(public,)))
    lock = Locker(tmp_path / "cache", mirrors={public: channel.url}).lock(spec)
    assert all(
        p.url.startswith(public + "/win-32/") or p.url.startswith(public + "/noarch/") for p in lock.packages
    )
    assert lock.packages[0].md5 == channel.md5("win-32", "python-2.7.14-0.tar.bz2")


def test_package_format_choice(channel, tmp_path):
    modern = build_spec(STACKS["pro-3.3-64"], settings(channel.url))
    legacy = build_spec(STACKS["pro-3.3-64"], settings(channel.url, package_format="tar_bz2"))
    locker = Locker(tmp_path / "cache")
    numpy_modern = next(p for p in locker.lock(modern).packages if p.name == "numpy")
    numpy_legacy = next(p for p in locker.lock(legacy).packages if p.name == "numpy")
    assert numpy_modern.url.endswith("/win-64/numpy-1.24.3-py311_0.conda")
    assert numpy_modern.md5 == channel.md5("win-64", "numpy-1.24.3-py311_0.conda")
    assert numpy_legacy.url.endswith("/win-64/numpy-1.24.3-py311_0.tar.bz2")
    assert locker.solves == 2


def test_lock_files_of_another_spec_are_not_reused(channel, tmp_path):
    spec = build_spec(STACKS["desktop-10.4.1-32"], settings(channel.url))
    locks = tmp_path / "locks"
    locks.mkdir()
    (locks / f"{spec.key}.txt").write_text("# arcgis-conda fleet lock 0000000000000000\n@EXPLICIT\n")
    locker = Locker(tmp_path / "cache")
    out = lock_fleet({spec.key: spec}, {}, locks, locker)
    assert out[spec.key].status == "solved" and locker.solves == 1
    assert Path(out[spec.key].path).read_text().startswith(f"# arcgis-conda fleet lock {spec.key}")


# One planner in its own Python process (a fork would inherit py-rattler's runtime threads mid-state).
PLANNER = """
import json, sys
from pathlib import Path
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths=[sys.argv[1]], scan_sys_paths=True)._install()
sys.path.insert(0, sys.argv[2])
from test_arcgis_env_lock import fleet_of, settings, STACKS
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_lock import Locker, lock_fleet
channel_url, lock_dir, cache, out = sys.argv[3:7]
fleet = fleet_of(12, list(STACKS), settings(channel_url))
locker = Locker(Path(cache))
outcomes = lock_fleet(fleet.specs, fleet.releases, lock_dir, locker)
status = {k: o.status for k, o in outcomes.items()}
Path(out).write_text(json.dumps({"solves": locker.solves, "status": status}))
"""


def test_two_planners_sharing_the_lock_folder_at_once_solve_each_stack_once(channel, tmp_path):
    """The slices of one AWX sliced job plan at the same time over one state folder (issue 26 item 6): the
    second waits for the first's solve and reuses its locks, so each stack has one lock, solved once."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    lock_dir = tmp_path / "state" / ".cache" / "locks"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                PLANNER,
                str(root / "collections"),
                str(Path(__file__).parent),
                channel.url,
                str(lock_dir),
                str(tmp_path / f"cache{n}"),
                str(tmp_path / f"out{n}.json"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in (1, 2)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
    results = [json.loads((tmp_path / f"out{n}.json").read_text()) for n in (1, 2)]
    assert sorted(r["solves"] for r in results) == [0, 6], results
    statuses = sorted({s for r in results for s in r["status"].values()})
    assert statuses == ["reused", "solved"], results
    assert len(list(lock_dir.glob("*.txt"))) == 6
