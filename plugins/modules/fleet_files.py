# Documentation stub: the work is done by the action plugin plugins/action/fleet_files.py.

DOCUMENTATION = r"""
module: fleet_files
short_description: Apply planned file changes on a Windows workstation in one module call
description:
  - Applies, in order, the C(files) changes M(arcgis_conda.fleet.fleet_plan) planned for one role -
    create a folder (its parent must exist; admin-only from its creation when the plan says so), write
    bytes (optionally backing up other content first), copy a host file, move a folder aside, delete a
    file or folder, remove a folder once empty, and secure a folder tree (owner Administrators, protected
    ACL, SYSTEM and Administrators full control, Users read and execute; below it, a walk that never
    follows a junction or symbolic link and moves aside what no administrator owns, then one
    C(icacls <folder>\\* /reset /T /C /L /Q); what it could not change is returned as a warning).
  - One M(ansible.windows.win_powershell) call with the C(apply_files) script of
    C(plugins/module_utils/fleet_host.py); it stops at the first failure and names it.
  - In check mode nothing is sent; the task reports the changes it would apply.
  - With C(--diff), each written configuration file's before (as observed) and after (as planned), carried
    by the change's C(diff); a certificate bundle as one line per certificate; a secret change never.
version_added: 1.0.0
author: arcgis-conda fleet team (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Sends nothing in check mode and reports the changes it would apply.
  diff_mode:
    support: full
    description: The planned before and after of each written configuration file, in check mode and apply.
  platform:
    platforms: windows
    support: full
    description: Needs a PowerShell connection (WinRM or PSRP) to a Windows host.
options:
  changes:
    description: Planned changes, each C({role, step, action, target, reason, item}) with C(step=files).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Apply one role's planned file changes
  arcgis_conda.fleet.fleet_files:
    changes: "{{ step.changes }}"
"""

RETURN = r"""
applied:
  description:
    - Per change applied, in order, C(op), C(path), C(changed), C(backup_file), and for a secured tree
      C(skipped) (junctions and items it could not list or change) and C(moved) (items no administrator
      owned, moved aside to C(<name>.untrusted)).
  returned: success
  type: list
  elements: dict
"""
