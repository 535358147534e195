#!/usr/bin/python
"""Documentation stub for the arcgis_env_lock action plugin (the code runs on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arcgis_env_lock
short_description: Plan ArcGIS conda envs for every host and lock each distinct Python stack once
description:
  - Reads, for every host in O(hosts), the host's ArcGIS Python facts and Miniconda installs from the
    variable named by O(input_var) (the arcgis_env role sets it to a dict with C(arcgis), the
    C(ansible_facts.arcgis) list, and C(conda_installs), the role's C(arcgis_env_conda_installs)).
  - Builds one conda env spec per ArcGIS Python (platform C(win-32) for 32-bit ArcMap, C(win-64) otherwise;
    numpy, matplotlib and scipy pinned to the measured versions; IPython, Jupyter Notebook and Spyder capped
    to what the Python line runs; extra packages, which may never move a pin), groups hosts by spec, and
    solves each distinct spec once with py-rattler against the channels.
  - Writes one explicit lockfile per spec (C(@EXPLICIT), then one C(url#md5) line per package, dependencies
    first) to O(lock_dir), named C(<spec key>.txt). An existing lock for the same spec key is reused unless
    O(refresh=true).
  - When the controller cannot read a channel, the stacks that need it fall back to a per-host
    C(conda create) with the pins, and the task prints a warning saying so.
  - When the channels cannot satisfy a stack's pins, the task fails before any host is touched, naming the
    packages, the platform and the ArcGIS releases concerned.
  - Runs on the controller only; use it with C(run_once=true).
version_added: "0.1.0"
author:
  - arcgis-conda fleet team
options:
  hosts:
    description:
      - Hosts to plan. Defaults to the hosts of the current batch (C(ansible_play_batch)).
    type: list
    elements: str
  input_var:
    description:
      - Name of the per-host variable holding C(arcgis) (the facts list) and C(conda_installs).
    type: str
    default: __arcgis_env_host_input
  state:
    description:
      - V(present) plans and locks; V(absent) only plans (names and prefixes to remove), without solving.
    type: str
    choices: [present, absent]
    default: present
  settings:
    description:
      - Fleet-wide choices, the keys of the role variables without their C(arcgis_env_) prefix
        C(channel_base), C(channels), C(tools), C(extra_packages), C(products), C(names), C(pro_mode),
        C(pro_modes), C(prefix_root), C(host_lock_dir), C(package_format).
    type: dict
    default: {}
  channel_mirrors:
    description:
      - Maps a channel URL (as the hosts download from it) to where the controller reads its repodata
        instead, for example C(https://repo.anaconda.com/pkgs/free) to C(file:///srv/mirror/free).
        Lock lines keep the channel URL the hosts download from.
    type: dict
    default: {}
  lock_dir:
    description:
      - Controller directory for the lockfiles; relative to the directory of the ansible.cfg in use.
    type: path
    default: .cache/locks
  cache_dir:
    description:
      - Controller directory for downloaded repodata; relative to the directory of the ansible.cfg in use.
    type: path
    default: .cache/rattler
  refresh:
    description:
      - Solve again even when a lock for the same spec key exists.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for a channel to answer before falling back to per-host solving.
    type: float
    default: 10.0
notes:
  - Check mode is supported; lockfiles are a controller-side cache and are written in check mode too.
seealso:
  - name: conda explicit files (CEP draft "text spec input files")
    description: The format C(conda create --file) reads.
    link: https://github.com/conda/ceps/pull/79
"""

EXAMPLES = r"""
- name: Lock each distinct ArcGIS Python stack once for the whole play
  arcgis_conda.fleet.arcgis_env_lock:
    settings:
      channel_base: https://mirror.lab.example.org/pkgs
      extra_packages: [pandas]
  run_once: true
  register: arcgis_env_lock

- name: Show this host's env plan
  ansible.builtin.debug:
    var: arcgis_env_lock.plans[inventory_hostname]
"""

RETURN = r"""
plans:
  description: Per host, one plan per ArcGIS Python that gets an env.
  returned: always
  type: dict
  sample:
    lab-pc-01:
      - arcgis_id: desktop-10.4.1-32
        name: arc1041
        kind: conda
        method: lock
        prefix: C:\Miniconda2\envs\arc1041
        python_exe: C:\Miniconda2\envs\arc1041\python.exe
        platform: win-32
        spec_key: abf92a6293f0de25
        lock_path: /srv/ansible/.cache/locks/abf92a6293f0de25.txt
        host_lock_path: C:\ProgramData\arcgis-conda\arcgis_env\locks\arc1041.txt
        pins: {numpy: 1.9.2, matplotlib: 1.4.3, scipy: 0.15.1}
locks:
  description: Per spec key, the lock's status (V(solved), V(reused) or V(fallback)), path, packages, users.
  returned: always
  type: dict
solves:
  description: How many specs were solved in this run (at most one per distinct stack).
  returned: always
  type: int
fallback:
  description: One message per stack that has no lock because its channel could not be read.
  returned: always
  type: list
  elements: str
not_served:
  description: Per host, the ArcGIS installs that get no env, and why.
  returned: always
  type: dict
"""
