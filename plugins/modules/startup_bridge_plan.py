# Documentation stub for the action plugin arcgis_conda.fleet.startup_bridge_plan (plugins/action/).

DOCUMENTATION = r"""
---
module: startup_bridge_plan
short_description: Decide which ArcGIS <-> conda startup bridge files go where on a Windows host
description:
  - Pairs each conda env in O(envs) with its ArcGIS Python in O(arcgis) and returns the plan the role
    C(startup_bridge) carries out with ansible.windows modules - which folders to create, which user files
    to back up or restore, which files to copy or write (with their content), which to remove, and which
    interpreters to run with the verify script.
  - Pairs whose Python version or bitness differ are left alone and reported as warnings.
  - Reads the host only with M(ansible.windows.win_find) - the profile folders (scope V(user)) and the sha1
    of any C(usercustomize.py) and its backup already in the target folders. It changes nothing.
  - All decisions are pure functions in C(plugins/module_utils/startup_bridge_plan.py).
version_added: 0.1.0
author:
  - arcgis-conda fleet team
options:
  arcgis:
    description: The ArcGIS Pythons on the host, in the C(ansible_facts.arcgis) contract.
    type: list
    elements: dict
    required: true
  envs:
    description: The conda envs made for them, in the C(arcgis_env_envs) contract.
    type: list
    elements: dict
    default: []
  scope:
    description:
      - V(machine) puts the hook and a C(.pth) file in each bridged Python's own site-packages, for all
        users.
      - V(user) puts the hook and a C(usercustomize.py) in each listed user's user site folder and in the
        Default profile.
    type: str
    choices: [machine, user]
    default: machine
  state:
    description: V(present) installs the bridge; V(absent) plans the removal of exactly what it installed.
    type: str
    choices: [present, absent]
    default: present
  users:
    description: Scope V(user) - the user names whose existing profile folders get the bridge.
    type: list
    elements: str
    default: []
  default_profile:
    description: Scope V(user) - also install into the Default profile, copied to users created later.
    type: bool
    default: true
  profiles_dir:
    description: Scope V(user) - the folder holding the profile folders.
    type: str
    default: C:\Users
  verify_arcpy:
    description: Plan an C(import arcpy) in each env's verify run (needs an ArcGIS licence).
    type: bool
    default: false
notes:
  - Check mode is supported; the plugin only reads.
seealso:
  - module: ansible.windows.win_find
"""

EXAMPLES = r"""
- name: Decide which bridge files go where
  arcgis_conda.fleet.startup_bridge_plan:
    arcgis: "{{ ansible_facts['arcgis'] }}"
    envs: "{{ arcgis_env_envs }}"
    scope: machine
  register: bridge_plan

- name: Show the folders that get the hook
  ansible.builtin.debug:
    var: bridge_plan.plan.folders
"""

RETURN = r"""
plan:
  description: What the role's tasks do, in order. Every path is absolute on the host.
  returned: success
  type: dict
  contains:
    dirs:
      description: User site folders to create (scope user).
      type: list
      elements: str
    backups:
      description: "C({src, dest}): a user's own usercustomize.py, copied aside before the shim replaces it."
      type: list
      elements: dict
    copies:
      description: "C({src, dest}): role files (the hook, the usercustomize.py shim) to copy."
      type: list
      elements: dict
    contents:
      description: "C({dest, content}): data files and .pth files to write, LF line ends."
      type: list
      elements: dict
    restores:
      description: "C({src, dest}): backed-up user files to put back (state absent)."
      type: list
      elements: dict
    removes:
      description: Files to remove (state absent).
      type: list
      elements: str
    remove_if_empty:
      description: Folders to remove when empty, deepest first (state absent, scope user).
      type: list
      elements: str
    verify:
      description: One run per bridged interpreter - argv, environment and what it must show.
      type: list
      elements: dict
    skipped:
      description: "C({what, why}): what the bridge leaves alone, also returned as warnings."
      type: list
      elements: dict
    folders:
      description: The folders that hold (or held) the hook.
      type: list
      elements: str
  sample:
    dirs: []
    backups: []
    copies:
      - src: arcgis_conda_bridge.py
        dest: C:\Python27\ArcGIS10.8\Lib\site-packages\arcgis_conda_bridge.py
    contents:
      - dest: C:\Python27\ArcGIS10.8\Lib\site-packages\arcgis_conda_bridge.json
        content: "{...}"
    restores: []
    removes: []
    remove_if_empty: []
    verify: []
    skipped: []
    folders:
      - C:\Python27\ArcGIS10.8\Lib\site-packages
"""
