"""The conformance suite's judgement (plugins/module_utils/fleet_selftest.py) on recorded answers, its scripts
under real interpreters, and its agreement with tests/simwin/README.md's list of modelled facts.

The recording (``data/selftest/pro33.json``) is the answers a simulated ArcGIS Pro 3.3 workstation gave to
``playbooks/selftest.yml`` (the JSON report keeps them so a real workstation's can be replayed the same way).
Each check must hold on it and differ when its own evidence is spoilt."""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.action.fleet_selftest import answers_of
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_selftest as fs

ROOT = Path(__file__).resolve().parents[2]
RECORDED = json.loads((Path(__file__).parent / "data" / "selftest" / "pro33.json").read_text())
PYENV = Path.home() / ".pyenv" / "versions"
# Every check holds on the recording (a junction is reported as a reparse point and never listed through).
PENDING: set[str] = set()


def answers(mutate: Callable[[dict[str, Any]], None] | None = None) -> fs.Answers:
    raw = copy.deepcopy(RECORDED["answers"])
    if mutate:
        mutate(raw)
    return answers_of(RECORDED["suffix"], raw)


def results(a: fs.Answers, accepted: tuple[str, ...] = ()) -> dict[str, fs.Outcome]:
    return {o.id: o for o in fs.judge(a, accepted)}


def paths() -> dict[str, str]:
    return fs.Scratch.of(RECORDED["suffix"]).paths


def read_of(raw: dict[str, Any], step: str, path: str) -> dict[str, Any]:
    return next(r for r in raw[step]["result"]["reads"] if fh.key(r.get("path", "")) == fh.key(path))


# --- the README and the suite agree -------------------------------------------------------------------------


def modelled_facts() -> str:
    text = (ROOT / "tests" / "simwin" / "README.md").read_text(encoding="utf-8")
    start = text.index("### The Windows facts, each checked")
    return text[start : text.index("### The model's sources", start)]


def test_every_modelled_fact_is_a_selftest_check_or_says_why_not() -> None:
    section = modelled_facts()
    cited = re.findall(r"\[selftest: ([a-z0-9_.]+)\]", " ".join(section.split()))
    assert sorted(set(cited)) == sorted(fs.CHECK_IDS), "README's list and the suite's checks differ"
    bullets = re.split(r"\n- ", section.split("\n- ", 1)[1])
    for bullet in (" ".join(b.split()) for b in bullets):
        assert "[selftest: " in bullet or "[not in selftest: " in bullet, bullet


def test_every_check_has_a_primary_source_and_a_judge() -> None:
    assert list(fs.JUDGES) == list(fs.CHECK_IDS)
    assert len(set(fs.CHECK_IDS)) == len(fs.CHECK_IDS)
    for check in fs.CHECKS:
        assert "https://" in check.source or "conda/cli" in check.source, check.id


# --- the judgement ------------------------------------------------------------------------------------


def test_the_simulated_workstation_meets_every_fact_but_the_pending_one() -> None:
    got = results(answers())
    assert {k for k, o in got.items() if o.result == fs.DIFFERS} == PENDING
    assert {k for k, o in got.items() if o.result == fs.NOT_CHECKED} == {"conda2.version_stream"}
    assert got["junction.read"].value == "type dir, reparse True, children []", got["junction.read"].value
    assert got["process.arguments"].note.endswith("arcgispro-py3\\python.exe")


def _acl(raw: dict[str, Any], path: str, step: str = "read") -> list[dict[str, Any]]:
    return read_of(raw, step, path)["acl"]


def _drop(raw: dict[str, Any], path: str, sid: str, step: str = "read") -> None:
    entry = read_of(raw, step, path)
    entry["acl"] = [a for a in entry["acl"] if a["sid"] != sid]


def _run(raw: dict[str, Any], run_id: str) -> dict[str, Any]:
    return next(r for r in raw["runs"]["result"]["runs"] if r["id"] == run_id)


SPOILERS: dict[str, Callable[[dict[str, Any]], None]] = {
    # Authenticated Users lose AppendData on C:\ (a hardened image): users cannot create folders there.
    "acl.c_root": lambda raw: _drop(raw, "C:\\", fs.AUTH_USERS),
    "acl.c_new_folder": lambda raw: _drop(raw, paths()["root"], fs.AUTH_USERS),
    "acl.programdata": lambda raw: _drop(raw, "C:\\ProgramData", "S-1-3-0"),
    "acl.programdata_new_folder": lambda raw: read_of(raw, "read", paths()["programdata"]).update(
        owner="S-1-5-21-1-2-3-1001"
    ),
    "acl.program_files": lambda raw: _acl(raw, "C:\\Program Files").append(
        {"sid": fs.USERS, "rights": fs.MODIFY, "type": "allow", "inherit": "none", "inherit_only": False}
    ),
    # The host script dropping the InheritOnly flag (the bug of issue 23 item 4).
    "acl.inherit_only": lambda raw: [a.update(inherit_only=False) for a in _acl(raw, paths()["sub"])],
    "path.case_insensitive": lambda raw: read_of(raw, "after", paths()["file"]).update(sha256="0" * 64),
    "host_read.file": lambda raw: read_of(raw, "read", paths()["file"]).update(content_b64="AAAA"),
    "apply_files.secure": lambda raw: read_of(raw, "after", paths()["tree"]).update(protected=False),
    "junction.create": lambda raw: raw["junction"].update(
        rc=1, stderr="You do not have sufficient privilege"
    ),
    "junction.read": lambda raw: read_of(raw, "read", paths()["link"]).update(
        reparse=True, children=[{"name": "inside.txt"}]
    ),
    "junction.secure": lambda raw: _acl(raw, paths()["outside"], "after").pop(),
    # .NET Framework's ProcessStartInfo quoting by PowerShell string logic, losing a trailing backslash.
    "process.arguments": lambda raw: _run(raw, "arguments").update(
        stdout=json.dumps(["two words", 'say "hi"'])
    ),
    # Process.Kill() without the tree: the child still runs.
    "process.tree_timeout": lambda raw: raw["processes"]["result"]["session"]["processes"].append(
        {
            "pid": json.loads(fh.Snapshot(raw["processes"]["result"]).text(paths()["pids"]))["child"],
            "path": "x",
        }
    ),
    "session.processes": lambda raw: raw["read"]["result"]["session"].update(processes=[]),
    "winrm.quotas": lambda raw: raw["read"]["result"]["session"].update(plugin_max_memory_mb=None),
    "registry.hive": lambda raw: raw["hive"]["unloaded"].update(exists=True),
    "profiles.list": lambda raw: [p.update(account=None) for p in raw["read"]["result"]["profiles"]],
    "env.machine": lambda raw: raw["read"]["result"]["env"].update(Path="C:\\Tools"),
    "store.root": lambda raw: raw["read"]["result"]["store"].update({fs.MS_ROOT_2011: False}),
}


@pytest.mark.parametrize("check", [c for c in fs.CHECK_IDS if c != "conda2.version_stream"])
def test_each_check_differs_on_its_own_spoilt_evidence(check: str) -> None:
    got = results(answers(SPOILERS[check]))
    if check in PENDING:  # today's answer differs already; the intended one holds, a half-done one differs
        fixed = results(
            answers(lambda raw: read_of(raw, "read", paths()["link"]).update(reparse=True, children=[]))
        )
        assert fixed[check].result == fs.HOLDS
    assert got[check].result == fs.DIFFERS, got[check]
    others = {k for k, o in got.items() if o.result == fs.DIFFERS} - {check} - PENDING
    assert not others, f"spoiling {check} also moved {others}"


def _with_conda2(stdout: str, stderr: str) -> fs.Answers:
    def mutate(raw: dict[str, Any]) -> None:
        raw["conda"] = "C:\\Miniconda2\\Scripts\\conda.exe"
        raw["runs"]["result"]["runs"].append({"id": "conda2", "rc": 0, "stdout": stdout, "stderr": stderr})

    return answers(mutate)


def test_conda2_version_holds_on_stderr_and_differs_on_stdout() -> None:
    assert results(_with_conda2("", "conda 4.8.3\r\n"))["conda2.version_stream"].result == fs.HOLDS
    assert results(_with_conda2("conda 4.8.3\r\n", ""))["conda2.version_stream"].result == fs.DIFFERS


def test_a_missing_step_differs_with_the_reason_never_a_crash() -> None:
    got = results(answers(lambda raw: raw.update(read={"failed": True, "msg": "boom"})))
    assert got["acl.c_root"].result == fs.DIFFERS and "no answer to judge" in got["acl.c_root"].note


def test_an_accepted_difference_is_shown_and_does_not_fail() -> None:
    outcomes = fs.judge(answers(SPOILERS["junction.read"]), ["junction.read"])
    row = next(o for o in outcomes if o.id == "junction.read")
    assert row.result == fs.DIFFERS and row.accepted and row.row()["status"] == "ok"
    assert fs.summary(outcomes)["differs"] == [] and fs.summary(outcomes)["accepted"] == ["junction.read"]


def test_only_a_program_only_admins_can_change_is_picked() -> None:
    raw = copy.deepcopy(RECORDED["answers"]["read"]["result"])
    assert fs.pick(raw, "python").endswith("arcgispro-py3\\python.exe")
    glob = next(r for r in raw["reads"] if r["path"] == fs.PYTHON_GLOBS[0])
    glob["matches"][0]["acl"].append(
        {"sid": fs.USERS, "rights": fs.MODIFY, "type": "allow", "inherit": "none", "inherit_only": False}
    )
    assert fs.pick(raw, "python") is None


def test_each_step_call_is_a_fleet_host_script() -> None:
    for step in ("setup", "write", "secure"):
        assert fs.host_call(step, "x")["script"] == fh.APPLY_FILES_SCRIPT
    runs = fs.host_call("runs", "x", "C:\\P\\python.exe", "C:\\Miniconda2\\Scripts\\conda.exe")["parameters"][
        "Runs"
    ]
    assert runs[0]["arguments"] == fh.command_line(["-E", "-s", "arguments.py", *fs.TRICKY_ARGS])
    assert [r["id"] for r in runs] == ["arguments", "tree", "conda2"]
    with pytest.raises(ValueError, match="unknown selftest step"):
        fs.host_call("nope", "x")


# --- the scripts that run on the host, under real interpreters ---------------------------------------


def interpreter(version: str, exe: str) -> Any:
    path = PYENV / version / "bin" / exe
    return pytest.param(
        str(path), id=version, marks=pytest.mark.skipif(not path.exists(), reason=f"no {path}")
    )


PYTHONS = [
    interpreter("2.7.18", "python2.7"),
    interpreter("3.6.15", "python3"),
    pytest.param(sys.executable, id="venv"),
]


@pytest.mark.parametrize("python", PYTHONS)
def test_the_argv_script_echoes_every_tricky_argument(python: str) -> None:
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    out = subprocess.run(
        [python, str(ROOT / "roles/fleet/files/selftest_argv.py"), *fs.TRICKY_ARGS],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert json.loads(out) == list(fs.TRICKY_ARGS)
    assert out.isascii()


@pytest.mark.parametrize("python", PYTHONS)
def test_the_tree_script_starts_a_child_writes_both_pids_and_never_answers(
    python: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pids.json"
    proc = subprocess.Popen(
        [python, "-E", "-s", str(ROOT / "roles/fleet/files/selftest_tree.py"), str(pid_file)]
    )
    try:
        deadline = time.monotonic() + 20
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = json.loads(pid_file.read_text())
        assert pids["parent"] == proc.pid
        os.kill(pids["child"], 0)  # the child runs
        assert proc.poll() is None  # and the parent has not answered
    finally:
        for pid in (json.loads(pid_file.read_text()) if pid_file.exists() else {}).values():
            if pid != proc.pid:
                os.kill(pid, signal.SIGKILL)
        proc.kill()
        proc.wait()


def test_entra_id_profiles_count_as_user_profiles() -> None:
    """An Entra-joined PC's users have S-1-12-1-... SIDs (AzureAD\\name): the check judges them as users."""

    def entra_only(raw: dict[str, Any]) -> None:
        result = raw["read"]["result"]
        users = [p for p in result["profiles"] if str(p["sid"]).startswith("S-1-5-21-")]
        for index, profile in enumerate(users):
            profile["sid"] = f"S-1-12-1-439025665-1087619554-2407177068-{285212673 + index}"
            profile["account"] = f"AzureAD\\user{index}"

    outcome = results(answers(entra_only))["profiles.list"]
    assert outcome.result == "holds", outcome
    assert "S-1-12-1-" in outcome.value
