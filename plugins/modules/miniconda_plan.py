# Documentation of the action plugin arcgis_conda.fleet.miniconda_plan (plugins/action/miniconda_plan.py).
# The plugin runs on the controller; this file only documents it, for ansible-doc and the argument check.

DOCUMENTATION = r"""
---
module: miniconda_plan
short_description: Decide which Miniconda each ArcGIS Python gets, where, and from which verified installer
description:
  - Runs on the controller and changes nothing. Reads C(ansible_facts.arcgis) (passed as O(arcgis)) and the
    miniconda role's variables, and returns the plan the role's tasks carry out.
  - The flavour follows each ArcGIS Python's major version and bitness, so that its env can load into
    ArcGIS's own interpreter. ArcGIS Desktop 10.x (32-bit Python 2.7) gets C(miniconda2-x86); its 64-bit
    Background Geoprocessing and ArcGIS Server 10.x get C(miniconda2-x64); ArcGIS Pro gets C(miniconda3-x64).
    A host with several gets several.
  - Fails, naming the host, the value and the fix, on an unknown flavour, a 64-bit flavour on 32-bit
    Windows, a prefix that is relative, has spaces, is longer than 100 characters or overlaps ArcGIS,
    an installer without a verified SHA-256, or a checksum that contradicts the published one.
  - Reads the Windows architecture from C(ansible_facts.architecture2) when facts were gathered, otherwise
    with one M(ansible.windows.win_reg_stat) call (read-only, also in check mode).
version_added: 0.1.0
author: arcgis-conda fleet team
options:
  state:
    description: V(present) plans installs and the condarc; V(absent) plans removing what the role added.
    type: str
    choices: [present, absent]
    default: present
  arcgis:
    description:
      - The ArcGIS installs found by C(arcgis_conda.fleet.arcgis_facts) (C(ansible_facts.arcgis)).
      - Omit when no probe ran; then O(flavours) must name the flavours.
    type: raw
  flavours:
    description: Exact flavours to install, replacing the automatic choice.
    type: list
    elements: str
    default: []
  flavour_overrides:
    description:
      - Per ArcGIS id or product, the flavour to use, or V(none) to leave it without Miniconda.
      - A flavour that does not match that ArcGIS Python's version and bitness is refused.
    type: dict
    default: {}
  versions:
    description: Per flavour, a version from the role's table of known installers.
    type: dict
    default: {}
  installer_files:
    description: Per flavour, an installer file name not in the table (needs O(checksums) for it).
    type: dict
    default: {}
  checksums:
    description: Per flavour, the SHA-256 of its installer; required for unverified or custom files.
    type: dict
    default: {}
  prefixes:
    description:
      - Per flavour, the install folder.
      - Defaults C:\Miniconda2, C:\Miniconda2x64, C:\Miniconda3x86 and C:\Miniconda3.
    type: dict
    default: {}
  source:
    description:
      - Where installers come from. A URL (the official archive or an internal mirror), a folder or UNC share
        the workstation reads, or an absolute folder on the controller.
    type: str
    default: https://repo.anaconda.com/miniconda/
  controller_fetch_url:
    description: With a controller O(source), the URL to download missing installers from, once per run.
    type: str
    default: ""
  download_dir:
    description: Folder on the workstation for installers; owned by the role (V(absent) deletes it).
    type: str
    default: C:\ProgramData\arcgis-conda\installers
  manage_condarc:
    description: Whether to plan C:\ProgramData\conda\.condarc.
    type: bool
    default: true
  channels:
    description: The condarc C(channels) list.
    type: list
    elements: str
    default: [defaults]
  channel_mirror:
    description: Base URL of a mirror of repo.anaconda.com; C(default_channels) then point at it.
    type: str
    default: ""
  free_channel:
    description: Add C(pkgs/free) after C(pkgs/main) in C(default_channels) (Python 2.7-era packages).
    type: bool
    default: true
  default_channels:
    description: Explicit C(default_channels) URLs, replacing the computed ones.
    type: list
    elements: str
    default: []
  proxy:
    description: Proxy URL for conda (C(proxy_servers) http and https); also used for installer downloads.
    type: str
    default: ""
  remote_max_retries:
    description: The condarc C(remote_max_retries).
    type: int
    default: 5
  remote_connect_timeout_secs:
    description: The condarc C(remote_connect_timeout_secs).
    type: float
    default: 30.0
  remote_read_timeout_secs:
    description: The condarc C(remote_read_timeout_secs).
    type: float
    default: 120.0
  condarc_extra:
    description: Further condarc keys; SSL keys (doi_cert's) and keys the role manages are refused.
    type: dict
    default: {}
notes:
  - Action plugin; runs on the controller. Check mode is supported (nothing changes anyway).
seealso:
  - name: Miniconda installer archive
    description: File names and SHA-256 of every Miniconda installer.
    link: https://repo.anaconda.com/miniconda/
"""

EXAMPLES = r"""
- name: Decide which Miniconda each ArcGIS Python gets
  arcgis_conda.fleet.miniconda_plan:
    arcgis: "{{ ansible_facts['arcgis'] | default(omit) }}"
    source: https://mirror.lab.example.org/miniconda/
  register: plan

- name: Plan a 32-bit Python 2.7 Miniconda without a probe
  arcgis_conda.fleet.miniconda_plan:
    flavours: [miniconda2-x86]
"""

RETURN = r"""
installs:
  description: One entry per Miniconda to install, in flavour order.
  returned: always
  type: list
  elements: dict
  sample:
    - flavour: miniconda2-x86
      label: Miniconda2 x86 4.8.3 into C:\Miniconda2
      version: 4.8.3
      bits: 32
      python_major_minor: "2.7"
      prefix: C:\Miniconda2
      conda_exe: C:\Miniconda2\Scripts\conda.exe
      arcgis_ids: [desktop-10.4.1-32]
      installer:
        file: Miniconda2-py27_4.8.3-Windows-x86.exe
        sha256: c8049d26f8b6b954b57bcd4e99ad72d1ffa13f4a6b218e64e641504437b2617b
        checksum_source: table
        source_kind: url
        source: https://repo.anaconda.com/miniconda/Miniconda2-py27_4.8.3-Windows-x86.exe
        dest: C:\ProgramData\arcgis-conda\installers\Miniconda2-py27_4.8.3-Windows-x86.exe
      arguments_string: /InstallationType=AllUsers /RegisterPython=0 /AddToPath=0 /S /D=C:\Miniconda2
published:
  description: The C(miniconda_installs) list other roles read.
  returned: always
  type: list
  elements: dict
removals:
  description: With O(state=absent), every flavour's prefix, its marker file and uninstaller.
  returned: when state is absent
  type: list
  elements: dict
condarc:
  description: Path of the system condarc, whether it is managed, its marker line and its settings.
  returned: always
  type: dict
arcgis_pythons:
  description: ArcGIS Pythons (id, python_exe) to check still run after the change.
  returned: always
  type: list
  elements: dict
download_dir:
  description: The workstation folder for installers.
  returned: always
  type: str
os_bits:
  description: 32 or 64 (Windows), null with O(state=absent).
  returned: always
  type: int
"""
