"""The arguments of each role's planner, as Ansible argument specs (the wiring from the role's public
variables is ``roles/<role>/vars/plan.yml``). ``fleet_plan`` validates every host's templated arguments
with these before planning, as Ansible would validate a module's. No Ansible imports.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils.miniconda_plan import (
    DEFAULT_DOWNLOAD_DIR,
    OFFICIAL_ARCHIVE,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.package_sources import LICENCES

MINICONDA: dict[str, Any] = {
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "arcgis": {"type": "raw"},
    "flavours": {"type": "list", "elements": "str", "default": []},
    "flavour_overrides": {"type": "dict", "default": {}},
    "versions": {"type": "dict", "default": {}},
    "installer_files": {"type": "dict", "default": {}},
    "checksums": {"type": "dict", "default": {}},
    "prefixes": {"type": "dict", "default": {}},
    "source": {"type": "str", "default": OFFICIAL_ARCHIVE},
    "controller_fetch_url": {"type": "str", "default": ""},
    "download_dir": {"type": "str", "default": DEFAULT_DOWNLOAD_DIR},
    "manage_condarc": {"type": "bool", "default": True},
    "channels": {"type": "list", "elements": "str", "default": ["defaults"]},
    "channel_mirror": {"type": "str", "default": ""},
    "free_channel": {"type": "bool", "default": True},
    "default_channels": {"type": "list", "elements": "str", "default": []},
    "proxy": {"type": "str", "default": ""},
    "remote_max_retries": {"type": "int", "default": 5},
    "remote_connect_timeout_secs": {"type": "float", "default": 30.0},
    "remote_read_timeout_secs": {"type": "float", "default": 120.0},
    "condarc_extra": {"type": "dict", "default": {}},
    # The source policy (package_sources.py), from fleet_anaconda_channels and fleet_package_mirror.
    "anaconda": {"type": "str", "default": "licensed", "choices": list(LICENCES)},
    "mirror": {"type": "str", "default": ""},
    "conda_forge_channel": {"type": "str", "default": "https://conda.anaconda.org/conda-forge"},
}

DOI_CERT_BUNDLE: dict[str, Any] = {
    "certificates": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "path": {"type": "str"},
            "content": {"type": "str"},
        },
        "mutually_exclusive": [["path", "content"]],
        "required_one_of": [["path", "content"]],
    },
    "fingerprints": {"type": "list", "elements": "str", "default": []},
    "expiry_warn_days": {"type": "int", "default": 30},
    "public_roots": {"type": "str", "default": "certifi", "choices": ["certifi", "file", "none"]},
    "public_roots_file": {"type": "str", "default": ""},
}

DOI_CERT_PLAN: dict[str, Any] = {
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "bundle": {"type": "dict"},
    "cert_dir": {"type": "str", "required": True},
    "bundle_filename": {"type": "str", "default": "ca-bundle.pem"},
    "roots_filename": {"type": "str", "default": "doi-roots.pem"},
    "manifest_path": {"type": "str", "required": True},
    "users": {"type": "list", "elements": "str", "default": []},
    "user_dirname": {"type": "str", "default": ".certificates"},
    "conda": {"type": "bool", "default": True},
    "condarc_locations": {
        "type": "list",
        "elements": "str",
        "default": ["programdata", "install_root"],
        "choices": ["programdata", "install_root"],
    },
    # Entries of miniconda_installs / ansible_facts.arcgis pass through as they are; see _readers.
    "conda_installs": {"type": "list", "elements": "dict", "default": []},
    "other_conda_readers": {"type": "list", "elements": "dict", "default": []},
    "condarc_filename": {"type": "str", "default": "doi_cert.yml"},
    "ssl_verify": {"type": "str", "default": "bundle", "choices": ["bundle", "truststore"]},
    "condarc_final": {"type": "bool", "default": True},
    "manage_user_condarc": {"type": "bool", "default": False},
    "pip": {"type": "bool", "default": True},
    "pip_ini": {"type": "str", "default": "C:\\ProgramData\\pip\\pip.ini"},
    "env_vars": {
        "type": "list",
        "elements": "str",
        "default": [],
        "choices": ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"],
    },
    "windows_store": {"type": "bool", "default": False},
}

DOI_CERT_PLAN.update(
    harden_acl={"type": "bool", "default": True},
    fail_on_override={"type": "bool", "default": False},
)

ARCGIS_ENV: dict[str, Any] = {
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "facts": {"type": "list", "elements": "dict", "default": []},
    "conda_installs": {"type": "list", "elements": "dict", "default": []},
    "host_dir": {"type": "str", "required": True},
    "settings": {"type": "dict", "default": {}},
    "channel_mirrors": {"type": "dict", "default": {}},
    "lock_dir": {"type": "path", "default": ".cache/locks"},
    "cache_dir": {"type": "path", "default": ".cache/rattler"},
    "refresh": {"type": "bool", "default": False},
    "timeout": {"type": "float", "default": 10.0},
    "repair": {"type": "bool", "default": False},
    "keep_previous": {"type": "bool", "default": False},
}

STARTUP_BRIDGE: dict[str, Any] = {
    "arcgis": {"type": "list", "elements": "dict", "required": True},
    "envs": {"type": "list", "elements": "dict", "default": []},
    "scope": {"type": "str", "choices": ["machine", "user"], "default": "machine"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "users": {"type": "list", "elements": "str", "default": []},
    "default_profile": {"type": "bool", "default": True},
    "profiles_dir": {"type": "str", "default": "C:\\Users"},
    "verify_arcpy": {"type": "bool", "default": False},
}

STARTUP_BRIDGE["verify"] = {"type": "bool", "default": True}
STARTUP_BRIDGE["secure_pythons"] = {"type": "bool", "default": True}

SPECS: dict[str, dict[str, Any]] = {
    "miniconda": MINICONDA,
    "doi_cert.bundle": DOI_CERT_BUNDLE,
    "doi_cert.plan": DOI_CERT_PLAN,
    "arcgis_env": ARCGIS_ENV,
    "startup_bridge": STARTUP_BRIDGE,
}


def project_path(path: str | os.PathLike[str], config_file: str | None = None) -> Path:
    """Relative paths are relative to the ansible.cfg in use (like the fact cache), else to the cwd."""
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    base = Path(config_file).parent if config_file else Path.cwd()
    return base / candidate
