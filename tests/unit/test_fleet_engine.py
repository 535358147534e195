"""The engine (fleet_flow) with small fixture roles: order, publishing, errors, selection, verify.

It names no role; these roles exist only here. A bad input stops its host with the message the role
gives; a bug in a role is not a host's problem and stops the run (narrow handling, issue 21).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_flow as ff
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import Read, Snapshot
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_plan import HostInput
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import (
    Fleet,
    HostPlanError,
    PlanError,
    Role,
    RoleContext,
    RolePlan,
)

INSTALL = {
    "id": "pro-3.5.0-64",
    "product": "pro",
    "version": "3.5.0",
    "status": "ok",
    "python_major_minor": "3.11",
}
FOLDER = "C:\\ProgramData\\demo"


def snapshot(*paths: str) -> dict[str, Any]:
    children = [{"name": p, "dir": False} for p in paths]
    reads = [{"path": FOLDER, "type": "dir", "children": children}]
    reads += [{"path": f"{FOLDER}\\{p}", "type": "file", "size": 1, "sha256": "x"} for p in paths]
    return {"reads": reads, "os_bits": 64}


class Writer(Role):
    """Writes FOLDER\\<name>; publishes the name; the next role reads what it published."""

    name = "writer"
    column = "Writer"

    def plan(self, args: Mapping[str, Any], ctx: RoleContext, fleet: Fleet) -> RolePlan:
        if args.get("bad"):
            raise PlanError(f"writer_name = {args['bad']!r} is not a file name. Fix: use letters only.")
        if args.get("bug"):
            raise KeyError("a coding bug")
        out = RolePlan(published={"writer_files": [args["file"]]}, lines=[args["file"]])
        out.make_changes = lambda c: c.write(f"{FOLDER}\\{args['file']}", "hi", "the file")
        out.verify_runs = [{"id": "writer-check", "argv": ["cmd"]}]
        out.judge = {"file": args["file"]}
        return out

    def judge(self, judge: Mapping[str, Any], host: str, snap: Snapshot) -> list[str]:
        return [] if snap.runs.get("writer-check", {}).get("rc") == 0 else [f"{host}: writer check failed"]


class Reader(Role):
    name = "reader"
    column = "Reader"

    def plan(self, args: Mapping[str, Any], ctx: RoleContext, fleet: Fleet) -> RolePlan:
        out = RolePlan(lines=[f"saw {args['files']}"])
        out.verify_reads = [Read(f"{FOLDER}\\{f}") for f in args["files"]]
        out.judge = {"files": list(args["files"])}
        return out

    def judge(self, judge: Mapping[str, Any], host: str, snap: Snapshot) -> list[str]:
        return [f"{host}: {f} missing" for f in judge["files"] if not snap.exists(f"{FOLDER}\\{f}")]


ROLES = (Writer(), Reader())


def role_args(role: Role, variables: Mapping[str, Any], installs: list, published: Mapping) -> dict:
    if role.name == "writer":
        if variables.get("writer_file") == "":
            raise HostPlanError("writer_file is empty. Fix: name a file.")
        return {"file": variables.get("writer_file", "a.txt"), **variables.get("writer_extra", {})}
    return {"files": list(published.get("writer_files") or [])}


def planner(selected: list[str] | None = None) -> ff.FleetPlanner:
    fleet = Fleet(
        live=True,
        options={},
        read_file=lambda p: b"",
        project_path=ff.project_path,
        warn=lambda m: None,
    )
    names = selected if selected is not None else [r.name for r in ROLES]
    return ff.FleetPlanner(ROLES, names, role_args, lambda v, i: ([], []), fleet)


def host(name: str, observed: dict[str, Any] | None = None, **variables: Any) -> HostInput:
    return HostInput(host=name, lab="lab_x", facts=[INSTALL], variables=variables, observed=observed)


def test_roles_plan_in_registry_order_and_later_roles_see_what_earlier_ones_publish():
    plans = planner().plan([host("pc1", snapshot(), writer_file="b.txt")])
    result = plans["pc1"]
    assert result["status"] == "ok"
    assert result["row"]["writer"] == ["b.txt"] and result["row"]["reader"] == ["saw ['b.txt']"]
    assert [(c["role"], c["action"], c["target"]) for c in result["changes"]] == [
        ("writer", "write", f"{FOLDER}\\b.txt")
    ]
    assert result["verify"]["by_role"] == {"writer": ["writer-check"], "reader": []}


def test_identical_hosts_are_planned_once_and_each_keeps_its_name():
    p = planner()
    plans = p.plan(
        [host("pc1", snapshot()), host("pc2", snapshot()), host("pc3", snapshot(), writer_file="c")]
    )
    assert len(p.memo) == 2
    assert plans["pc2"]["row"]["host"] == "pc2" and plans["pc2"]["changes"] == plans["pc1"]["changes"]


def test_a_bad_input_stops_only_its_host_with_the_roles_message():
    plans = planner().plan(
        [
            host("pc1", snapshot(), writer_extra={"bad": "a/b"}),
            host("pc2", snapshot(), writer_file=""),
            host("pc3", snapshot()),
        ]
    )
    assert plans["pc1"]["status"] == "failed"
    assert (
        plans["pc1"]["error"] == "pc1: writer: writer_name = 'a/b' is not a file name. Fix: use letters only."
    )
    assert plans["pc2"]["error"] == "writer_file is empty. Fix: name a file."
    assert plans["pc3"]["status"] == "ok"
    assert plans["pc1"]["changes"] is None and "reader" not in plans["pc1"]["judge"]


def test_a_bug_in_a_role_is_not_turned_into_a_host_error():
    with pytest.raises(KeyError, match="a coding bug"):
        planner().plan([host("pc1", snapshot(), writer_extra={"bug": True})])


def test_only_the_selected_roles_change_anything_and_are_verified():
    result = planner(selected=["reader"]).plan([host("pc1", snapshot())])["pc1"]
    assert result["changes"] == [] and set(result["judge"]) == {"reader"}
    # Still planned for what it publishes: the reader sees the writer's file.
    assert result["row"]["reader"] == ["saw ['a.txt']"]


def test_judging_asks_each_role_and_reports_who_verified():
    result = planner().plan([host("pc1", snapshot())])["pc1"]
    answer = Snapshot({"reads": [{"path": f"{FOLDER}\\a.txt", "type": "missing"}], "runs": []})
    problems = ff.judge_host(ROLES, "pc1", result["judge"], answer)
    assert problems == {"writer": ["pc1: writer check failed"], "reader": ["pc1: a.txt missing"]}
    assert ff.verified_roles(result["judge"], result["verify"]["by_role"], problems) == {
        "writer": False,
        "reader": False,
    }
    good = Snapshot(
        {
            "reads": [{"path": f"{FOLDER}\\a.txt", "type": "file", "size": 1}],
            "runs": [{"id": "writer-check", "rc": 0}],
        }
    )
    problems = ff.judge_host(ROLES, "pc1", result["judge"], good)
    assert problems == {"writer": [], "reader": []}
    # The reader listed no runs: it judged its reads, but no check of its ran.
    assert ff.verified_roles(result["judge"], result["verify"]["by_role"], problems) == {
        "writer": True,
        "reader": False,
    }


def test_a_change_list_that_destroys_what_an_earlier_change_moved_aside_or_wrote_stops_the_host():
    """The list the old roles made for a student's .condarc: miniconda moved it aside and wrote its own, then
    doi_cert copied that over the moved-aside file and deleted it (issue 27 item 1)."""

    def files(role: str, op: str, path: str, **item: Any) -> dict[str, Any]:
        return {
            "role": role,
            "step": "files",
            "action": op,
            "target": path,
            "item": {"op": op, "path": path, **item},
        }

    rc, aside = "C:\\ProgramData\\conda\\.condarc", "C:\\ProgramData\\conda\\.condarc.untrusted"
    snap = Snapshot({"reads": []})
    miniconda = [
        files("miniconda", "copy", aside, src=rc, force=True),
        files("miniconda", "delete", rc),
        files("miniconda", "write", rc),
    ]
    ff.composed(miniconda, snap, "pc1")
    with pytest.raises(
        ff.HostPlanError, match=r"pc1: doi_cert would copy .*\.condarc\.untrusted, which miniconda"
    ):
        ff.composed([*miniconda, files("doi_cert", "copy", aside, src=rc, force=True)], snap, "pc1")
    with pytest.raises(ff.HostPlanError, match=r"doi_cert would delete .*\.condarc, which miniconda wrote"):
        ff.composed([*miniconda, files("doi_cert", "delete", rc)], snap, "pc1")
