# Documentation stub: the work is done on the controller by plugins/action/doi_cert_bundle.py.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: doi_cert_bundle
short_description: Validate organisation root CA certificates and build the CA bundle for conda and pip
description:
  - Runs on the controller only, before any host is touched; it never connects to the host.
  - Reads each certificate (PEM with one or more certificates, DER, or base64 DER; by path or inline;
    vault-encrypted files work), and requires every one to be a CA (basicConstraints CA:TRUE, keyUsage
    allowing keyCertSign), valid now, and, when O(fingerprints) is set, pinned by SHA-256.
  - Warns when a certificate expires within O(expiry_warn_days) days, or is an intermediate CA.
  - Builds a deterministic bundle, the public roots plus the organisation roots, sorted and
    deduplicated, with a header naming its sources; DER input is converted to PEM.
  - Errors name the host, the bad value and the fix.
version_added: 0.1.0
author: arcgis-conda fleet team
options:
  certificates:
    description:
      - The organisation root CA certificates, for DOI C(DOIRootCA.crt).
      - Each item has either O(certificates[].path) or O(certificates[].content).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Certificate file on the controller. Relative paths are searched in the role's and the
            playbook's C(files/) folders, then beside the playbook.
        type: str
      content:
        description:
          - Certificate text, PEM (or base64 DER).
        type: str
  fingerprints:
    description:
      - SHA-256 fingerprints every certificate must match (colons and case do not matter).
      - Empty means no pinning. Keep the old and the new fingerprint during a rotation.
    type: list
    elements: str
    default: []
  expiry_warn_days:
    description:
      - Warn when a certificate expires within this many days.
    type: int
    default: 30
  public_roots:
    description:
      - Which public roots join the organisation roots in the bundle.
      - V(certifi) is the controller's pinned certifi bundle (Mozilla's CA list), the same bytes on
        every host.
      - V(file) is O(public_roots_file). V(none) trusts only the organisation roots (conda then fails
        off the organisation's network).
    type: str
    default: certifi
    choices: [certifi, file, none]
  public_roots_file:
    description:
      - PEM bundle on the controller used when O(public_roots=file).
    type: str
    default: ""
attributes:
  check_mode:
    support: full
    description: It only reads controller files and never changes anything.
notes:
  - Public roots are passed through, not judged; only the organisation roots are validated.
seealso:
  - module: arcgis_conda.fleet.doi_cert_plan
"""

EXAMPLES = r"""
- name: Validate the DOI root and build the CA bundle
  arcgis_conda.fleet.doi_cert_bundle:
    certificates:
      - path: files/DOIRootCA.crt
    fingerprints:
      - "AB:CD:..."  # SHA-256 from your PKI team
  register: bundle
"""

RETURN = r"""
bundle_pem:
  description: The combined bundle (public roots and organisation roots), PEM text with LF line ends.
  returned: success
  type: str
roots_pem:
  description: The organisation roots alone, PEM text.
  returned: success
  type: str
bundle_sha1:
  description: SHA-1 of O(bundle_pem) as UTF-8, what ansible.windows.win_stat reports for the copied file.
  returned: success
  type: str
certificates:
  description: One record per organisation root, sorted by subject.
  returned: success
  type: list
  elements: dict
  contains:
    subject:
      description: Subject, RFC 4514.
      type: str
    issuer:
      description: Issuer, RFC 4514.
      type: str
    sha256:
      description: SHA-256 fingerprint, lower-case hex.
      type: str
    sha1:
      description: SHA-1 thumbprint, upper-case hex, as the Windows certificate store shows it.
      type: str
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
    days_left:
      description: Whole days until it expires.
      type: int
    self_signed:
      description: Whether it is a self-signed root.
      type: bool
    source:
      description: Where it came from.
      type: str
    pem:
      description: The certificate as PEM.
      type: str
public_roots_source:
  description: What the public roots are, as written in the bundle header.
  returned: success
  type: str
public_roots_count:
  description: How many public roots the bundle holds.
  returned: success
  type: int
"""
