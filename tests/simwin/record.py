"""Record what the per-role unit tests plan and judge against, from real runs on a simulated workstation.

``python -m tests.simwin.record [SCENARIO ...]`` (default: the scenarios below) writes, per scenario,
``tests/unit/data/roles/<scenario>.json`` and the locks the run solved (``locks/``):

- ``before``: what observe read before site.yml (``ansible_facts.arcgis`` and the snapshot);
- ``after``: what observe read after it (the next run's plan must be a no-op);
- ``verified``: the workstation's answer, after site.yml, to the verify spec planned from ``after``;
- ``variables``: the inventory's role variables the runs used.

Re-record when the simulator or the observe spec changes (a test says so when a role asks for a path the
recording did not read). The planning in between is ``tests.simwin.planning``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from . import host as H
from . import lab as simlab
from . import scripts
from .modules import Ctx
from .testing import DEMO_CA, fleet_run, make_lab

OUT = simlab.REPO / "tests" / "unit" / "data" / "roles"
SCENARIOS = ("desktop1041", "pro35")
TEMP = "C:\\Users\\svc_fleet\\AppData\\Local\\Temp"


def observed(lab_dir: Path, host: str) -> dict[str, Any]:
    # ansible-core's jsonfile cache names the file after the host, behind a version prefix ("s1_").
    (path,) = [p for p in (lab_dir / ".cache" / "facts").iterdir() if p.name.endswith(host)]
    facts = json.loads(path.read_text(encoding="utf-8"))
    if "__payload__" in facts:  # ansible-core 2.19 wraps the facts as a JSON string
        facts = json.loads(facts["__payload__"])
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh

    return {"facts": facts["arcgis"], "observed": fh.unpack_observed(facts["arcgis_conda_observed"])}


def inventory_variables(lab_dir: Path) -> dict[str, Any]:
    """The role variables of the lab's inventory (group_vars as written by tests.simwin.lab)."""
    out: dict[str, Any] = {}
    for path in sorted((lab_dir / "inventory" / "group_vars").rglob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        out.update({k: v for k, v in data.items() if not k.startswith("arcgis_env_") or "_dir" not in k})
    hosts = yaml.safe_load((lab_dir / "inventory" / "hosts.yml").read_text(encoding="utf-8"))
    group = hosts["all"]["children"]["windows_workstations"].get("vars") or {}
    out.update({k: v for k, v in group.items() if k.startswith("fleet_")})  # the licence choice
    out["doi_cert_certificates"] = [{"path": str(DEMO_CA.relative_to(simlab.REPO))}]
    return out


def record(scenario: str, out: Path) -> Path:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh

    with tempfile.TemporaryDirectory() as tmp:
        lab = make_lab(Path(tmp), scenario)
        host = lab.hosts[0]
        # As a first run's observe leaves it before it probes: ArcGIS's own Python folder secured (check mode
        # never runs a Python users could write, so its "before" would hold no measurement of it).
        with H.Host.locked(lab.state(host)) as sim:
            if sim.is_dir("C:\\Python27"):
                ctx = Ctx(sim, sim.principal(None), False, TEMP, "ansible.windows.win_powershell")
                scripts.apply_files(ctx, {"Items": [fh.secure_item("C:\\Python27")]})
        seen = []
        for args in (("--check",), (), ("--check",)):  # observe; apply and verify; observe again
            rc, text, _rows = fleet_run(lab, "site.yml", None, *args)
            if rc != 0:
                raise SystemExit(f"{scenario}: site.yml {' '.join(args)} failed:\n{text[-3000:]}")
            seen.append(observed(lab.dir, host))
        before, after = seen[0], seen[2]
        variables = inventory_variables(lab.dir)
        locks = out / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        for lock in sorted((lab.dir / ".cache" / "locks").glob("*.txt")):
            shutil.copy2(lock, locks / lock.name)
        from . import planning

        spec = planning.plan_host(host, after, variables, locks)["verify"]
        state = lab.state(host)
        with H.Host.locked(state) as sim:
            ctx = Ctx(sim, sim.principal(None), False, TEMP, "ansible.windows.win_powershell")
            # As fleet_verify sends it: the plan's reads and runs as one host_read call's parameters.
            reads = [fh.Read(r["path"], r.get("kind", "file"), bool(r.get("content"))) for r in spec["reads"]]
            params = fh.host_read_params(reads, spec["runs"])["parameters"]
            verified, _changed = scripts.host_read(ctx, params)
    target = out / f"{scenario}.json"
    data = {"host": host, "variables": variables, "before": before, "after": after, "verified": verified}
    target.write_text(json.dumps(data, sort_keys=True) + "\n", encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    # As tests/conftest.py does: this checkout is the collection arcgis_conda.fleet.
    _AnsibleCollectionFinder(paths=[str(simlab.REPO / "collections")], scan_sys_paths=True)._install()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    for scenario in args.scenarios:
        path = record(scenario, args.out)
        print(f"{scenario}: {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
