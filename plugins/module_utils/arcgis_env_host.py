"""Host-side decisions for arcgis_env, taken on the controller from what the host reported.

What differs between an env on a workstation (its packages, from the ``conda-meta`` records observe
read: ``fleet_host.conda_packages``) and its plan (lock, pins or clone); the exact conda command lines
that change only that; whether the env's numpy, matplotlib and scipy equal ArcGIS's; and the
``arcgis_env_envs`` records other roles read. Plain data in and out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils.optional_lib import missing

try:
    from rattler import MatchSpec, Version, VersionSpec
    from rattler.exceptions import InvalidVersionError, InvalidVersionSpecError
except ImportError as _exc:  # optional: the feature that needs it fails, naming it
    RATTLER_IMPORT_ERROR: ImportError | None = _exc
    _why = "to compare the conda versions arcgis_env finds on a host"
    MatchSpec = missing("MatchSpec", "py-rattler", _why, _exc)
    Version = missing("Version", "py-rattler", _why, _exc)
    VersionSpec = missing("VersionSpec", "py-rattler", _why, _exc)
    InvalidVersionError = missing("InvalidVersionError", "py-rattler", _why, _exc)
    InvalidVersionSpecError = missing("InvalidVersionSpecError", "py-rattler", _why, _exc)
else:
    RATTLER_IMPORT_ERROR = None

PUBLISHED_KEYS = (
    "arcgis_id",
    "name",
    "prefix",
    "python_exe",
    "site_packages",
    "python_major_minor",
    "bits",
    "kind",
)


def _satisfied(spec_text: str, installed: Mapping[str, tuple[str, str]]) -> bool:
    spec = MatchSpec(spec_text)
    found = installed.get(spec.name.normalized)
    if found is None:
        return False
    if spec.version is None:
        return True
    try:
        return VersionSpec(spec.version).matches(Version(found[0]))
    except (InvalidVersionSpecError, InvalidVersionError):
        return False


def _quiet(argv: list[str], shortcuts: bool = True) -> list[str]:
    """``--no-shortcuts`` when the plan says so (arcgis_env_spec.SHORTCUTS_NOTE: conda's own default makes
    the tools' Start-menu shortcuts, for all users under an AllUsers Miniconda, and removes them with the
    env)."""
    return [*argv, *([] if shortcuts else ["--no-shortcuts"]), "--yes", "--quiet"]


def _channel_args(channels: Sequence[str]) -> list[str]:
    args = ["--override-channels"] if channels else []
    for channel in channels:
        args += ["--channel", channel]
    return args


def env_change(
    plan: Mapping[str, Any],
    lock_packages: Sequence[Mapping[str, str]] | None,
    installed: Mapping[str, tuple[str, str]] | None,
    env_exists: bool,
) -> dict[str, Any]:
    """The action for one env: ``none``, ``create`` or ``update``, with argv and a one-line summary.

    ``lock_packages`` are the lock's records (``name``, ``version``, ``build``, ``line``) for method
    ``lock``; ignored otherwise.
    """
    prefix = plan["prefix"]
    conda = plan["conda_exe"]
    method = plan["method"]
    result: dict[str, Any] = {
        "name": plan["name"],
        "action": "none",
        "argv": [],
        "update_text": "",
        "update_path": update_path(plan) if plan.get("host_lock_path") else "",
        "missing": [],
        "different": [],
        "extra": [],
        "summary": "",
    }
    if method == "clone":
        if not env_exists:
            argv = [conda, "create", "--clone", plan["clone_source"], "--prefix", prefix]
            if plan.get("clone_pinned_flag"):
                argv.append("--pinned")
            result.update(
                action="create",
                argv=_quiet(argv, plan.get("shortcuts", True)),
                missing=list(plan["install_specs"]),
                summary=f"clone {plan['clone_source']} to {prefix}, then add "
                + " ".join(plan["install_specs"]),
            )
            return result
        installed = dict(installed or {})
        wanted = [s for s in plan["install_specs"] if not _satisfied(s, installed)]
        if wanted:
            result.update(
                action="update",
                argv=_quiet(
                    [conda, "install", "--prefix", prefix, *_channel_args(plan["channels"]), *wanted],
                    plan.get("shortcuts", True),
                ),
                missing=wanted,
                summary=f"add {' '.join(wanted)} to {prefix} (Esri's builds held by conda-meta\\pinned)",
            )
        else:
            result["summary"] = f"{prefix} has {' '.join(plan['install_specs']) or 'everything'} already"
        return result

    if not env_exists:
        if method == "lock":
            argv = [conda, "create", "--prefix", prefix, "--file", plan["host_lock_path"]]
            summary = f"create {prefix} from lock {plan['spec_key']} ({len(lock_packages or [])} packages)"
        else:
            argv = [
                conda,
                "create",
                "--prefix",
                prefix,
                *_channel_args(plan["channels"]),
                *plan["install_specs"],
            ]
            summary = (
                f"create {prefix} with {' '.join(plan['install_specs'])} (no lock: conda solves on the host)"
            )
        result.update(action="create", argv=_quiet(argv, plan.get("shortcuts", True)), summary=summary)
        return result

    installed = dict(installed or {})
    if method == "lock":
        locked = {p["name"].lower(): p for p in lock_packages or []}
        missing = sorted(n for n in locked if n not in installed)
        different = sorted(
            n for n in locked if n in installed and installed[n] != (locked[n]["version"], locked[n]["build"])
        )
        extra = sorted(n for n in installed if n not in locked)
        result.update(missing=missing, different=different, extra=extra)
        if missing or different:
            lines = [
                locked[n]["line"] for n in _lock_order(lock_packages or [], set(missing) | set(different))
            ]
            result.update(
                action="update",
                argv=_quiet(
                    [conda, "install", "--prefix", prefix, "--file", result["update_path"]],
                    plan.get("shortcuts", True),
                ),
                update_text="# arcgis-conda fleet: only what differs from the lock\n@EXPLICIT\n"
                + "\n".join(lines)
                + "\n",
                summary=(
                    f"bring {prefix} back to lock {plan['spec_key']}: "
                    + ", ".join(
                        [f"add {n}" for n in missing]
                        + [
                            f"{n} {'-'.join(installed[n])} -> {locked[n]['version']}-{locked[n]['build']}"
                            for n in different
                        ]
                    )
                ),
            )
        else:
            result["summary"] = f"{prefix} matches lock {plan['spec_key']}" + (
                f" (left alone, not in the lock: {', '.join(extra)})" if extra else ""
            )
        return result

    unmet = [s for s in plan["install_specs"] if not _satisfied(s, installed)]
    if unmet:
        pins = [s for s in plan["install_specs"] if s.startswith("python=") or "==" in s]
        argv = [
            conda,
            "install",
            "--prefix",
            prefix,
            *_channel_args(plan["channels"]),
            *dict.fromkeys(pins + unmet),
        ]
        result.update(
            action="update",
            argv=_quiet(argv, plan.get("shortcuts", True)),
            missing=unmet,
            summary=f"install {' '.join(unmet)} into {prefix}",
        )
    else:
        result["summary"] = f"{prefix} satisfies {' '.join(plan['install_specs'])}"
    return result


def _lock_order(lock_packages: Sequence[Mapping[str, str]], names: set[str]) -> list[str]:
    return [p["name"].lower() for p in lock_packages if p["name"].lower() in names]


def update_path(plan: Mapping[str, Any]) -> str:
    path = str(plan["host_lock_path"])
    return path[:-4] + "-update.txt" if path.endswith(".txt") else path + "-update.txt"


def verify_env(plan: Mapping[str, Any], stdout: str) -> list[str]:
    """Problems (empty when fine) comparing the env's own report with ArcGIS's versions."""
    label = f"{plan['name']} ({plan['prefix']})"
    try:
        report = json.loads(stdout)
    except ValueError:
        return [f"{label}: the version check printed no JSON: {stdout[:200]!r}"]
    problems = []
    python = str(report.get("python") or "")
    if ".".join(python.split(".")[:2]) != plan["python_major_minor"]:
        problems.append(
            f"{label}: Python is {python or 'missing'} in the env but {plan['python_major_minor']} in "
            f"ArcGIS {plan['product']} {plan['version']}"
        )
    found = report.get("packages") or {}
    for name, want in sorted(plan["pins"].items()):
        got = found.get(name)
        if got != want:
            reason = (report.get("errors") or {}).get(name)
            problems.append(
                f"{label}: {name} is {got or 'missing'} in the env but {want} in ArcGIS {plan['product']} "
                f"{plan['version']}" + (f" ({reason})" if reason and not got else "")
            )
    return problems


def published_envs(plans: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The `arcgis_env_envs` records (common contract) for a host's plans."""
    return [{key: plan[key] for key in PUBLISHED_KEYS} for plan in plans]
