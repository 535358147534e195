# Documentation stub: the work is done by the action plugin plugins/action/fleet_plan.py, on the controller.

DOCUMENTATION = r"""
module: fleet_plan
short_description: Plan what every role does on every workstation, on the controller
description:
  - Runs on the controller only; it never contacts a workstation.
  - O(mode=live) (site.yml, with C(run_once)) plans every host of the play batch from what
    M(arcgis_conda.fleet.fleet_observe) just read, and returns each host's exact change list (role,
    action, target, reason), grouped into the steps the roles apply, the verify spec and the variables the
    roles publish. A host whose inputs are bad gets C(status=failed) and the error naming the variable, the
    value and the fix; the others are planned all the same.
  - O(mode=offline) (playbooks/plan.yml) plans every host of O(group) and writes reports. For each host
    it takes the probe's measured C(ansible_facts.arcgis) and last snapshot from the fact cache, or,
    for a host never probed, the ArcGIS releases its inventory declares in C(fleet_arcgis_releases)
    (each C({product, version}), looked up in the release table of P(arcgis_conda.fleet.arcgis_stack#filter)).
  - Gives each role the arguments of its C(roles/<role>/vars/plan.yml) (templated from the role's defaults
    and the host's variables) and runs the role's planning code, so the plan and a real run decide the same
    way. A host with a cached snapshot also gets its change list against that observation.
  - Writes C(<lab>.html), C(<lab>.csv) and C(<lab>.json) per lab into O(report_dir); the HTML is one
    self-contained file.
  - A host whose input cannot be planned is reported with its error; the other hosts are still planned.
version_added: 1.0.0
author: arcgis-conda fleet team (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Never changes a host, so it plans alike in check mode (site.yml's C(--check) stops after it).
  platform:
    platforms: all
    support: full
    description: Runs on the controller only, whatever the hosts' platform.
options:
  mode:
    description: V(live) plans the play batch from fresh observations; V(offline) plans a group and reports.
    type: str
    choices: [offline, live]
    default: offline
  hosts:
    description: The hosts to plan; default the play batch (live) or O(group) (offline).
    type: list
    elements: str
  roles:
    description:
      - The roles whose changes are planned, in the order they are applied (all are validated and planned
        for their outputs); empty means every role of the collection, in its apply order.
      - A name that is no role of the collection fails the task, naming the roles there are.
    type: list
    elements: str
    default: []
  run_tags:
    description:
      - The run's C(--tags) (C(ansible_run_tags)); a role is planned only when C(all) or its name is among
        them.
    type: list
    elements: str
    default: [all]
  skip_tags:
    description: The run's C(--skip-tags) (C(ansible_skip_tags)); a role named there is not planned.
    type: list
    elements: str
    default: []
  variables:
    description: Role variables every host is planned with, over its own (uninstall.yml sets the states).
    type: dict
    default: {}
  group:
    description: The inventory group whose hosts are planned.
    type: str
    default: windows_workstations
  report_dir:
    description: Folder for the per-lab reports (created when missing); unset, C(<state>/reports/plan).
    type: path
  lock:
    description:
      - Also solve each distinct conda stack once (py-rattler) and write its explicit lockfile into
        O(lock_dir), exactly as the arcgis_env role's lock step would; needs the channels to be reachable
        (a stack whose channel is not falls back to solving on the hosts, and the summary says so).
      - Pins the channels cannot satisfy fail the task, naming the packages and the ArcGIS release.
    type: bool
    default: false
  lock_dir:
    description:
      - Where lockfiles go; unset, C(<state>/.cache/locks), where site.yml's arcgis_env reads and writes them.
      - C(<state>) is the fleet's state folder - C(fleet_state_dir), else C($ARCGIS_FLEET_STATE_DIR), else the
        project folder.
    type: path
  cache_dir:
    description: py-rattler's repodata cache; unset, C(<state>/.cache/rattler).
    type: path
  channel_mirrors:
    description: "Controller-side copies of channels: C({URL hosts use: URL the controller reads})."
    type: dict
    default: {}
  timeout:
    description: Seconds to wait for a channel before falling back.
    type: float
    default: 10.0
  applies:
    description:
      - V(false) when the plan's changes are not applied before its verify spec runs
        (C(playbooks/verify.yml)). A program inside a folder the changes would secure is then left out of
        the verify runs (running it as admin would trust a folder users can still write), and a warning
        says why.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Plan the fleet from cached facts or declared releases
  arcgis_conda.fleet.fleet_plan:
    group: windows_workstations
"""

RETURN = r"""
summary:
  description:
    - Hosts planned, counts per lab and status, failed hosts, seconds taken, report files, distinct plans
      and distinct conda stacks, and with O(lock) the lock outcome per stack.
  returned: always
  type: dict
hosts:
  description:
    - Offline, one row per host, the same data as the JSON reports.
    - Live, a dict per host with C(status), C(error), C(changes) (list of C({role, step, action, target,
      reason, item})), C(steps), C(summary), C(verify), C(judge), C(published), C(warnings) and C(sources)
      (the C(fleet_anaconda_channels) choice, then where each installer and env comes from).
  returned: always
  type: raw
"""
