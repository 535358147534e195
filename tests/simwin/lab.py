"""A simulated lab: inventory + host states, and a runner that points Ansible at them.

python -m tests.simwin.lab init --dir D --scenario reference [--scenario pro33 ...] [--hosts-per-scenario N]
python -m tests.simwin.lab run --dir D -- ansible-playbook site.yml [...]
python -m tests.simwin.lab calls --dir D
python -m tests.simwin.lab events --dir D [--json]   (programs the admin started, escalation events)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "simwin"

import yaml

from . import invariant
from .calls import summary
from .scenario import create_host

REPO = Path(__file__).resolve().parents[2]
PLUGINS = Path(__file__).resolve().parent / "connection_plugins"
EXAMPLE = REPO / "inventory" / "example" / "group_vars"
LAB_GROUP = "lab_sim"
WINRM_PREFIXES = ("ansible_winrm_", "ansible_psrp_")
WINRM_KEYS = {
    "ansible_connection",
    "ansible_port",
    "ansible_user",
    "ansible_password",
    "ansible_shell_type",
    "ansible_become_password",
    "ansible_host",
}


def host_names(scenarios: list[str], per: int) -> list[tuple[str, str]]:
    out = []
    for scenario in scenarios:
        for index in range(1, per + 1):
            out.append((f"sim-{scenario.replace('_', '-')}-{index:02d}", scenario))
    return out


def _copy_group_vars(dest: Path) -> None:
    """The example lab's group_vars without vault.yml and without its WinRM connection settings."""
    if not EXAMPLE.exists():
        return
    for source in EXAMPLE.rglob("*"):
        rel = source.relative_to(EXAMPLE)
        target = dest / rel
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        if source.name.startswith("vault") or source.name == "winrm.yml":
            continue
        if source.suffix in (".yml", ".yaml"):
            # Paths the example builds from its own inventory_dir still point into the example.
            text = source.read_text(encoding="utf-8").replace("{{ inventory_dir }}", str(EXAMPLE.parent))
            data = yaml.safe_load(text)
            if isinstance(data, dict):
                data = {
                    k: v for k, v in data.items() if k not in WINRM_KEYS and not k.startswith(WINRM_PREFIXES)
                }
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def init(directory: str | Path, scenarios: list[str], per: int = 1) -> dict[str, Any]:
    """Write D/inventory and D/state/<host> for the scenarios; return the inventory data."""
    base = Path(directory).resolve()
    inventory = base / "inventory"
    inventory.mkdir(parents=True, exist_ok=True)
    group_vars = inventory / "group_vars"
    _copy_group_vars(group_vars)
    hosts: dict[str, Any] = {}
    for name, scenario in host_names(scenarios, per):
        state = base / "state" / name
        if state.exists():
            shutil.rmtree(state)
        create_host(state, scenario, computer=name.upper()[:15])
        hosts[name] = {"ansible_simwin_state": str(state), "simwin_scenario": scenario}
    data = {
        "all": {
            "children": {
                "windows_workstations": {
                    "vars": {
                        "ansible_connection": "simwin",
                        "ansible_shell_type": "powershell",
                        # The organisation's decision (no default, README "Package sources"): the
                        # simulated lab holds the licence, the one choice serving every scenario.
                        "fleet_anaconda_channels": "licensed",
                    },
                    "children": {LAB_GROUP: {"hosts": hosts}},
                }
            }
        }
    }
    (inventory / "hosts.yml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return data


def environment(directory: str | Path) -> dict[str, str]:
    base = Path(directory).resolve()
    env = dict(os.environ)
    existing = env.get("ANSIBLE_CONNECTION_PLUGINS")
    env["ANSIBLE_CONNECTION_PLUGINS"] = str(PLUGINS) + (os.pathsep + existing if existing else "")
    # The lab is the fleet's state folder: its fact cache (D/.cache/facts), locks and solver cache
    # (D/.cache/locks, D/.cache/rattler), run lock and reports (D/reports), never the working tree's.
    env.pop("ANSIBLE_CACHE_PLUGIN_CONNECTION", None)
    env["ARCGIS_FLEET_STATE_DIR"] = str(base)
    env.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
    env["ANSIBLE_HOST_KEY_CHECKING"] = "false"
    env["ANSIBLE_GATHERING"] = "explicit"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def command_line(directory: str | Path, command: list[str]) -> list[str]:
    command = list(command)
    if command and Path(command[0]).name in ("ansible-playbook", "ansible", "ansible-inventory"):
        command[1:1] = ["-i", str(Path(directory).resolve() / "inventory")]
    return command


def run(directory: str | Path, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        command_line(directory, command),
        env=environment(directory),
        cwd=kwargs.pop("cwd", REPO),
        check=False,
        **kwargs,
    )


def host_states(directory: str | Path) -> dict[str, Path]:
    base = Path(directory).resolve() / "state"
    return {p.name: p for p in sorted(base.iterdir())} if base.exists() else {}


def calls_report(directory: str | Path) -> dict[str, dict[str, int]]:
    return {name: summary(path) for name, path in host_states(directory).items()}


def lab_events(directory: str | Path) -> list[dict[str, Any]]:
    """Every host's invariant records (tests/simwin/invariant.py), host by host, in order."""
    return [record for path in host_states(directory).values() for record in invariant.events(path)]


def print_events(directory: str | Path, as_json: bool) -> int:
    records = lab_events(directory)
    if as_json:
        for record in records:
            print(json.dumps(record, sort_keys=True))
        return 0
    for record in records:
        if record["kind"] == "program":
            print(f"{record['host']:28} program     {record['module']:34} {record['exe']}")
        else:
            who = ", ".join(record["writable_by"])
            print(f"{record['host']:28} ESCALATION  {record['module']:34} {record['exe']}")
            print(f"{'':28}   {record['path']} ({record['what']}) writable by {who}")
    programs = sum(r["kind"] == "program" for r in records)
    print(f"{programs} program start(s), {len(records) - programs} escalation event(s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.simwin.lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_init = sub.add_parser("init", help="write the inventory and host states")
    p_init.add_argument("--dir", required=True)
    p_init.add_argument("--scenario", action="append", required=True)
    p_init.add_argument("--hosts-per-scenario", type=int, default=1)
    p_run = sub.add_parser("run", help="run a command against the lab (-i added for ansible-playbook)")
    p_run.add_argument("--dir", required=True)
    p_run.add_argument("cmd", nargs=argparse.REMAINDER)
    p_calls = sub.add_parser("calls", help="module calls, raw commands, put_files, changed per host")
    p_calls.add_argument("--dir", required=True)
    p_calls.add_argument("--json", action="store_true")
    p_events = sub.add_parser("events", help="programs the admin session started and escalation events")
    p_events.add_argument("--dir", required=True)
    p_events.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    if args.command == "events":
        return print_events(args.dir, args.json)
    if args.command == "init":
        data = init(args.dir, args.scenario, args.hosts_per_scenario)
        hosts = data["all"]["children"]["windows_workstations"]["children"][LAB_GROUP]["hosts"]
        print(f"{len(hosts)} simulated host(s) in {Path(args.dir).resolve() / 'inventory'}")
        return 0
    if args.command == "run":
        cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        if not cmd:
            parser.error("run needs a command after --")
        return run(args.dir, cmd).returncode
    report = calls_report(args.dir)
    if args.json:
        print(json.dumps(report, indent=1, sort_keys=True))
    else:
        print(f"{'host':32} {'modules':>8} {'raw':>6} {'put':>6} {'changed':>8} {'failed':>7}")
        for name, row in report.items():
            print(
                f"{name:32} {row['module_calls']:>8} {row['raw_commands']:>6} {row['put_files']:>6} "
                f"{row['changed']:>8} {row['failed']:>7}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
