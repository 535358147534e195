# Documentation stub: the work is done by the action plugin plugins/action/fleet_run_lock.py.

DOCUMENTATION = r"""
module: fleet_run_lock
short_description: One run at a time per fleet state, with a lock file in its state folder
description:
  - Takes or releases the controller-side lock of the fleet's state folder (C(<state>/.cache/run.lock), where
    C(<state>) is C(fleet_state_dir), else C($ARCGIS_FLEET_STATE_DIR), else the project folder). Two runs over
    the same fact cache, locks and reports would overwrite each other's facts and reports and race on the
    same workstations.
  - The slices of one AWX sliced job (the same C(awx_workflow_job_id)) share the lock, each joining it; the
    last one to finish removes it.
  - Refuses a C(fleet_state_dir) the fact cache cannot follow (set in the inventory rather than with C(-e) or
    the environment), and warns when AWX's fact storage holds the fact cache in a job's own folder.
  - The lock records the holder's pid, controller host, process start time, command line, user and since
    when. Taking a lock the same C(ansible-playbook) process holds succeeds (each serial batch asks).
    A lock whose process no longer runs on this controller is stale and is broken with a warning; a
    live holder, or one on another controller, fails the task naming that run and how to break the lock.
  - Runs on the controller only; contacts no host.
version_added: 1.0.0
author: arcgis-conda fleet team (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: A check-mode run reads hosts and writes the fact cache too, so it takes the lock.
  platform:
    platforms: posix
    support: full
    description: The controller.
options:
  state:
    description:
      - C(present) takes the lock (again, by its holder); C(absent) releases it when this run holds it.
    type: str
    choices: [present, absent]
    default: present
  path:
    description: The lock file; by default C(<state>/.cache/run.lock).
    type: path
"""

EXAMPLES = r"""
- name: Take the run lock before observing any host
  arcgis_conda.fleet.fleet_run_lock:
  run_once: true

- name: Release it after the last batch
  arcgis_conda.fleet.fleet_run_lock:
    state: absent
  run_once: true
  when: ansible_play_hosts_all[-1] in ansible_play_batch
"""

RETURN = r"""
path:
  description: The lock file.
  returned: always
  type: str
  sample: /srv/fleet/.cache/run.lock
"""
