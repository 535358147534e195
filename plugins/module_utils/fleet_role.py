"""The one interface every role implements, and the records the engine passes through it.

A role is one module, ``plugins/module_utils/<role>_role.py``, holding one :class:`Role` subclass (the
models: a Terraform resource, which has schema, read, plan and apply in one file, and a PowerShell DSC
resource's Get/Test/Set). The engine (``fleet_flow``) calls it in this order, for every host:

1. :meth:`Role.observe`: what observe must read for this role (paths, Root-store thumbprints), from the
   role's validated arguments and what earlier roles will have on the host;
2. :meth:`Role.plan` (or :meth:`Role.plan_fleet` for a fleet-wide step, arcgis_env's one solve per
   stack): the desired state and a :class:`RolePlan`: what the role publishes for the next roles, the
   lines and warnings of the report, ``make_changes`` (the changes against the snapshot), what verify
   runs and reads, and what the judgement needs;
3. :meth:`Role.judge`: the problems found in verify's answer.

The registry (``fleet_registry.ROLES``) gives the apply order; the engine, the action plugins and the
report take the role list, the variable prefixes and the columns from it. No Ansible imports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_changes import Changes
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import Read, Snapshot

# The collection's root: roles/<role>/files and the controller files the inventory names are read from it.
ROOT = Path(__file__).resolve().parents[2]


class PlanError(ValueError):
    """A planner's inputs are wrong; the message names the variable, the value and the fix."""


class HostPlanError(ValueError):
    """The host's inputs cannot be planned; the message names host, variable, value and fix."""


class FleetError(RuntimeError):
    """The batch cannot be planned at all (e.g. a stack no solver can satisfy): nothing changes anywhere."""


@dataclass
class ObserveContext:
    """What a role's observe step knows before the host's second read."""

    host: str
    facts: list[dict[str, Any]]  # ArcGIS installs as ``ansible_facts.arcgis`` will hold them
    first: Snapshot  # the first read's answer: profiles, session, the records read early
    python_prefixes: list[str]  # the folder of every ArcGIS Python found (whatever its status)
    pro_conda_roots: list[str]  # every ArcGIS Pro's own conda root
    read_file: Callable[[str], bytes]
    # What earlier roles make on the host (role name -> their observe publications).
    published: dict[str, Any] = field(default_factory=dict)


@dataclass
class Observation:
    """A role's share of observe's second read."""

    reads: list[Read] = field(default_factory=list)
    thumbprints: list[str] = field(default_factory=list)  # Root-store entries to look up
    env_names: list[str] = field(default_factory=list)  # machine environment variables to read
    hives: list[str] = field(default_factory=list)  # SIDs of offline profiles whose per-user data is needed
    secret: bool = False  # what is read back holds a password: the observe result is hidden
    published: dict[str, Any] = field(default_factory=dict)  # for the observe step of later roles


@dataclass
class RoleContext:
    """One host as every role plans it: its ArcGIS, its snapshot and the run's shared bookkeeping."""

    host: str
    installs: list[dict[str, Any]]
    snapshot: Snapshot | None
    planned: dict[str, str]  # paths planned by earlier roles on this host (see fleet_changes.Changes)
    read_file: Callable[[str], bytes]  # a controller file (certificates, locks)
    gone: set[str] = field(default_factory=set)  # paths this run deletes, all roles together
    trusted: list[str] = field(default_factory=list)  # paths the run trusts, all roles together (audit)
    os_bits: int | None = None
    moved: dict[str, str] = field(default_factory=dict)  # files this run moves aside, and where (all roles)

    def changes(self, role: str) -> Changes | None:
        if self.snapshot is None:
            return None
        return Changes(role, self.snapshot, self.planned, self.gone, self.trusted, self.moved)


@dataclass
class RolePlan:
    """One role's plan for one host, as plain data and two closures over the snapshot."""

    lines: list[str] = field(default_factory=list)  # the report's column for this role
    published: dict[str, Any] = field(default_factory=dict)  # variables for the roles after it
    verify_reads: list[Read] = field(default_factory=list)
    verify_runs: list[dict[str, Any]] = field(default_factory=list)
    # What judging the verify answers needs, kept with the host's plan (plain data).
    judge: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Planned, but not all of it (the host is ``incomplete``): each names its fix.
    problems: list[str] = field(default_factory=list)
    # Where packages and installers come from (the report's sources column).
    sources: list[str] = field(default_factory=list)
    # A package mirror on a share: conda reads it with the run's credentials (package_sources).
    share_mirror: str = ""
    # Compares the role's desired state with the snapshot; called in the order the playbook applies the
    # roles (uninstall: reversed), so what one role deletes is known to the next (folders left empty).
    make_changes: Callable[[Changes], None] | None = None
    # Changes applied after verify passed (site.yml's retire step): envs an upgrade replaced or orphaned.
    make_retire: Callable[[Changes], None] | None = None


@dataclass
class Fleet:
    """What a fleet-wide step may use: the run's settings and the controller's services."""

    live: bool
    options: Mapping[str, Any]  # the fleet_plan action's arguments (lock, cache and report folders)
    read_file: Callable[[str], bytes]
    project_path: Callable[[str], Path]  # a configured folder, relative to the project
    warn: Callable[[str], None]
    lock: bool = False
    # Per-run results a role keeps for the summary (e.g. arcgis_env's locks), by role.
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class HostPlanning:
    """One host as a fleet-wide step sees it: its validated arguments and context, or its error."""

    args: dict[str, Any]
    ctx: RoleContext
    plan: RolePlan | None = None
    error: str = ""


class Role:
    """The interface. Subclasses set ``name`` and implement ``observe``, ``plan`` and ``judge``."""

    name: ClassVar[str] = ""
    # The planner arguments' Ansible argument spec; a role whose arguments come in parts gives one per part.
    argument_spec: ClassVar[Mapping[str, Any]] = {}
    argument_parts: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    # The report column for this role.
    column: ClassVar[str] = ""

    def validate(
        self, args: Mapping[str, Any], validate: Callable[[Mapping[str, Any], Mapping[str, Any]], dict]
    ) -> dict:
        """The planner arguments, validated by ``validate(spec, values)`` (Ansible's validator)."""
        if self.argument_parts:
            return {part: validate(spec, args[part]) for part, spec in self.argument_parts.items()}
        return validate(self.argument_spec, args)

    def first_reads(self, args: Mapping[str, Any] | None) -> list[Read]:
        """What observe's first read must hold for this role's second (e.g. a record naming paths)."""
        return []

    def observe(self, args: Mapping[str, Any], octx: ObserveContext) -> Observation:
        raise NotImplementedError

    def plan(self, args: Mapping[str, Any], ctx: RoleContext, fleet: Fleet) -> RolePlan:
        raise NotImplementedError

    def plan_fleet(self, hosts: Sequence[HostPlanning], fleet: Fleet) -> None:
        """Plan every host of the batch: by default one at a time. A role with a fleet-wide step (one
        solve per distinct stack) overrides this. Sets each host's ``plan`` or its ``error``."""
        for host in hosts:
            try:
                host.plan = self.plan(host.args, host.ctx, fleet)
            except HostPlanError as exc:
                host.error = str(exc)
            except PlanError as exc:  # a pure planner's refusal of an input: this host's, named
                host.error = f"{host.ctx.host}: {self.name}: {exc}"

    def judge(self, judge: Mapping[str, Any], host: str, snap: Snapshot) -> list[str]:
        raise NotImplementedError
