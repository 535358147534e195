"""The fault run of issue 27's "Done when": a simulated lab where a fifth of the hosts go wrong in the ways
labs do (conda create fails, the connection drops after the installer, a step hangs past the fleet's
timeout, a student planted the files the roles replace), run until it converges, checking after every run
that each host's report row is true and that nothing a user owned was lost.

A row is true when an independent look agrees with it: ``verify.yml`` (read-only, its own judgement of each
role) passes exactly on the hosts the run reported ``ok``/``changed``/``nothing managed``, and every other
host is in the run's retry file. Used by ``tests/integration/test_fleet_faults.py`` (a small lab) and
``benchmarks/bench_faults.py`` (40 hosts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .testing import Lab, fleet_run, make_lab

GOOD = {"ok", "changed", "nothing managed"}
KINDS = ("create_fails", "drops", "hangs", "planted")
FAULTS: dict[str, dict[str, Any]] = {
    "create_fails": {
        "module_fails": [
            {
                "module": "ansible.windows.win_command",
                "argv_contains": "create",
                "times": 1,
                "msg": "CondaHTTPError",
            }
        ]
    },
    "drops": {"drop_connection_after": {"module": "ansible.windows.win_package", "times": 1}},
    "hangs": {"delay": {"module": "ansible.windows.win_package", "seconds": 60, "times": 1}},
}
# Files a student may create where the roles write (ProgramData subfolders let Users create files).
PLANTED = ("C:\\ProgramData\\conda\\.condarc", "C:\\ProgramData\\pip\\pip.ini")
TIMEOUT = 8  # fleet_task_timeout for these runs: a hang ends quickly


@dataclass
class Step:
    playbook: str
    rc: int
    status: dict[str, str]
    verified: dict[str, bool]
    retry: list[str]
    problems: list[str] = field(default_factory=list)


def build(directory: Path, scenarios: list[str], per: int, every: int = 5) -> tuple[Lab, dict[str, str]]:
    """The lab, and which hosts get which fault: every ``every``-th host, the kinds in turn."""
    lab = make_lab(directory, *scenarios, per=per)
    faulty: dict[str, str] = {}
    for n, name in enumerate(lab.hosts):
        if n % every == every - 1:
            faulty[name] = KINDS[len(faulty) % len(KINDS)]
    for name, kind in faulty.items():
        with lab.edit(name) as host:
            if kind == "planted":
                student = host.as_user("student1")
                for path in PLANTED:
                    folder = path.rsplit("\\", 1)[0]
                    if not host.exists(folder):
                        student.mkdir(folder)
                    student.write_file(path, f"# {name}: student1's own {path}\nssl_verify: false\n".encode())
            else:
                host.state["faults"] = FAULTS[kind]
    return lab, faulty


def planted_files(lab: Lab, faulty: dict[str, str]) -> dict[str, dict[str, bytes]]:
    out = {}
    for name, kind in faulty.items():
        if kind == "planted":
            host = lab.host(name)
            out[name] = {p: host.node_bytes(host.node(p)) for p in PLANTED}
    return out


def step(
    lab: Lab, playbook: str, variables: dict[str, Any]
) -> tuple[int, dict[str, dict[str, Any]], list[str]]:
    rc, out, rows = fleet_run(lab, playbook, variables)
    retry_file = lab.dir / "reports" / "latest" / "failed_hosts.txt"
    retry = retry_file.read_text().split() if retry_file.exists() else []
    if not rows:
        raise AssertionError(f"{playbook} wrote no report (rc {rc}):\n{out[-3000:]}")
    return rc, rows, retry


def run_and_check(lab: Lab, variables: dict[str, Any]) -> Step:
    """site.yml, then verify.yml as the independent look; the problems where a row is not true."""
    rc, rows, retry = step(lab, "site.yml", variables)
    status = {h: str(rows.get(h, {}).get("status", "missing")) for h in lab.hosts}
    _vrc, vrows, _vretry = step(lab, "playbooks/verify.yml", variables)
    verified = {h: vrows.get(h, {}).get("status") in GOOD for h in lab.hosts}
    problems = []
    for host in lab.hosts:
        good = status[host] in GOOD
        if good and not verified[host]:
            problems.append(f"{host}: reported {status[host]} but verify.yml finds it not converged")
        if not good and host not in retry:
            problems.append(f"{host}: reported {status[host]} but left out of the retry file")
        if good and host in retry:
            problems.append(f"{host}: reported {status[host]} yet in the retry file")
    if rc == 0 and any(s not in GOOD for s in status.values()):
        problems.append(
            f"site.yml exited 0 with hosts {sorted(h for h, s in status.items() if s not in GOOD)}"
        )
    return Step("site.yml", rc, status, verified, retry, problems)


def lost(lab: Lab, before: dict[str, dict[str, bytes]]) -> list[str]:
    """Planted files found nowhere byte-identical: where they were, a ``.untrusted*`` beside them, or in a
    folder above them that was moved aside whole (a folder a user made, ``<folder>.untrusted*``)."""
    missing = []
    for name, files in before.items():
        host = lab.host(name)
        for path, data in files.items():
            candidates = [path]
            parts = path.split("\\")
            for cut in range(len(parts) - 1, 1, -1):  # the file itself, then each folder above it
                moved, rest = "\\".join(parts[: cut + 1]), "\\".join(parts[cut + 1 :])
                folder = moved.rsplit("\\", 1)[0]
                beside = [str(c["path"]) for c in host.children(folder)] if host.is_dir(folder) else []
                for other in beside:
                    if other.lower().startswith(moved.lower() + ".untrusted"):
                        candidates.append(other + ("\\" + rest if rest else ""))
            if not any(host.is_file(p) and host.node_bytes(host.node(p)) == data for p in candidates):
                missing.append(f"{name}: {path}")
    return missing


def converge(lab: Lab, faulty: dict[str, str], runs: int = 2, **variables: Any) -> list[Step]:
    """Run until every host is good (at most ``runs``), checking every row each time."""
    settings = {"fleet_task_timeout": TIMEOUT, **variables}
    before = planted_files(lab, faulty)
    steps = []
    for _n in range(runs):
        found = run_and_check(lab, settings)
        found.problems += [f"lost: {x}" for x in lost(lab, before)]
        steps.append(found)
        if all(s in GOOD for s in found.status.values()):
            break
    return steps
