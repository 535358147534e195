"""startup_bridge: judge what each bridged Python printed under the verify script (pure functions).

The verify script (roles/startup_bridge/files/arcgis_conda_bridge_verify.py) only gathers facts from
inside one interpreter; this module decides, for each run planned by ``startup_bridge_plan.verify_runs``,
whether the seed's checks hold and, when not, names the install and the remedy:
  - ArcGIS's Python shows the env's site-packages near the end of sys.path (after its own site-packages);
  - the env's Python shows ArcGIS's site-packages near the end, and (``--arcpy``) ``import arcpy`` works,
    naming the known failures: "%1 is not a valid Win32 application" (bitness) and "numpy C extensions
    failed" (numpy ABI).
"""

from __future__ import annotations

import json
import ntpath
import posixpath
import re
from dataclasses import asdict, dataclass, field
from typing import Any

MARKER = "ARCGIS_CONDA_BRIDGE_VERIFY "

# (kind, pattern over the arcpy error and traceback, remedy). First match wins.
KNOWN_ARCPY_FAILURES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "bitness",
        re.compile(r"is not a valid Win32 application|WinError 193\b", re.IGNORECASE),
        "the env and ArcGIS differ in bitness (32-bit ArcMap needs a 32-bit env from Miniconda x86; Pro and "
        "Background Geoprocessing need 64-bit): recreate the env with the arcgis_env role from the right "
        "Miniconda, then run startup_bridge again",
    ),
    (
        "numpy_abi",
        re.compile(
            r"numpy C-?extensions failed|multiarray failed to import|compiled against (?:API|ABI) version"
            r"|numpy\.core\.multiarray",
            re.IGNORECASE,
        ),
        "the env's numpy does not match the numpy arcpy was built against: pin numpy in the env to ArcGIS's "
        "own version (ansible_facts.arcgis[].packages.numpy) with the arcgis_env role",
    ),
    (
        "not_found",
        re.compile(r"No module named '?arcpy\b", re.IGNORECASE),
        "arcpy's folders are not on the env's sys.path: check the install's .pth files and install_dir in "
        "ansible_facts.arcgis, then run startup_bridge with ARCGIS_CONDA_BRIDGE_DEBUG=1 on the host",
    ),
    (
        "licence",
        re.compile(r"licen[cs]e|NotInitialized|not licensed", re.IGNORECASE),
        "arcpy loaded but found no licence: check the licence manager / ArcGIS Administrator on the host, "
        "or leave startup_bridge_verify_arcpy false",
    ),
)


@dataclass
class RunVerdict:
    """The verdict on one interpreter."""

    key: str
    label: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = None


def parse_output(stdout: str) -> dict[str, Any] | None:
    """The verify script's JSON, from the last marker line (other start-up output may precede it)."""
    for line in reversed((stdout or "").splitlines()):
        if line.startswith(MARKER):
            try:
                value = json.loads(line[len(MARKER) :])
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def _norm_path(path: str, os_name: str) -> str:
    mod = ntpath if os_name == "nt" else posixpath
    return mod.normcase(mod.normpath(path))


def classify_arcpy(error: str) -> tuple[str, str]:
    """(kind, remedy) for an ``import arcpy`` failure message or traceback."""
    for kind, pattern, remedy in KNOWN_ARCPY_FAILURES:
        if pattern.search(error or ""):
            return kind, remedy
    return "other", 'read the traceback above; run the env\'s python.exe -c "import arcpy" on the host'


def _hook_problem(run: dict[str, Any], report: dict[str, Any]) -> str | None:
    bridge = report.get("bridge")
    label = run.get("label", run.get("key"))
    if not bridge:
        if run.get("environment", {}).get("PYTHONUSERBASE"):
            if report.get("user_site_enabled") is False:
                return (
                    f"{label}: the bridge did not run: this Python's user site is disabled; use scope machine"
                )
            return (
                f"{label}: the bridge did not run: usercustomize.py in {report.get('user_site')} was not "
                "imported; check the file is there and that no other usercustomize.py comes first on sys.path"
            )
        return (
            f"{label}: the bridge did not run: zzz_arcgis_conda_bridge.pth is missing from "
            f"{run.get('own')} or failed; re-run the role, then python.exe with ARCGIS_CONDA_BRIDGE_DEBUG=1"
        )
    runs = bridge.get("runs") or []
    errors = [r.get("error") for r in runs if isinstance(r, dict) and r.get("error")]
    if errors and not any(isinstance(r, dict) and r.get("matched") for r in runs):
        return f"{label}: the bridge ran but could not act: {'; '.join(errors)}; run the role again"
    if runs and not any(isinstance(r, dict) and r.get("matched") for r in runs):
        why = "; ".join(
            f"{s.get('id')}: {s.get('why')}"
            for r in runs
            if isinstance(r, dict)
            for s in r.get("skipped") or []
        )
        return (
            f"{label}: the bridge ran but no entry matched this interpreter ({why or 'no entries'}): facts "
            "are stale; run the probe (arcgis_facts) and the role again"
        )
    return None


def judge_run(run: dict[str, Any], rc: int | None, stdout: str, stderr: str) -> RunVerdict:
    """Judge one interpreter's verify output against what the plan expected of it."""
    key, label = str(run.get("key")), str(run.get("label", run.get("key")))
    verdict = RunVerdict(key=key, label=label, ok=False)
    report = parse_output(stdout)
    verdict.report = report
    if report is None:
        tail = " ".join((stderr or stdout or "").strip().splitlines()[-3:])
        verdict.problems.append(
            f"{label}: {run.get('python_exe')} gave no verify result (rc {rc}): {tail or 'no output'}; "
            "run it by hand on the host: a broken interpreter or start-up hook shows there"
        )
        return verdict

    os_name = str(report.get("os_name") or "nt")
    if str(report.get("python")) != str(run.get("python")) or int(report.get("bits") or 0) != int(
        run.get("bits") or 0
    ):
        verdict.problems.append(
            f"{label}: is Python {report.get('python')} {report.get('bits')}-bit, the facts say "
            f"{run.get('python')} {run.get('bits')}-bit: stale facts; run the probe and the role again"
        )
    if run.get("prefix") and _norm_path(str(report.get("prefix")), os_name) != _norm_path(
        str(run["prefix"]), os_name
    ):
        verdict.problems.append(
            f"{label}: sys.prefix is {report.get('prefix')}, the bridge's data says {run['prefix']}: "
            "run the probe and the role again"
        )
    # A Pro clone gets no bridge (it imports arcpy on its own): only its arcpy is judged.
    hook = None if run.get("verify_only") else _hook_problem(run, report)
    if hook:
        verdict.problems.append(hook)

    path = [_norm_path(str(p), os_name) for p in report.get("path") or []]
    own = _norm_path(str(run.get("own") or ""), os_name)
    own_index = path.index(own) if run.get("own") and own in path else -1
    for expected in run.get("expect") or []:
        key_path = _norm_path(expected, os_name)
        if key_path not in path:
            verdict.problems.append(
                f"{label}: {expected} is not on sys.path: the folder is missing or the bridge skipped it; "
                "check the other side exists (arcgis_env role), then run with ARCGIS_CONDA_BRIDGE_DEBUG=1"
            )
        elif path.index(key_path) < own_index:
            verdict.problems.append(
                f"{label}: {expected} comes before its own {run.get('own')} on sys.path: it would shadow "
                "this Python's own packages; another start-up file puts it there, remove that one"
            )
        else:
            verdict.notes.append(f"{expected} at position {path.index(key_path) + 1} of {len(path)}")

    if stderr and "arcgis_conda_bridge" in stderr:
        verdict.problems.append(f"{label}: start-up printed: {stderr.strip().splitlines()[-1]}")

    for found in report.get("compiled") or []:
        if not isinstance(found, dict):
            continue
        if found.get("ok") is False:
            verdict.problems.append(
                f"{label}: {found.get('module')} from {found.get('dir')} does not load "
                f"({found.get('error')}): the env's compiled packages fail in this Python; check that the "
                "env's Python, bitness and numpy match ArcGIS's (re-run arcgis_env), then start it with "
                "ARCGIS_CONDA_BRIDGE_DEBUG=1"
            )
        elif found.get("ok"):
            verdict.notes.append(f"compiled {found.get('module')} loads from {found.get('dir')}")
        else:
            verdict.notes.append(f"no compiled package only in {found.get('dir')} to try")

    arcpy = report.get("arcpy")
    if run.get("arcpy") and isinstance(arcpy, dict):
        if arcpy.get("ok"):
            verdict.notes.append(f"import arcpy works ({arcpy.get('file')}; licence: {arcpy.get('product')})")
        else:
            text = f"{arcpy.get('error')}\n{arcpy.get('traceback') or ''}"
            kind, remedy = classify_arcpy(text)
            extra = ""
            if run.get("conda_meta_expected") and report.get("conda_meta") is False:
                extra = " (and sys.prefix has no conda-meta folder, which Pro's arcpy wants)"
            verdict.problems.append(
                f"{label}: import arcpy failed [{kind}]: {arcpy.get('error')}{extra}; {remedy}"
            )
    verdict.ok = not verdict.problems
    return verdict


def judge_results(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Judge a registered win_command loop (``register: x`` then ``x.results``): one item per planned run."""
    verdicts = []
    for result in results or []:
        run = result.get("item") or {}
        if result.get("skipped"):
            continue
        if result.get("rc") is None and result.get("msg"):
            verdict = RunVerdict(
                key=str(run.get("key")),
                label=str(run.get("label")),
                ok=False,
                problems=[
                    f"{run.get('label')}: could not start {run.get('python_exe')}: {result.get('msg')}"
                ],
            )
        else:
            verdict = judge_run(run, result.get("rc"), result.get("stdout", ""), result.get("stderr", ""))
        verdicts.append(verdict)
    problems = [p for v in verdicts for p in v.problems]
    return {
        "ok": not problems,
        "problems": problems,
        "runs": [{k: v for k, v in asdict(verdict).items() if k != "report"} for verdict in verdicts],
    }
