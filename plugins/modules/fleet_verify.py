# Documentation stub: the work is done by the action plugin plugins/action/fleet_verify.py.

DOCUMENTATION = r"""
module: fleet_verify
short_description: Verify every role's work on a Windows workstation in one module call
description:
  - Runs the verify spec M(arcgis_conda.fleet.fleet_plan) made for the host - each Miniconda's
    C(conda --version), each ArcGIS Python, each env's numpy/matplotlib/scipy check, each bridged Python
    with the seed's troubleshooting checks - and reads back the files that must be there (the CA bundle,
    the condarc and pip.ini settings), in one read-only M(ansible.windows.win_powershell) call.
  - Every role's judge decides on the controller; the task fails naming each problem and its fix.
version_added: 1.0.0
author: arcgis-conda fleet team (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Read-only, so it verifies in check mode too.
  platform:
    platforms: windows
    support: full
    description: Needs a PowerShell connection (WinRM or PSRP) to a Windows host.
options:
  verify:
    description: The plan's C(verify) (C(reads) and C(runs)).
    type: dict
    required: true
  judge:
    description: The plan's C(judge), what each role's judge needs.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Verify in one call
  arcgis_conda.fleet.fleet_verify:
    verify: "{{ fleet_host_plan.verify }}"
    judge: "{{ fleet_host_plan.judge }}"
"""

RETURN = r"""
problems:
  description: Problems per role; empty lists when all is well.
  returned: success
  type: dict
verified:
  description: Per role judged, whether its checks ran on the host and all passed.
  returned: success
  type: dict
  sample: {miniconda: true, doi_cert: false, arcgis_env: true, startup_bridge: true}
"""
