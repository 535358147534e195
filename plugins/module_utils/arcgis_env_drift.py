"""Env records and drift: what each arcgis_env env was built from, and how the host differs from it now.

Every env the role builds gets a record (``<arcgis_env_host_dir>\\records\\<name>.json``, in the role's
admin-only folder): the ArcGIS product, release and id it serves, its Python, the pins, the lock it was
installed from (hash) and the tools and extras it got. Observe reads the records with their owners; one
an administrator did not write is ignored. The plan compares each record with the host and the plan:

- ``up to date``: the env still matches its record and the plan;
- ``ArcGIS upgraded`` (a record of the same product, another release, e.g. Pro 3.3 -> 3.5): the new env is
  built beside the old one (its own name), then the old one is retired after verify passed;
- ``changed by hand`` (the record matches the plan, the env's packages do not): reported, repaired only
  with ``arcgis_env_repair: true``;
- ``ArcGIS removed`` (no ArcGIS of that product any more): the env and its record are retired.

Retiring is a change list of its own (role ``arcgis_env_retire``), applied by site.yml after verify, so a
failed rebuild, or a new env that fails verify, leaves the old env in use. ``arcgis_env_keep_previous``
keeps replaced envs. No Ansible imports: plain data in, plain data out.
"""

from __future__ import annotations

import json
import ntpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RECORDS = "records"
RECORD_SCHEMA = 1
RETIRE_ROLE = "arcgis_env_retire"
PINNED = ("numpy", "matplotlib", "scipy")


def records_dir(host_dir: str) -> str:
    return ntpath.join(host_dir, RECORDS)


def record_path(host_dir: str, name: str) -> str:
    return ntpath.join(records_dir(host_dir), f"{name}.json")


def make_record(plan: Mapping[str, Any], lock_sha256: str | None) -> dict[str, Any]:
    """What the env at ``plan['prefix']`` is built from (no timestamp: equal plans, equal records)."""
    return {
        "schema": RECORD_SCHEMA,
        "name": plan["name"],
        "prefix": plan["prefix"],
        "kind": plan["kind"],
        "method": plan["method"],
        "arcgis": {
            "id": plan["arcgis_id"],
            "product": plan["product"],
            "version": plan["version"],
            "python": plan.get("python_version") or plan["python_major_minor"],
            "python_major_minor": plan["python_major_minor"],
            "bits": plan["bits"],
        },
        "pins": dict(sorted(plan["pins"].items())),
        "spec_key": plan.get("spec_key") or "",
        "lock_sha256": lock_sha256,
        "install_specs": list(plan.get("install_specs") or []),
        "clone_source": plan.get("clone_source") or "",
    }


def record_text(record: Mapping[str, Any]) -> str:
    return json.dumps(record, indent=1, sort_keys=True) + "\n"


def observed_records(
    texts: Mapping[str, str | None], trusted: Callable[[str], bool]
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Records by env name from the observed files, and a warning for each one not to be believed."""
    records: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    for path, text in sorted(texts.items()):
        if not trusted(path):
            warnings.append(f"{path}: an env record an administrator did not write; ignored")
            continue
        try:
            record = json.loads(text or "")
        except ValueError:
            warnings.append(f"{path}: not an env record (no JSON); ignored")
            continue
        if not isinstance(record, dict) or record.get("schema") != RECORD_SCHEMA or not record.get("name"):
            warnings.append(f"{path}: not an env record of schema {RECORD_SCHEMA}; ignored")
            continue
        records[str(record["name"])] = record
    return records, warnings


@dataclass
class Drift:
    """One env's state against its record and the plan; ``retire`` says the retire pass removes it."""

    name: str
    prefix: str
    state: str  # up to date | new | recorded now | ArcGIS upgraded | changed by hand | ArcGIS removed | gone
    reason: str
    repair: bool = False  # changed by hand, and arcgis_env_repair asks to bring it back
    retire: bool = False
    record: str = ""  # the record file, for the retire pass
    details: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.name}: {self.state}: {self.reason}"


def _major(version: str | None) -> str:
    return str(version or "").split(".", 1)[0]


def upgrade_reason(old: Mapping[str, Any], plan: Mapping[str, Any]) -> str:
    """'ArcGIS pro 3.3 -> 3.5: Python 3.11 -> 3.11, numpy 1.24.3 -> 1.26.4, ...' with the jumps named."""
    arcgis = old.get("arcgis") or {}
    parts = []
    py_old, py_new = str(arcgis.get("python_major_minor") or ""), str(plan["python_major_minor"])
    jump = " (Python minor jump: packages built for one do not load in the other)" if py_old != py_new else ""
    parts.append(f"Python {py_old} -> {py_new}{jump}")
    old_pins = old.get("pins") or {}
    for name in PINNED:
        before, after = old_pins.get(name), plan["pins"].get(name)
        if before is None and after is None:
            continue
        text = f"{name} {before or '-'} -> {after or '-'}"
        if name == "numpy" and before and after and _major(before) != _major(after):
            text += f" (numpy major jump {_major(before)} -> {_major(after)}: extensions built for one fail)"
        parts.append(text)
    return f"ArcGIS {arcgis.get('product')} {arcgis.get('version')} -> {plan['version']}: " + ", ".join(parts)


def classify(
    plans: Sequence[Mapping[str, Any]],
    records: Mapping[str, Mapping[str, Any]],
    record_files: Mapping[str, str],
    env_exists: Callable[[str], bool],
    hand_changes: Callable[[Mapping[str, Any]], list[str]],
    lock_shas: Mapping[str, str | None],
    *,
    repair: bool = False,
    keep_previous: bool = False,
) -> list[Drift]:
    """Every recorded env and every planned env, classified (see the module docstring).

    ``hand_changes(plan)`` lists how an existing env differs from its plan (empty: it matches);
    ``lock_shas`` is the SHA-256 of the lock each env is installed from (None: no lock).
    """
    by_name = {str(p["name"]): p for p in plans}
    out: list[Drift] = []
    for plan in plans:
        name, prefix = str(plan["name"]), str(plan["prefix"])
        record = records.get(name)
        exists = env_exists(prefix)
        if not exists:
            out.append(Drift(name, prefix, "new", f"built for ArcGIS {plan['product']} {plan['version']}"))
            continue
        if record is None:
            out.append(Drift(name, prefix, "recorded now", "built before env records; its record is written"))
            continue
        arcgis = record.get("arcgis") or {}
        same_arcgis = (arcgis.get("product"), str(arcgis.get("version")), record.get("pins")) == (
            plan["product"],
            str(plan["version"]),
            dict(sorted(plan["pins"].items())),
        )
        if not same_arcgis:
            out.append(
                Drift(
                    name,
                    prefix,
                    "ArcGIS upgraded",
                    upgrade_reason(record, plan)
                    + ". The env keeps its name (arcgis_env_names), so it cannot "
                    "be rebuilt beside itself: left as it is. Fix: give the new release another name, or "
                    "remove the env, and run again",
                )
            )
            continue
        changed = hand_changes(plan)
        # What the env was last brought to is what the plan asks now: any difference was made on the host.
        same_plan = (
            list(record.get("install_specs") or []) == list(plan.get("install_specs") or [])
            and record.get("lock_sha256") == lock_shas.get(name)
            and str(record.get("spec_key") or "") == str(plan.get("spec_key") or "")
        )
        if changed and same_plan:
            how = "; ".join(changed)
            out.append(
                Drift(
                    name,
                    prefix,
                    "changed by hand",
                    f"{how}. "
                    + (
                        "Brought back to its plan (arcgis_env_repair: true)"
                        if repair
                        else "Left as it is; arcgis_env_repair: true brings it back to its plan"
                    ),
                    repair=repair,
                    details=changed,
                )
            )
            continue
        out.append(Drift(name, prefix, "up to date", f"ArcGIS {plan['product']} {plan['version']}"))
    for name, record in sorted(records.items()):
        if name in by_name:
            continue
        prefix = str(record.get("prefix") or "")
        path = record_files.get(name, "")
        if not prefix or not env_exists(prefix):
            out.append(
                Drift(
                    name,
                    prefix,
                    "gone",
                    "the env is no longer there: its record is removed",
                    retire=True,
                    record=path,
                )
            )
            continue
        arcgis = record.get("arcgis") or {}
        successor = next(
            (
                p
                for p in plans
                if p["product"] == arcgis.get("product") and int(p["bits"]) == int(arcgis.get("bits") or 0)
            ),
            None,
        )
        keep = " Kept (arcgis_env_keep_previous: true)." if keep_previous else ""
        if successor is not None:
            reason = (
                f"{upgrade_reason(record, successor)}. Rebuilt beside it as {successor['name']}; this env is "
                "retired once verify passed." + keep
            )
            out.append(Drift(name, prefix, "ArcGIS upgraded", reason, retire=not keep_previous, record=path))
        else:
            reason = (
                f"ArcGIS {arcgis.get('product')} {arcgis.get('version')} is no longer on this host (or no "
                "longer served): the env and its bridge are retired once verify passed." + keep
            )
            out.append(Drift(name, prefix, "ArcGIS removed", reason, retire=not keep_previous, record=path))
    return out


def retire_changes(drifts: Sequence[Drift], c: Any) -> None:
    """The retire pass: each replaced or orphaned env's folder, then its record (files steps)."""
    for drift in drifts:
        if not drift.retire:
            continue
        if drift.prefix and drift.state != "gone":
            c.delete(drift.prefix, f"retire env {drift.name}: {drift.state}")
        if drift.record:
            c.delete(drift.record, f"the record of env {drift.name}")
