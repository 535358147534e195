"""Documentation of the arcgis_facts action plugin (the work happens on the controller: plugins/action)."""

DOCUMENTATION = r"""
---
module: arcgis_facts
short_description: Find every ArcGIS install on a Windows host and measure its Python stack
version_added: 1.0.0
author: arcgis-conda fleet team (!UNKNOWN)
description:
  - Reads the ESRI registry keys of ArcGIS Desktop 10.x (32-bit, C(WOW6432Node\ESRI\Desktop<ver>) and
    C(Python<ver>)), the 64-bit Background Geoprocessing Python (C(C:\Python27\ArcGISx64<ver>)),
    ArcGIS Pro (C(ESRI\ArcGISPro)) and ArcGIS Server (C(ESRI\ArcGIS_SXS_Server)), cross-checked with
    the Windows Uninstall entries published by C(Environmental Systems Research Institute, Inc.).
  - Runs the probe script C(arcgis_probe.py) once with each ArcGIS Python found. The probe never imports
    arcpy and reads package versions from package metadata on the interpreter's own C(sys.path).
  - Sets C(ansible_facts.arcgis), one entry per ArcGIS Python (see RETURN), which every later role reads.
  - "Module calls per host: exactly 2 (one C(ansible.windows.win_powershell) call that dumps the registry
    data, one that runs the probe with every interpreter), whatever the number of installs or packages;
    1 when the host has no ArcGIS. Each WinRM module call costs about a second."
  - All interpretation (which installs exist, which C(python.exe) each runs, cross-checks, drift against
    the release table of P(arcgis_conda.fleet.arcgis_stack#filter)) happens on the controller.
  - A host without ArcGIS gets C(arcgis=[]) and a clear C(msg); with O(require_arcgis=true) it fails
    instead. A broken interpreter is reported per install (C(status=broken), the error in C(problems)) and
    the other installs are still measured.
  - Read-only, so it runs in check mode exactly as in normal mode and never reports a change.
options:
  packages:
    description:
      - Distribution names whose versions the probe reads, for example C(numpy) or C(python-dateutil).
      - The default is the ArcGIS stack the environment roles pin; numpy, scipy and pandas share numpy's C
        ABI, and matplotlib needs python-dateutil, pyparsing, pytz and six at the versions it shipped with.
    type: list
    elements: str
    default: [numpy, matplotlib, scipy, pandas, python-dateutil, pyparsing, pytz, six]
  require_arcgis:
    description:
      - Fail a host on which no ArcGIS install is found, instead of returning C(arcgis=[]).
    type: bool
    default: false
  probe_timeout:
    description:
      - Seconds one interpreter may take to answer before it is stopped and reported as broken.
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
attributes:
  check_mode:
    support: full
    description: Only reads the registry and runs the read-only probe, in check mode too.
  platform:
    platforms: windows
    support: full
    description: Needs a PowerShell connection (WinRM or PSRP); fails clearly on any other.
notes:
  - The probe runs as the connecting account, so C(user_site) is that account's user site directory.
  - Pro's active environment is the machine-wide C(PythonCondaEnv) value
    (RV(ansible_facts.arcgis[].pro_conda_env)); the probe always measures Esri's own
    C(<PythonCondaRoot>\envs\arcgispro-py3), never an active clone.
  - Each logged-on account's C(HKCU\Software\ESRI\ArcGISPro) is read in C(HKEY_USERS\<sid>) (local, domain
    and Entra ID accounts). An offline profile's C(NTUSER.DAT) is loaded with C(reg load) for the read and
    unloaded at once only when the profile holds a per-user Pro's default folder
    (C(AppData\Local\Programs\ArcGIS\Pro)), so hundreds of offline profiles cost no hive loads. A per-user
    Pro install found is a warning naming the user; its Python, which that user owns, is never started.
    One installed elsewhere for a user who is not logged on is not found.
seealso:
  - plugin: arcgis_conda.fleet.arcgis_stack
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Probe the ArcGIS installs of every workstation
  arcgis_conda.fleet.arcgis_facts:

- name: Probe, fail hosts without ArcGIS, and read two extra packages
  arcgis_conda.fleet.arcgis_facts:
    require_arcgis: true
    packages: [numpy, matplotlib, scipy, pandas, python-dateutil, pyparsing, pytz, six, sympy, xlrd]

- name: Show each ArcGIS Python and its numpy
  ansible.builtin.debug:
    msg: "{{ item.id }}: {{ item.python_exe }} numpy {{ item.packages.numpy }} ({{ item.status }})"
  loop: "{{ ansible_facts.arcgis }}"
  loop_control:
    label: "{{ item.id }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts set on the host.
  returned: always
  type: dict
  contains:
    arcgis:
      description: One entry per ArcGIS Python found; empty when the host has no ArcGIS.
      returned: always
      type: list
      elements: dict
      contains:
        id:
          description: Stable slug C(<product>-<version>-<bits>), used to name environments and reports.
          type: str
          sample: desktop-10.4.1-32
        product:
          description: C(desktop), C(desktop_bgp) (64-bit Background Geoprocessing), C(pro) or C(server).
          type: str
          sample: desktop
        version:
          description: The ArcGIS release as the registry reports it.
          type: str
          sample: 10.4.1
        install_dir:
          description: The product's install folder.
          type: str
          sample: C:\Program Files (x86)\ArcGIS\Desktop10.4\
        python_exe:
          description: The interpreter the product runs.
          type: str
          sample: C:\Python27\ArcGIS10.4\python.exe
        python_version:
          description: Its Python version; null when broken.
          type: str
          sample: 2.7.10
        python_major_minor:
          description: Python major.minor; null when broken.
          type: str
          sample: "2.7"
        bits:
          description: 32 or 64 (measured; from the registry layout when broken).
          type: int
          sample: 32
        prefix:
          description: The interpreter's C(sys.prefix).
          type: str
          sample: C:\Python27\ArcGIS10.4
        site_packages:
          description: Its global site-packages folders.
          type: list
          elements: str
          sample: [C:\Python27\ArcGIS10.4\lib\site-packages]
        user_site:
          description: The user site-packages folder, as C(python -m site --user-site) prints it.
          type: str
          sample: C:\Users\u\AppData\Roaming\Python\Python27\site-packages
        user_site_enabled:
          description: Whether the interpreter adds the user site folder to C(sys.path).
          type: bool
          sample: true
        packages:
          description: Measured version per requested package; null for a package that is not installed.
          type: dict
          sample: {numpy: "1.9.2", matplotlib: "1.4.3", scipy: "0.15.1"}
        pro_conda_root:
          description: Pro only, C(PythonCondaRoot).
          type: str
          sample: C:\Program Files\ArcGIS\Pro\bin\Python
        pro_conda_env:
          description: Pro only, C(PythonCondaEnv).
          type: str
          sample: arcgispro-py3
        status:
          description: C(ok), or C(broken) when the interpreter could not be run or did not answer.
          type: str
          sample: ok
        problems:
          description: Human-readable findings, including drift from what the release shipped.
          type: list
          elements: str
          sample: ["drift: numpy 1.10.4, but ArcGIS Desktop 10.4.1 shipped numpy 1.9.2"]
module_calls:
  description: Host module calls this task made (2, or 1 when no ArcGIS was found).
  returned: always
  type: int
  sample: 2
msg:
  description: One-line summary of what was found.
  returned: always
  type: str
  sample: "ws01: 2 ArcGIS Python(s): desktop-10.4.1-32, pro-3.3.0-64"
"""
