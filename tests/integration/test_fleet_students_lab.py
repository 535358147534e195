"""Students keep what the original page promised (issue 24), on simulated workstations after site.yml.

As ``student1`` (a plain user), with the lab's own conda and the env's own Python, on the Desktop 10.4.1 +
Pro 3.3 host (``reference``: the ArcMap stack through Miniconda2, the Pro stack through Pro's conda) and on a
Pro-only host (``pro33``): clone a lab env under their own name (it lands in their profile; the lab's
folders refuse them), install a package into it, try a package that would move numpy (conda with the
clone's pins, pip with the env's constraints), ``pip install --user`` from the env's Python, link the env
to their bridge with the shipped command (ArcMap's Python; on Pro the README and the command name Esri's way,
the active environment, as Pro has no bridge to link), and look from ArcGIS's Python as student1, as
student2 and as an administrator. Then the admin's site.yml re-run is a no-op with zero escalation events.

Everything the student runs is the simulator's model of conda, pip and Python (tests/simwin: conda_config.py,
pip_model.py, hook.py, each rule with its source); the bridge's hook and command are the shipped code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from simwin import programs
from simwin.host import Host
from simwin.testing import Lab, fleet_run, make_lab, open_escalations

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PROBE = (REPO / "plugins" / "module_utils" / "arcgis_probe.py").read_bytes()
VERIFY = (REPO / "roles" / "startup_bridge" / "files" / "arcgis_conda_bridge_verify.py").read_bytes()


@dataclass(frozen=True)
class Stack:
    conda: str
    lab_env: str
    lab_prefix: str
    arcgis_python: str
    clone_flags: tuple[str, ...]
    conda_package: str  # installs into the clone
    numpy_by_conda: str  # a package whose build needs a newer numpy
    numpy_by_pip: str
    user_package: str
    numpy: str  # ArcGIS's

    @property
    def mine(self) -> str:
        return "my" + self.lab_env


DESKTOP = Stack(
    conda="C:\\Miniconda2\\Scripts\\conda.exe",
    lab_env="arc1041",
    lab_prefix="C:\\Miniconda2\\envs\\arc1041",
    arcgis_python="C:\\Python27\\ArcGIS10.4\\python.exe",
    clone_flags=(),
    conda_package="geojson",
    numpy_by_conda="pandas=0.24.2",
    numpy_by_pip="pandas==0.24.2",
    user_package="tabulate==0.8.10",
    numpy="1.9.2",
)
PRO = Stack(
    conda="C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\Scripts\\conda.exe",
    lab_env="arcpro33",
    lab_prefix="C:\\ProgramData\\arcgis-conda\\envs\\arcpro33",
    arcgis_python="C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\envs\\arcgispro-py3\\python.exe",
    clone_flags=("--pinned",),
    conda_package="geojson",
    numpy_by_conda="xarray",
    numpy_by_pip="opencv-python==4.12.0.88",
    user_package="tabulate",
    numpy="1.24.3",
)
STACKS = {"desktop": DESKTOP, "pro": PRO}
CASES = [("reference", "desktop"), ("reference", "pro"), ("pro33", "pro")]
IDS = [f"{s}-{k}" for s, k in CASES]


@dataclass
class Flow:
    lab: Lab
    stack: Stack
    steps: dict[str, programs.Result] = field(default_factory=dict)
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    admin_verify: dict[str, Any] = field(default_factory=dict)
    numpy_after_pip: str | None = None
    numpy_after_conda: str | None = None
    profile: str = ""
    readme: str = ""

    @property
    def clone(self) -> str:
        return f"{self.profile}\\.conda\\envs\\{self.stack.mine}"


def _package(name: str) -> str:
    return name.split("=")[0].split("<")[0].split(">")[0]


def run(host: Host, user: str, argv: list[str], env: dict[str, str] | None = None) -> programs.Result:
    return programs.run_program(host, host.principal(user), argv, env=env)


def probe(host: Host, user: str, python: str, packages: list[str]) -> dict[str, Any]:
    """The repository's probe, copied by that account into their profile and run with ArcGIS's Python."""
    script = host.profile_dir(user) + "\\probe.py"
    host.write(script, PROBE, host.principal(user))
    result = run(host, user, [python, script, *packages])
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)["packages"]


def student_flow(lab: Lab, stack: Stack) -> Flow:
    flow = Flow(lab, stack)
    with lab.edit() as host:
        flow.profile = host.profile_dir("student1")
        steps = flow.steps
        steps["clone"] = run(
            host,
            "student1",
            [stack.conda, "create", "-n", stack.mine, "--clone", stack.lab_env, *stack.clone_flags],
        )
        python = "python=2.7" if stack is DESKTOP else "python=3.11"
        steps["create"] = run(
            host, "student1", [stack.conda, "create", "-n", f"scratch{stack.lab_env}", python, "-y"]
        )
        steps["env_list"] = run(host, "student1", [stack.conda, "env", "list"])
        steps["env_list_student2"] = run(host, "student2", [stack.conda, "env", "list"])
        steps["lab_install"] = run(
            host, "student1", [stack.conda, "install", "-p", stack.lab_prefix, "geojson"]
        )
        lab_folder = stack.lab_prefix.rsplit("\\", 1)[0]
        steps["lab_create"] = run(
            host, "student1", [stack.conda, "create", "-p", f"{lab_folder}\\mine", "python", "-y"]
        )
        steps["install"] = run(
            host, "student1", [stack.conda, "install", "-n", stack.mine, "geojson", "pip", "-y"]
        )
        mine = f"{flow.clone}\\python.exe"
        steps["pip_numpy"] = run(host, "student1", [mine, "-m", "pip", "install", stack.numpy_by_pip])
        flow.numpy_after_pip = _numpy(host, flow.clone)
        steps["pip_user"] = run(
            host, "student1", [mine, "-m", "pip", "install", "--user", stack.user_package]
        )
        flow.readme = host.read_bytes(
            f"{stack.lab_prefix}\\README-students.txt", host.principal("student1")
        ).decode()
        if stack is DESKTOP:
            steps["link"] = run(
                host, "student1", [stack.arcgis_python, "-m", "arcgis_conda_bridge", "add", stack.mine]
            )
        elif host.is_file(DESKTOP.arcgis_python):  # the bridge's command (ArcMap's), pointed at the Pro clone
            steps["link"] = run(
                host, "student1", [DESKTOP.arcgis_python, "-m", "arcgis_conda_bridge", "add", flow.clone]
            )
        wanted = [stack.conda_package, _package(stack.user_package)]
        for user in ("student1", "student2", "svc_fleet"):
            flow.seen[user] = probe(host, user, stack.arcgis_python, wanted)
        # An administrator's Python pointed at student1's profile (the worst case for the admin's verify):
        # the hook must not read that student's entries in an elevated process.
        script = host.profile_dir("svc_fleet") + "\\verify.py"
        host.write(script, VERIFY, host.principal("svc_fleet"))
        site = f"{flow.clone}\\Lib\\site-packages"
        verify = run(
            host,
            "svc_fleet",
            [stack.arcgis_python, script, "--expect", site],
            env={"USERPROFILE": flow.profile},
        )
        assert verify.rc == 0, verify.stderr
        flow.admin_verify = json.loads(verify.stdout.split(programs.VERIFY_MARKER, 1)[1])
        steps["conda_numpy"] = run(
            host, "student1", [stack.conda, "install", "-n", stack.mine, stack.numpy_by_conda, "-y"]
        )
        flow.numpy_after_conda = _numpy(host, flow.clone)
    return flow


def _numpy(host: Host, prefix: str) -> str | None:
    record = programs.conda_records(host, prefix).get("numpy")
    return str(record["version"]) if record else None


@dataclass
class Outcome:
    flows: dict[str, Flow]
    rerun: tuple[int, str, dict[str, Any]]
    lab: Lab
    events_before_rerun: int


@pytest.fixture(scope="module")
def labs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    cache: dict[str, Outcome] = {}

    def get(scenario: str) -> Outcome:
        if scenario not in cache:
            lab = make_lab(tmp_path_factory.mktemp(f"students-{scenario}"), scenario)
            rc, out, _ = fleet_run(lab, "site.yml")
            assert rc == 0, out
            flows = {key: student_flow(lab, STACKS[key]) for s, key in CASES if s == scenario}
            before = (lab.state() / "events.jsonl").stat().st_size
            cache[scenario] = Outcome(flows, fleet_run(lab, "site.yml"), lab, before)
        return cache[scenario]

    return get


@pytest.fixture(params=CASES, ids=IDS)
def flow(request: pytest.FixtureRequest, labs: Any) -> Flow:
    scenario, key = request.param
    return labs(scenario).flows[key]


def test_the_clone_lands_in_the_students_profile_and_the_lab_folders_refuse_them(flow: Flow) -> None:
    steps, stack = flow.steps, flow.stack
    assert steps["clone"].rc == 0, steps["clone"].stderr
    assert f"Destination: {flow.clone}" in steps["clone"].stdout
    listed = steps["env_list"].stdout
    for name, where in ((stack.lab_env, stack.lab_prefix), (stack.mine, flow.clone)):
        assert any(line.split()[:1] == [name] and line.endswith(where) for line in listed.splitlines()), (
            listed
        )
    assert flow.clone not in steps["env_list_student2"].stdout, "student2 must not list student1's env"
    scratch = f"{flow.profile}\\.conda\\envs\\scratch{stack.lab_env}"
    assert steps["create"].rc == 0, steps["create"].stderr
    assert flow.lab.host().is_file(f"{scratch}\\python.exe") and scratch in listed
    assert steps["lab_install"].rc == 1
    assert "EnvironmentNotWritableError" in steps["lab_install"].stderr
    assert steps["lab_create"].rc == 1 and "is denied" in steps["lab_create"].stderr
    host = flow.lab.host()
    # conda's downloads went to the student's own cache, never a machine cache.
    assert host.is_file(f"{flow.profile}\\.conda\\pkgs\\urls.txt")
    assert not any("geojson" in key for key in host.fs() if not key.startswith("c:\\users\\student1\\"))


def test_a_package_goes_into_the_clone(flow: Flow) -> None:
    install = flow.steps["install"]
    assert install.rc == 0, install.stderr
    records = programs.conda_records(flow.lab.host(), flow.clone)
    assert {"geojson", "pip"} <= set(records)


def test_pip_in_the_clone_keeps_arcgis_numpy(flow: Flow) -> None:
    result = flow.steps["pip_numpy"]
    assert flow.numpy_after_pip == flow.stack.numpy
    if flow.stack is PRO:  # pip 24: the 2020 resolver refuses, naming the clone's own constraint
        assert result.rc == 1 and "ResolutionImpossible" in result.stderr
        assert f"The user requested (constraint) numpy=={flow.stack.numpy}" in result.stdout
    else:  # pip 19.3 on Python 2.7: the legacy resolver installs pandas, keeps numpy, prints the conflict
        assert "has requirement numpy>=1.12.0, but you'll have numpy 1.9.2" in result.stderr


def test_conda_pins_in_the_clone_refuse_a_numpy_upgrade(flow: Flow) -> None:
    """Pro: the clone's conda-meta\\pinned (Esri's conda copies it with --pinned). Desktop: upstream conda's
    --clone copies no conda-meta\\pinned, so Miniconda2's own condarc.d pins every env it makes."""
    result = flow.steps["conda_numpy"]
    assert result.rc == 1 and "SpecsConfigurationConflictError" in result.stderr, result.stdout
    assert f"numpy =={flow.stack.numpy}" in result.stderr
    assert flow.numpy_after_conda == flow.stack.numpy


def test_pip_user_goes_to_the_students_user_site_of_that_python(flow: Flow) -> None:
    result = flow.steps["pip_user"]
    assert result.rc == 0, result.stderr
    folder = "Python27" if flow.stack is DESKTOP else "Python311"
    user_site = f"{flow.profile}\\AppData\\Roaming\\Python\\{folder}\\site-packages"
    name = _package(flow.stack.user_package)
    assert any(
        c["path"].lower().startswith(f"{user_site}\\{name}-".lower())
        for c in flow.lab.host().children(user_site)
    )


def test_pro_students_are_told_the_pro_way_and_the_bridge_refuses_a_pro_env(flow: Flow) -> None:
    """arcgispro-py3 is never written (issue 13 item 3), so Pro has no bridge to link: Pro uses a student's
    clone as their active environment (Package Manager, proswap); the clone imports arcpy on its own."""
    stack = flow.stack
    if stack is DESKTOP:
        assert (
            f"python -m arcgis_conda_bridge add {stack.mine}" in flow.readme and "proswap" not in flow.readme
        )
        return
    assert "arcgis_conda_bridge" not in flow.readme and f"proswap {stack.mine}" in flow.readme
    link = flow.steps.get("link")
    if link is not None:  # a host with ArcMap's bridge too: its command names Pro's way, writes nothing
        assert link.rc == 1 and "is an ArcGIS Pro env" in link.stdout, link.stdout + link.stderr
        assert f"proswap {stack.mine}" in link.stdout
        data = f"{flow.profile}\\.arcgis-conda\\bridge.json"
        host = flow.lab.host()
        text = host.read_bytes(data, host.principal("student1")).decode() if host.is_file(data) else ""
        assert stack.mine not in text, text
    # Nothing of student1's clone reaches Pro's own Python, for anyone; their `pip --user` package does, for
    # student1 only (the user site of that Python version, read by every such Python of theirs).
    user_package = _package(stack.user_package)
    assert flow.seen["student1"][stack.conda_package] is None
    assert flow.seen["student1"][user_package] is not None
    for other in ("student2", "svc_fleet"):
        assert set(flow.seen[other].values()) == {None}, (other, flow.seen[other])


def test_arcgis_python_sees_the_students_packages_for_that_student_only(flow: Flow) -> None:
    if flow.stack is PRO:
        pytest.skip(
            "Pro has no bridge: see test_pro_students_are_told_the_pro_way_and_the_bridge_refuses_a_pro_env"
        )
    link = flow.steps["link"]
    assert link.rc == 0, link.stdout + link.stderr
    stack, user_package = flow.stack, _package(flow.stack.user_package)
    assert flow.seen["student1"][stack.conda_package] is not None, "student1 must see their env's package"
    assert flow.seen["student1"][user_package] is not None
    for other in ("student2", "svc_fleet"):
        assert flow.seen[other] == {stack.conda_package: None, user_package: None}, other


def test_an_administrators_python_never_reads_a_students_entries(flow: Flow) -> None:
    report = flow.admin_verify
    site = f"{flow.clone}\\Lib\\site-packages"
    assert report["expect"][0]["index"] is None, f"{site} on an administrator's sys.path"
    assert site.lower() not in [p.lower() for p in report["path"]]
    runs = (report.get("bridge") or {}).get("runs") or []
    users = [r for r in runs if r.get("user")]
    if flow.stack is DESKTOP:  # ArcMap's Python has the hook: it found student1's file and refused it
        assert users and "an elevated or administrator's process" in users[0]["error"], runs


@pytest.mark.parametrize("scenario", ["reference", "pro33"])
def test_the_admins_rerun_is_a_no_op_with_zero_escalations(labs: Any, scenario: str) -> None:
    outcome = labs(scenario)
    rc, out, rows = outcome.rerun
    assert rc == 0, out
    host = outcome.lab.hosts[0]
    assert "changed=0" in out and rows[host].get("planned", []) == [], out
    with open(outcome.lab.state() / "events.jsonl", encoding="utf-8") as handle:
        handle.seek(outcome.events_before_rerun)
        events = handle.read()
    assert open_escalations(events) == []
    # Nothing the admin started ran, loaded or trusted a student's folder.
    starts = [json.loads(line) for line in events.splitlines() if line.strip()]
    assert not [e for e in starts if "\\users\\student" in json.dumps(e).lower()]
