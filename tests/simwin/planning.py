"""The fleet's plan of one host, in-process: the real engine (``fleet_flow.FleetPlanner``), the roles'
real wiring (``roles/<role>/vars/plan.yml``, templated and validated as the ``fleet_plan`` action does),
from recorded facts and snapshots (``tests.simwin.record``), without ansible-playbook."""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from ansible_collections.arcgis_conda.fleet.plugins.action.fleet_plan import ARGUMENT_SPEC, RoleArgs
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_flow as ff
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_plan import HostInput
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import ROOT, Fleet, Role
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.registry import ROLES


@functools.cache
def scratch_copy(lock_dir: Path) -> Path:
    """The recorded locks in a scratch folder: planning writes beside its lock folder (the solve guard)."""
    copy = Path(tempfile.mkdtemp(prefix="arcgis-fleet-locks-")) / "locks"
    if lock_dir.is_dir():
        shutil.copytree(lock_dir, copy)
    else:
        copy.mkdir()
    return copy


def plan_host(
    host: str,
    seen: dict[str, Any],
    variables: dict[str, Any],
    lock_dir: Path,
    roles: Sequence[Role] = ROLES,
    selected: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The host's plan (as the fleet_plan action returns it in a live run) from what observe ``seen``."""
    item = HostInput(
        host=host,
        lab="lab_sim",
        facts=list(seen["facts"]),
        variables={**variables, "inventory_hostname": host},
        observed=seen["observed"],
    )
    return planner(lock_dir, roles, selected).plan([item])[host]


def planner(
    lock_dir: Path, roles: Sequence[Role] = ROLES, selected: Sequence[str] | None = None, lock: bool = True
) -> ff.FleetPlanner:
    """The engine as the fleet_plan action builds it, finding the recording's locks (``lock``: as a live
    run or ``fleet_plan_lock`` would; False: as an offline plan, which may plan in several processes)."""
    options = {k: v.get("default") for k, v in ARGUMENT_SPEC.items()}
    lock_dir = scratch_copy(Path(lock_dir))
    options.update(mode="live", lock=True, lock_dir=str(lock_dir), cache_dir=str(lock_dir / "rattler"))
    fleet = Fleet(
        live=False,  # the recording's locks are found where options say (plan.yml's way), never solved
        options=options,
        read_file=ff.lock_reader(ROOT),
        project_path=ff.project_path,
        warn=lambda message: None,
        lock=lock,
    )
    role_args = RoleArgs(Templar(loader=DataLoader()), "__omit_place_holder__")
    names = list(selected) if selected is not None else [role.name for role in roles]
    return ff.FleetPlanner(roles, names, role_args, role_args.check_public, fleet)
