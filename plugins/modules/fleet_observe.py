# Documentation stub: the work is done by the action plugin plugins/action/fleet_observe.py.

DOCUMENTATION = r"""
module: fleet_observe
short_description: Read everything the fleet's roles need from a Windows workstation, in two module calls
description:
  - The first step of site.yml. It is M(arcgis_conda.fleet.arcgis_facts) (ArcGIS Desktop, Background
    Geoprocessing, Pro and Server from the registry, and each ArcGIS Python measured by the probe script)
    whose two read-only calls also read the state of everything the roles manage.
  - Call 1 adds the Windows profiles, machine environment variables and the doi_cert role's record of an
    earlier run. Call 2 adds, from the roles' own variables, every Miniconda prefix, the system condarc and
    pip.ini, the certificate folder, each env under every Miniconda and the Pro clone root (conda-meta),
    the startup bridge's files, with owners, ACLs, SHA-256 and the content of small configuration files.
  - Sets C(ansible_facts.arcgis) (as arcgis_facts does) and C(ansible_facts.arcgis_conda_observed), the
    snapshot M(arcgis_conda.fleet.fleet_plan) plans against. Both are kept by the fact cache.
  - The snapshot is kept compact (each path once, ACLs as a table) and packed as one zlib-compressed JSON
    string; the CA bundle and roots files the controller builds are read as a SHA-256, never their bytes.
  - Both calls are the C(host_read) PowerShell of C(plugins/module_utils/fleet_host.py), sent through
    M(ansible.windows.win_powershell); it changes nothing, so check mode gives the same answer.
version_added: 1.0.0
author: arcgis-conda fleet team (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Read-only, so check mode gives the same answer.
  platform:
    platforms: windows
    support: full
    description: Needs a PowerShell connection (WinRM or PSRP) to a Windows host.
options:
  packages:
    description: Distribution names whose versions the probe reads in each ArcGIS Python.
    type: list
    elements: str
    default: [numpy, matplotlib, scipy, pandas, python-dateutil, pyparsing, pytz, six]
  require_arcgis:
    description: Fail a host without ArcGIS instead of returning an empty list.
    type: bool
    default: false
  probe_timeout:
    description: Seconds each ArcGIS Python may take to answer the probe.
    type: int
    default: 120
  secure_pythons:
    description:
      - Before an ArcGIS Python is first run, its folder, the folder above it, its C(python.exe), the DLLs
        beside it, C(Lib) and C(DLLs) are read (owner and ACL). A Python all of whose parts only
        administrators can change is run; one a user made or replaced (a user owns the folder, the folder
        above or C(python.exe)) is never run and its host stops with the path and the fix.
      - One users could write (ArcGIS Desktop's C(C:\\Python27\\ArcGIS10.x), which inherits C(C:\\)'s
        Authenticated Users Modify) is, with C(true) and outside check mode, secured first (the folder
        above made admin-only, files no administrator owns moved aside, no junction followed; one more
        module call) and then run; otherwise it is not run and its facts say C(status=unsecured).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Observe each workstation in two reads
  arcgis_conda.fleet.fleet_observe:
"""

RETURN = r"""
ansible_facts:
  description:
    - C(arcgis), the ArcGIS Pythons, and C(arcgis_conda_observed), the snapshot (reads, env, store,
      profiles, os_bits, acls) packed as C(encoding) (V(zlib+base64:json)), C(bytes) and C(data).
  returned: always
  type: dict
secured:
  description: The folders secured before their ArcGIS Python's first run (O(secure_pythons)).
  returned: when it secured one
  type: list
  elements: str
module_calls:
  description: WinRM module calls made (2, or 1 on a host without ArcGIS; one more when it secured a Python).
  returned: always
  type: int
"""
