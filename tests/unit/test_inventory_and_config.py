"""The shipped inventory, ansible.cfg and execution environment: what an admin copies must be safe."""

from __future__ import annotations

import configparser
import json
import re
import subprocess
from pathlib import Path

import yaml
from ansible_builder.ee_schema import validate_schema
from packaging.specifiers import SpecifierSet
from packaging.version import Version

SAFE_SCAN = ("inventory", ".config/molecule", "molecule", "site.yml", "playbooks", "roles")


def shipped_yaml(root: Path) -> list[Path]:
    files: list[Path] = []
    for name in SAFE_SCAN:
        path = root / name
        files.extend([path] if path.is_file() else sorted(path.rglob("*.yml")))
    return files


def test_inventory_graph_shows_lab_groups(repo_root):
    out = subprocess.run(
        ["ansible-inventory", "--graph"], cwd=repo_root, capture_output=True, text=True, check=True
    ).stdout
    assert "@windows_workstations:" in out
    assert re.search(r"@windows_workstations:\n[ |]*--@lab_gis101:", out)
    assert "@lab_gis102:" in out


def test_hosts_get_https_validated_encrypted_winrm(repo_root):
    out = subprocess.run(
        ["ansible-inventory", "--list"], cwd=repo_root, capture_output=True, text=True, check=True
    ).stdout
    hostvars = json.loads(out)["_meta"]["hostvars"]
    assert hostvars, "the example inventory has no hosts"
    for host, hv in hostvars.items():
        if hv["ansible_connection"] == "winrm":
            assert hv["ansible_winrm_scheme"] == "https", host
            assert hv["ansible_port"] == 5986, host
            assert hv["ansible_winrm_server_cert_validation"] == "validate", host
            assert hv["ansible_winrm_transport"] in ("ntlm", "kerberos"), host
            assert hv["ansible_winrm_message_encryption"] == "always", host
        else:
            assert hv["ansible_connection"] == "psrp", host
            assert hv["ansible_psrp_protocol"] == "https", host
            assert hv["ansible_psrp_cert_validation"] == "validate", host
            assert hv["ansible_psrp_auth"] in ("negotiate", "kerberos", "ntlm"), host
            assert hv["ansible_psrp_reconnection_retries"] > 0, host
        # The password is a vault reference, never plain text.
        assert hv["ansible_password"] == "{{ vault_windows_password }}", host


def test_nothing_shipped_disables_validation_or_uses_basic(repo_root):
    pattern = re.compile(
        r"^\s*(ansible_winrm_server_cert_validation:\s*ignore|ansible_psrp_cert_validation:\s*(ignore|false)"
        r"|ansible_winrm_transport:\s*\[?\s*basic|ansible_psrp_auth:\s*basic)",
        re.MULTILINE,
    )
    offenders = [str(p) for p in shipped_yaml(repo_root) if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_vaulted_password_is_encrypted(repo_root):
    text = (repo_root / "inventory/example/group_vars/windows_workstations/vault.yml").read_text()
    assert "$ANSIBLE_VAULT;1.1;AES256" in text
    assert "Demo-Only" not in text


def test_ansible_cfg_points_at_project_content(repo_root):
    cfg = configparser.ConfigParser()
    cfg.read(repo_root / "ansible.cfg")
    d = cfg["defaults"]
    assert d["inventory"] == "inventory/example"
    assert d["roles_path"] == "roles"
    assert d["collections_path"].split(":")[0] == "collections"
    assert d["fact_caching"] == "arcgis_conda.fleet.fleet_facts"  # jsonfile in the fleet state folder
    assert "fact_caching_connection" not in d  # <state>/.cache/facts, fleet_state_dir's
    assert d["retry_files_enabled"] == "false"
    link = repo_root / "collections/ansible_collections/arcgis_conda/fleet"
    assert link.is_symlink() and link.resolve() == repo_root


def requirement_names(path) -> dict[str, str]:
    """name -> the rest of the line (specifier), for each requirement line of a pip requirements file."""
    reqs = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name = re.split(r"[\[<>=!~ ]", line, maxsplit=1)[0]
            reqs[name.lower()] = line[len(name) :]
    return reqs


def test_shipped_requirements_are_ranges_and_the_project_pins_them(repo_root):
    """A user's `pip install -r requirements.txt` must not replace their ansible-core or pin a library."""
    shipped = requirement_names(repo_root / "requirements.txt")
    assert shipped and not {"ansible", "ansible-core"} & set(shipped)
    assert not [spec for spec in shipped.values() if "==" in spec], shipped
    pins = requirement_names(repo_root / "constraints.txt")
    assert set(shipped) <= set(pins)
    assert all(spec.startswith("==") for spec in pins.values())
    # Each pin make setup installs lies within the range the collection ships.
    for name, spec in shipped.items():
        spec = spec.split("]", 1)[-1]
        assert Version(pins[name][2:]) in SpecifierSet(spec), (name, spec, pins[name])
    dev = requirement_names(repo_root / "requirements-dev.txt")
    assert dev["ansible-core"] == pins["ansible-core"] and dev["ansible"] == pins["ansible"]


def test_execution_environment_is_valid_and_matches_pins(repo_root):
    ee = yaml.safe_load((repo_root / "execution-environment.yml").read_text())
    validate_schema(ee)  # ansible-builder's own schema; raises on any structural error
    assert ee["version"] == 3
    pins = {name: spec[2:] for name, spec in requirement_names(repo_root / "constraints.txt").items()}
    assert ee["dependencies"]["ansible_core"]["package_pip"] == f"ansible-core=={pins['ansible-core']}"
    for req in ee["dependencies"]["python"]:
        name, version = req.split("==")
        assert pins[name.split("[")[0].lower()] == version, req
    # Exactly the run time's needs: requirements.txt's Python clients, galaxy.yml's collections, and no
    # system packages (krb5 only comes with the kerberos extras, which are not installed).
    assert {r.split("==")[0].split("[")[0].lower() for r in ee["dependencies"]["python"]} == set(
        requirement_names(repo_root / "requirements.txt")
    )
    assert "system" not in ee["dependencies"]
    galaxy = yaml.safe_load((repo_root / ee["dependencies"]["galaxy"]).read_text())
    runtime = yaml.safe_load((repo_root / "galaxy.yml").read_text())["dependencies"]
    assert {c["name"] for c in galaxy["collections"]} == set(runtime)
