"""Helpers for tests that drive the simulated lab with real ansible-playbook runs."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import invariant, lab
from .calls import calls, reset_calls
from .host import Host

DEMO_CA = lab.REPO / "files" / "demo-lab-root-ca.crt"


def open_escalations(text: str) -> list[dict[str, Any]]:
    """The escalation records in events.jsonl text (no exemption: every one fails a test)."""
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [r for r in records if r["kind"] == "escalation"]


def secure_arcgis_pythons(lab: Lab) -> None:
    """The state a first run's observe leaves before it probes: ArcGIS Desktop's C:\\Python27 secured (the
    host script's secure operation), for check-mode tests that need the Desktop Python measured."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh

    from . import scripts
    from .modules import Ctx

    for name in lab.hosts:
        with lab.edit(name) as sim:
            if sim.is_dir("C:\\Python27"):
                ctx = Ctx(
                    sim, sim.principal(None), False, "C:\\Windows\\Temp", "ansible.windows.win_powershell"
                )
                scripts.apply_files(ctx, {"Items": [fh.secure_item("C:\\Python27")]})


def fleet_run(
    simlab: Lab, playbook: str, variables: dict[str, Any] | None = None, *extra: str
) -> tuple[int, str, dict[str, dict[str, Any]]]:
    """Run one of the repository's playbooks on the lab with the example's demo CA (and ``variables``)
    as extra vars: exit code, output, and this run's fleet_progress report rows by host."""
    vars_file = simlab.dir / "extra.json"
    vars_file.write_text(json.dumps({"doi_cert_certificates": [{"path": str(DEMO_CA)}], **(variables or {})}))
    simlab.reset_calls()
    # Each run writes reports/<timestamp>-<playbook>/ and points reports/latest at it: without the link,
    # a run that wrote no report leaves none to read.
    (simlab.dir / "reports" / "latest").unlink(missing_ok=True)
    report = simlab.dir / "reports" / "latest" / "lab_sim.json"
    proc = lab.run(
        simlab.dir,
        ["ansible-playbook", playbook, "-e", f"@{vars_file}", *extra],
        capture_output=True,
        text=True,
    )
    rows = json.loads(report.read_text())["hosts"] if report.exists() else []
    return proc.returncode, proc.stdout + proc.stderr, {row["host"]: row for row in rows}


@dataclass
class Lab:
    dir: Path
    hosts: list[str]

    def state(self, host: str | None = None) -> Path:
        return self.dir / "state" / (host or self.hosts[0])

    def host(self, host: str | None = None) -> Host:
        return Host(self.state(host))

    def calls(self, host: str | None = None) -> list[dict[str, Any]]:
        return calls(self.state(host))

    def events(self, host: str | None = None) -> list[dict[str, Any]]:
        """The security rule's records: programs the admin session started, escalation events."""
        return invariant.events(self.state(host))

    def escalations(self, host: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events(host) if e["kind"] == "escalation"]

    def reset_calls(self) -> None:
        for name in self.hosts:
            reset_calls(self.state(name))

    def edit(self, host: str | None = None) -> Any:
        """``with lab.edit() as h: ...`` changes a host's state under its lock."""
        return Host.locked(self.state(host))

    def playbook(
        self, tasks: list[dict[str, Any]] | str, *extra: str, play: dict[str, Any] | None = None
    ) -> Run:
        """Run one play of tasks over windows_workstations; JSON results per task via the json callback."""
        if isinstance(tasks, str):
            tasks = yaml.safe_load(tasks)
        body = {"hosts": "windows_workstations", "gather_facts": False, "tasks": tasks, **(play or {})}
        path = self.dir / f"play-{len(list(self.dir.glob('play-*.yml')))}.yml"
        path.write_text(yaml.safe_dump([body], sort_keys=False), encoding="utf-8")
        env = lab.environment(self.dir)
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.json"
        proc = subprocess.run(
            lab.command_line(self.dir, ["ansible-playbook", str(path), *extra]),
            env=env,
            cwd=lab.REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        return Run(proc)


@dataclass
class Run:
    proc: subprocess.CompletedProcess

    @property
    def data(self) -> dict[str, Any]:
        out = self.proc.stdout
        try:
            return json.JSONDecoder().raw_decode(out[out.index("{") :])[0]
        except ValueError as err:
            raise AssertionError(f"no JSON from ansible-playbook:\n{out}\n{self.proc.stderr}") from err

    def results(self, host: str | None = None) -> list[dict[str, Any]]:
        """Each task's result for one host, in order."""
        out = []
        for play in self.data["plays"]:
            for task in play["tasks"]:
                hosts = task["hosts"]
                name = host or next(iter(hosts), None)
                if name in hosts:
                    out.append(hosts[name])
        return out

    def stats(self, host: str | None = None) -> dict[str, int]:
        stats = self.data["stats"]
        return stats[host or next(iter(stats))]


def make_lab(directory: Path, *scenarios: str, per: int = 1) -> Lab:
    data = lab.init(directory, list(scenarios), per)
    hosts = list(data["all"]["children"]["windows_workstations"]["children"][lab.LAB_GROUP]["hosts"])
    return Lab(Path(directory).resolve(), hosts)
