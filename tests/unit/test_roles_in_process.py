"""Each role through its whole interface, in-process, on recorded workstations (seconds, no playbook):
snapshot → plan → changes → verify → judge.

The recordings (``tests/unit/data/roles/<scenario>.json``, made by ``python -m tests.simwin.record``) hold
what observe read on a simulated workstation before site.yml and after it, and that workstation's answer
to the verify spec. The engine and the roles' real wiring (``roles/<role>/vars/plan.yml``) plan them here:
- before: every role plans its own changes, and a role planned alone changes nothing of another's;
- after: the plan is a no-op (the apply converged);
- verified: every role's judge passes the real answer, and fails when its own evidence is spoilt.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_flow as ff
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import Snapshot, pack_observed
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_plan import HostInput
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.registry import ROLES

from tests.simwin import planning
from tests.unit.doi_cert_testca import make_ca

DATA = Path(__file__).parent / "data" / "roles"
SCENARIOS = ("desktop1041", "pro35")
# What site.yml does on each recorded workstation, per role (a change in a role's planning shows here).
FIRST_RUN = {
    # miniconda: each install's record written before its installer runs (finds a half-done install).
    # arcgis_env: the machine condarc, each env, its three files for students (pip.ini, constraints, README)
    # and its record; a Miniconda env's conda-meta\pinned and, as Miniconda2 serves one stack, its
    # condarc.d pins; a Pro clone's package cache in the role's folder (the admin's CONDA_PKGS_DIRS).
    # Folders the run makes are admin-only at creation (create secure, then fill): no separate secure of
    # C:\ProgramData\arcgis-conda, conda or pip after they were filled.
    # startup_bridge: its Python folder is already admin-only (observe secured it before the probe).
    "desktop1041": {"miniconda": 9, "doi_cert": 10, "arcgis_env": 10, "startup_bridge": 6},
    # Pro's clone imports arcpy through Esri's own ArcGISPro.pth: the bridge writes nothing, only verifies.
    # The clone folder is made before the clone (admin-only by its parent), never by conda.
    "pro35": {"miniconda": 9, "doi_cert": 10, "arcgis_env": 12},
}


@pytest.fixture(scope="module", params=SCENARIOS)
def recorded(request: pytest.FixtureRequest) -> dict[str, Any]:
    data = json.loads((DATA / f"{request.param}.json").read_text(encoding="utf-8"))
    return {**data, "scenario": request.param}


def plan(recorded: dict[str, Any], phase: str, selected: list[str] | None = None) -> dict[str, Any]:
    return planning.plan_host(
        recorded["host"], recorded[phase], recorded["variables"], DATA / "locks", selected=selected
    )


def test_first_run_plans_each_roles_own_changes(recorded):
    planned = plan(recorded, "before")
    assert planned["status"] == "ok", planned["error"]
    assert Counter(c["role"] for c in planned["changes"]) == FIRST_RUN[recorded["scenario"]]


@pytest.mark.parametrize("role", [r.name for r in ROLES])
def test_a_role_planned_alone_changes_only_its_own(recorded, role):
    planned = plan(recorded, "before", selected=[role])
    assert planned["status"] == "ok", planned["error"]
    assert {c["role"] for c in planned["changes"]} <= {role, f"{role}_retire"}
    assert set(planned["judge"]) == {role}


def test_after_the_apply_the_plan_is_a_no_op(recorded):
    planned = plan(recorded, "after")
    assert planned["status"] == "ok", planned["error"]
    assert planned["changes"] == []


def judged(recorded: dict[str, Any], answer: dict[str, Any]) -> dict[str, list[str]]:
    planned = plan(recorded, "after")
    return ff.judge_host(ROLES, recorded["host"], planned["judge"], Snapshot(answer))


def test_every_judge_passes_the_recorded_verify_answer(recorded):
    problems = judged(recorded, recorded["verified"])
    assert set(problems) == {r.name for r in ROLES}
    assert problems == {r.name: [] for r in ROLES}
    # Each role that listed checks is reported verified (the run report's "bridge verified" among them).
    spec = plan(recorded, "after")["verify"]
    assert ff.verified_roles(plan(recorded, "after")["judge"], spec["by_role"], problems) == {
        r.name: bool(spec["by_role"][r.name]) for r in ROLES
    }
    assert all(spec["by_role"][name] for name in ("miniconda", "arcgis_env", "startup_bridge"))


def spoil(answer: dict[str, Any], role: str) -> dict[str, Any]:
    """The same answer with one piece of the role's own evidence broken, as a failing host would give."""
    out = copy.deepcopy(answer)
    runs = {"miniconda": "miniconda-", "arcgis_env": "env-", "startup_bridge": "bridge-"}
    if role in runs:
        (run,) = [r for r in out["runs"] if str(r["id"]).startswith(runs[role])][:1]
        run.update(rc=1, stdout="", stderr="Traceback: ImportError: DLL load failed")
        return out
    # doi_cert: the CA bundle on the host is no longer the one built on the controller.
    (bundle,) = [r for r in out["reads"] if str(r["path"]).lower().endswith("ca-bundle.pem")]
    bundle["sha256"] = "0" * 64
    return out


@pytest.mark.parametrize("role", [r.name for r in ROLES])
def test_each_judge_fails_on_its_own_spoilt_evidence_only(recorded, role):
    if role == "startup_bridge" and not any(
        str(r["id"]).startswith("bridge-") for r in recorded["verified"]["runs"]
    ):
        pytest.skip("nothing bridged on this workstation")
    problems = judged(recorded, spoil(recorded["verified"], role))
    assert problems[role], f"{role}'s judge passed a broken answer"
    assert all(not found for name, found in problems.items() if name != role), problems


def test_observe_keeps_the_bundles_hash_not_its_bytes_and_the_fact_stays_small(recorded):
    """Issue 27 item 6: the CA bundle the controller built is 72-83% of a host's facts when read back."""
    after = recorded["after"]["observed"]
    pems = [r for r in after["reads"] if str(r["path"]).lower().endswith(".pem")]
    assert pems and all(r.get("sha256") and "content_b64" not in r for r in pems), pems
    assert len(json.dumps(pack_observed(after))) < 50_000


def test_a_changed_bundle_diffs_as_certificates_from_the_records_thumbprints(recorded):
    """--diff of the bundle with its bytes never read: the before side comes from the previous run's record
    (each certificate's thumbprint), the subjects from the bundle written now."""
    extra = make_ca("Second Lab Root CA")
    variables = dict(recorded["variables"])
    variables["doi_cert_certificates"] = [
        *variables["doi_cert_certificates"],
        {"content": extra.pem.decode("ascii")},
    ]
    pinned = list(variables.get("doi_cert_fingerprints") or [])
    if pinned:  # the inventory pins its roots: the new one is pinned too
        variables["doi_cert_fingerprints"] = [*pinned, extra.sha256]
    planned = planning.plan_host(
        recorded["host"], recorded["after"], variables, DATA / "locks", selected=["doi_cert"]
    )
    assert planned["status"] == "ok", planned["error"]
    (bundle,) = [c for c in planned["changes"] if c["target"].lower().endswith("\\certs\\ca-bundle.pem")]
    diff = bundle["diff"]
    before, after = diff["before"].splitlines(), diff["after"].splitlines()
    assert "not read by observe" not in diff["before"]
    count = int(before[0].split()[0])
    assert count > 100 and after[0] == f"{count + 1} certificate(s)"  # certifi's roots and ours
    assert set(after) - set(before) == {
        f"{extra.cert.subject.rfc4514_string()}  sha256:{extra.sha256[:16]}",
        after[0],
    }
    assert any(line.startswith("CN=Demo Lab Root CA") for line in before)


def test_many_differing_hosts_plan_alike_in_batches_and_worker_processes(recorded, monkeypatch):
    """Issue 27 item 6: an offline plan of many distinct hosts runs in batches (memory) and in forked
    processes (cores); every host's plan is the one a single process gives, in the inputs' order."""
    items = []
    for n in range(ff.PARALLEL_MIN_GROUPS + 6):
        observed = copy.deepcopy(recorded["after"]["observed"])
        profile = {"account": f"LAB\\s{n}", "appdata": None, "hive_error": None, "sid": f"S-1-5-21-7-{n}"}
        observed["profiles"].append({**profile, "path": f"C:\\Users\\s{n}"})
        items.append(
            HostInput(
                host=f"ws{n:03d}",
                lab="lab_a",
                facts=list(recorded["after"]["facts"]),
                variables=dict(recorded["variables"]),
                observed=pack_observed(observed) if n % 2 else observed,  # the cache's form, or an older one
            )
        )
    items.append(replace(items[0], host="twin"))  # identical to ws000: planned once, under its own name
    monkeypatch.setattr(ff, "BATCH", 16)
    started = os.getpid()
    workers = planning.planner(DATA / "locks", lock=False)
    assert len(workers.chunks([[i] for i in items])) == min(os.cpu_count() or 1, ff.MAX_WORKERS)
    parallel = workers.plan(items)
    monkeypatch.setattr(ff, "PARALLEL_MIN_GROUPS", 10**6)
    serial = planning.planner(DATA / "locks", lock=False).plan(items)
    assert os.getpid() == started and list(parallel) == [i.host for i in items]
    assert parallel == serial
    assert all(p["status"] == "ok" and p["changes"] == [] for p in parallel.values())
    assert parallel["twin"]["row"]["host"] == "twin" and len(workers.memo) == len(items) - 1


def test_the_pro_clone_folder_is_admin_only_before_the_clone_even_with_arcgis_env_alone():
    """Create secure, then fill: with --tags arcgis_env alone nothing earlier made
    C:\\ProgramData\\arcgis-conda admin-only, so the clone folder is made secure by its own mkdir, before
    conda copies anything into it (it used to be created by the clone itself, inheriting ProgramData's
    Users create rights)."""
    data = json.loads((DATA / "pro35.json").read_text(encoding="utf-8"))
    planned = planning.plan_host(
        data["host"], data["before"], data["variables"], DATA / "locks", selected=["arcgis_env"]
    )
    changes = planned["changes"]
    clone = next(i for i, c in enumerate(changes) if c["action"] == "clone")
    root = changes[clone]["target"].rsplit("\\", 1)[0]
    made = [i for i, c in enumerate(changes) if c["action"] == "mkdir" and c["target"] == root]
    assert made and made[0] < clone
    assert changes[made[0]]["item"]["secure"] is True
    assert changes[made[0]]["item"]["tree_arguments"][0] == root + "\\*"
