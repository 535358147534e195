# Documentation stub: the work is done by the action plugin plugins/action/fleet_selftest.py.

DOCUMENTATION = r"""
module: fleet_selftest
short_description: Judge the conformance suite's answers and write the selftest report of a workstation
description:
  - Runs on the controller only. Takes what the steps of C(playbooks/selftest.yml) returned and judges every
    Windows fact the fleet relies on - default ACLs, junctions, the host scripts' answers, command lines,
    timeouts, WinRM quotas, C(reg load), the Root store, Miniconda2's C(--version) stream - as C(holds),
    C(differs) (with the value the host gave) or C(not checked) (with the reason).
  - Writes O(report_dir)C(/<host>.json) and C(<host>.html); fails when a fact differs, unless O(accepted)
    lists it.
version_added: 1.0.0
author: arcgis-conda fleet team (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Changes nothing on the host; it writes the report on the controller in check mode too.
  platform:
    platforms: windows
    support: full
    description: Judges answers of Windows hosts.
options:
  suffix:
    description: The random suffix of the run's scratch folders.
    type: str
    required: true
  answers:
    description:
      - The steps' registered results - C(read), C(after), C(secured), C(runs), C(processes)
        (M(ansible.windows.win_powershell) results), C(junction) (M(ansible.windows.win_command)), C(hive)
        (C(save), C(load), C(unload) commands and the C(loaded), C(unloaded) M(ansible.windows.win_reg_stat)
        results), C(python) and C(conda) (the programs the process checks ran, or empty).
    type: dict
    required: true
  accepted:
    description: Check ids whose difference the admin has reported and accepts for now (shown, not failed).
    type: list
    elements: str
    default: []
  report_dir:
    description:
      - Controller folder of the reports.
      - Unset, C(<state>/reports/selftest), where C(<state>) is the fleet's state folder
        (C(fleet_state_dir), else C($ARCGIS_FLEET_STATE_DIR), else the project folder).
    type: path
"""

EXAMPLES = r"""
- name: Judge the answers and write the report
  arcgis_conda.fleet.fleet_selftest:
    suffix: "{{ __selftest_suffix }}"
    answers:
      read: "{{ __selftest_read }}"
      after: "{{ __selftest_after }}"
"""

RETURN = r"""
checks:
  description: One row per check.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The check's id (tests/simwin/README.md names it).
      type: str
    result:
      description: C(holds), C(differs) or C(not checked).
      type: str
    value:
      description: What the host answered.
      type: str
    note:
      description: Why it was not checked, or what was expected.
      type: str
    fact:
      description: The fact.
      type: str
    source:
      description: Its primary source.
      type: str
    accepted:
      description: Whether O(accepted) lists it.
      type: bool
    status:
      description: C(failed) for a difference not accepted, else C(ok).
      type: str
summary:
  description: Counts and the ids that differ, are accepted or were not checked.
  returned: always
  type: dict
report:
  description: The HTML report's path.
  returned: always
  type: str
"""
