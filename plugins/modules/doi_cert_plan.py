# Documentation stub: the work is done by plugins/action/doi_cert_plan.py (controller-side decisions).
from __future__ import annotations

DOCUMENTATION = r"""
---
module: doi_cert_plan
short_description: Decide what the doi_cert role writes, imports, sets and removes on a Windows host
description:
  - Validates the settings first (errors name the host, the value and the fix), then reads the host's
    current state in one read-only ansible.windows.win_powershell call (files, folders, user profiles,
    machine environment variables, Root store entries, the previous run's record) and returns a plan.
  - It changes nothing on the host; the role applies the plan with ansible.windows modules.
  - conda's precedence is applied to report users whose C(~\.condarc) (or an install root's
    C(.condarc)) undoes the machine C(ssl_verify); with O(manage_user_condarc) those keys are removed.
  - With O(state=absent) the plan removes exactly what the previous run recorded it added.
version_added: 0.1.0
author: arcgis-conda fleet team
options:
  state:
    description: V(present) configures trust in the bundle; V(absent) removes what the role added.
    type: str
    default: present
    choices: [present, absent]
  bundle:
    description: The registered result of arcgis_conda.fleet.doi_cert_bundle (required when O(state=present)).
    type: dict
  cert_dir:
    description: Machine-wide folder for the bundle, e.g. C(C:\ProgramData\arcgis-conda\certs).
    type: str
    required: true
  bundle_filename:
    description: File name of the combined bundle in O(cert_dir) and in the per-user folders.
    type: str
    default: ca-bundle.pem
  roots_filename:
    description: File name of the organisation-roots-only file.
    type: str
    default: doi-roots.pem
  manifest_path:
    description: The record of what the role added, read and rewritten every run.
    type: str
    required: true
  users:
    description:
      - Users (C(name) or C(DOMAIN\name)) who get per-user copies and whose condarc files are checked.
    type: list
    elements: str
    default: []
  user_dirname:
    description: Folder under each user's profile for the copies (the seed's C(.certificates)).
    type: str
    default: .certificates
  conda:
    description: Whether to set conda's C(ssl_verify).
    type: bool
    default: true
  condarc_locations:
    description:
      - Where our condarc.d file goes. V(programdata) is C(C:\ProgramData\conda\condarc.d), read by
        conda >= 4.6.9 (also ArcGIS Pro's conda). V(install_root) is C(<prefix>\condarc.d) of each
        conda install, read by every conda since 4.3 (older Miniconda2 bases).
    type: list
    elements: str
    default: [programdata, install_root]
    choices: [programdata, install_root]
  conda_installs:
    description:
      - The conda installs on the host whose install root gets our condarc.d file and whose precedence
        is checked. Entries of the miniconda role's C(miniconda_installs) pass through as they are.
      - Keys used are C(prefix) (install root), C(python_major_minor) (Python of the base environment,
        e.g. C(2.7)) and C(label), C(flavour) or C(id) for messages; other keys are ignored.
    type: list
    elements: dict
    default: []
  other_conda_readers:
    description:
      - Other conda installs that read C(C:\ProgramData\conda), for the truststore check only;
        entries of C(ansible_facts.arcgis) for ArcGIS Pro pass through as they are.
    type: list
    elements: dict
    default: []
  condarc_filename:
    description: Name of our file in each condarc.d folder; must end in .yml.
    type: str
    default: doi_cert.yml
  ssl_verify:
    description:
      - V(bundle) points conda at the bundle.
      - V(truststore) uses the Windows store (conda >= 23.9 on Python >= 3.10).
    type: str
    default: bundle
    choices: [bundle, truststore]
  condarc_final:
    description: Flag our C(ssl_verify) C(#!final) so later condarc files cannot override it.
    type: bool
    default: true
  manage_user_condarc:
    description: Remove conflicting C(ssl_verify) keys from the listed users' condarc files (backed up).
    type: bool
    default: false
  pip:
    description: Whether to set C(cert) in the machine-wide pip.ini.
    type: bool
    default: true
  pip_ini:
    description: pip's machine-wide configuration file.
    type: str
    default: C:\ProgramData\pip\pip.ini
  env_vars:
    description: Machine environment variables to point at the bundle.
    type: list
    elements: str
    default: []
    choices: [REQUESTS_CA_BUNDLE, SSL_CERT_FILE]
  windows_store:
    description: Import the organisation roots into LocalMachine\Root.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: The host scan is read-only and runs in check mode too.
seealso:
  - module: arcgis_conda.fleet.doi_cert_bundle
  - module: ansible.windows.win_powershell
"""

EXAMPLES = r"""
- name: Plan the DOI certificate set-up
  arcgis_conda.fleet.doi_cert_plan:
    bundle: "{{ bundle }}"
    cert_dir: C:\ProgramData\arcgis-conda\certs
    manifest_path: C:\ProgramData\arcgis-conda\doi_cert-state.json
    conda_installs:
      - prefix: C:\Miniconda2
        python_major_minor: "2.7"
  register: plan
"""

RETURN = r"""
create_dirs:
  description: Folders to create, parents first.
  returned: success
  type: list
  elements: str
harden_dirs:
  description: Folders whose ACL the role restricts (C(path), C(exists) before this run).
  returned: success
  type: list
  elements: dict
write_files:
  description:
    - Files to write in order (C(path), C(content), C(backup), C(why)).
    - Data files come before the configuration that points at them.
  returned: success
  type: list
  elements: dict
store_import:
  description:
    - Certificates to import into LocalMachine\Root.
    - Keys C(path), C(thumbprint), C(subject), C(file_exists).
  returned: success
  type: list
  elements: dict
store_remove:
  description: Thumbprints the role imported earlier and now removes.
  returned: success
  type: list
  elements: str
env_set:
  description: Machine environment variables to set (C(name), C(value)).
  returned: success
  type: list
  elements: dict
env_remove:
  description: Machine environment variables to remove.
  returned: success
  type: list
  elements: str
remove_files:
  description: Files to remove, configuration before data.
  returned: success
  type: list
  elements: str
remove_dirs:
  description: Folders the role created that now hold nothing else, deepest first.
  returned: success
  type: list
  elements: str
manifest_text:
  description: The new record of what the role added (null with O(state=absent)).
  returned: success
  type: str
remove_manifest:
  description: Whether the record is removed (O(state=absent)).
  returned: success
  type: bool
report:
  description: Human-readable findings (user overrides, variables that override conda, skipped users).
  returned: success
  type: list
  elements: str
overrides:
  description:
    - Where the effective C(ssl_verify) after this run is not ours.
    - Keys C(user), C(conda), C(effective), C(decided_by), C(ours).
  returned: success
  type: list
  elements: dict
users:
  description: Listed users resolved to their profile folder.
  returned: success
  type: dict
condarc_files:
  description: Our condarc.d files after this run.
  returned: success
  type: list
  elements: str
check_mode:
  description:
    - Whether this task ran in check mode, also when set by the C(check_mode) keyword or
      include_role apply, which C(ansible_check_mode) does not reflect.
  returned: success
  type: bool
ansible_facts:
  description: Facts for the roles that follow.
  returned: success
  type: dict
  contains:
    doi_cert_result:
      description:
        - C(state), C(bundle_path), C(roots_path), C(ssl_verify) (the value our condarc files set),
          C(condarc_files), C(users) (name to profile) and C(certificates) (C(subject), C(sha256),
          C(sha1), C(not_after)). Paths are null with O(state=absent).
      type: dict
"""
