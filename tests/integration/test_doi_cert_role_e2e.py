"""The doi_cert role's real YAML, end to end through ansible-playbook: --check, apply, apply again (no
change), rotation and state=absent (the host exactly as before).

There is no Windows host here, so a stand-in ``ansible.windows`` collection, put first on the
collections path of this run only, implements the modules the role calls (win_file, win_copy,
win_certificate_store, win_environment, win_acl, win_acl_inheritance, win_owner, win_stat, slurp,
win_powershell) in Python over the in-memory host of tests/unit/doi_cert_fakehost.py, saved as JSON
between tasks. They honour check mode and fail where Windows would (a missing folder or file). What
this proves is the role's wiring: loop keys, conditions, order, check-mode guards, idempotence. What
the real modules do on Windows is not exercised here (see the Molecule scenario).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))
from doi_cert_fakehost import FakeHost, dump, load
from doi_cert_testca import make_ca

UNIT = Path(__file__).resolve().parent.parent / "unit"

pytestmark = pytest.mark.slow

COMMON = r"""
import base64, hashlib, json, os, re
from ansible.module_utils.basic import AnsibleModule
from doi_cert_fakehost import dump, load, parent

STATE = os.environ["FAKE_WINDOWS_STATE"]


def open_host():
    with open(STATE) as handle:
        return load(handle.read())


def save(module, host):
    if not module.check_mode:
        with open(STATE, "w") as handle:
            handle.write(dump(host))


def extra(name, default):
    path = STATE + "." + name
    return json.load(open(path)) if os.path.exists(path) else default


def save_extra(module, name, value):
    if not module.check_mode:
        json.dump(value, open(STATE + "." + name, "w"))


def exists(host, path):
    return path.lower() in host.dirs or path.lower() in host.files
"""

MODULES = {
    "win_file": r"""
def main():
    spec = {"path": {"type": "str", "required": True}, "state": {"type": "str"}}
    m = AnsibleModule(spec, supports_check_mode=True)
    host, path, changed = open_host(), m.params["path"], False
    if m.params["state"] == "directory":
        changed = host.mkdir(path)
    elif m.params["state"] == "absent":
        prefix = path.lower() + "\\"
        doomed = [k for k in host.files if k == path.lower() or k.startswith(prefix)]
        doomed_dirs = [k for k in host.dirs if k == path.lower() or k.startswith(prefix)]
        changed = bool(doomed or doomed_dirs)
        for k in doomed:
            del host.files[k]
        for k in doomed_dirs:
            del host.dirs[k]
    save(m, host)
    m.exit_json(changed=changed)
""",
    "win_copy": r"""
def main():
    spec = {"content": {"type": "str"}, "dest": {"type": "str", "required": True}, "backup": {"type": "bool"}}
    m = AnsibleModule(spec, supports_check_mode=True)
    host, dest, content = open_host(), m.params["dest"], m.params["content"]
    current = host.text(dest)
    if current == content:
        m.exit_json(changed=False, checksum=hashlib.sha1(content.encode()).hexdigest())
    if parent(dest).lower() not in host.dirs and not m.check_mode:
        host.mkdir(parent(dest))  # win_copy creates a missing parent folder
    if m.params["backup"] and current is not None:
        host.backups += 1
        name = dest + ".4242.2026010%d-000000.bak" % host.backups
        host.files[name.lower()] = (name, current)
    host.files[dest.lower()] = (dest, content)
    save(m, host)
    m.exit_json(changed=True)
""",
    "win_certificate_store": r"""
def main():
    m = AnsibleModule(
        {k: {"type": "str"} for k in ("path", "thumbprint", "state", "store_name", "store_location")},
        supports_check_mode=True,
    )
    host = open_host()
    assert m.params["store_name"] == "Root" and m.params["store_location"] == "LocalMachine"
    if m.params["state"] == "present":
        text = host.text(m.params["path"])
        if text is None:
            m.fail_json(msg="file at path %s does not exist" % m.params["path"])
        body = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S).group(1)
        thumb = hashlib.sha1(base64.b64decode("".join(body.split()))).hexdigest().upper()
        changed = thumb not in host.store
        host.store.add(thumb)
    else:
        changed = m.params["thumbprint"] in host.store
        host.store.discard(m.params["thumbprint"])
    save(m, host)
    m.exit_json(changed=changed)
""",
    "win_environment": r"""
def main():
    spec = {k: {"type": "str"} for k in ("name", "value", "level", "state")}
    m = AnsibleModule(spec, supports_check_mode=True)
    host, name = open_host(), m.params["name"]
    assert m.params["level"] == "machine"
    before = host.env.get(name)
    if m.params["state"] == "present":
        host.env[name] = m.params["value"]
    else:
        host.env.pop(name, None)
    save(m, host)
    m.exit_json(changed=before != host.env.get(name))
""",
    "win_owner": r"""
def main():
    spec = {"path": {"type": "str"}, "user": {"type": "str"}, "recurse": {"type": "bool"}}
    m = AnsibleModule(spec, supports_check_mode=True)
    host, owners = open_host(), extra("owner", {})
    if not exists(host, m.params["path"]):
        m.fail_json(msg="%s file or directory does not exist on the host" % m.params["path"])
    changed = owners.get(m.params["path"].lower()) != m.params["user"]
    owners[m.params["path"].lower()] = m.params["user"]
    save_extra(m, "owner", owners)
    m.exit_json(changed=changed)
""",
    "win_acl": r"""
def main():
    spec = {k: {"type": "str"} for k in ("path", "user", "rights", "type", "state")}
    m = AnsibleModule(spec, supports_check_mode=True)
    host, acl = open_host(), extra("acl", {})
    if not exists(host, m.params["path"]):
        m.fail_json(msg="%s file or directory does not exist on the host" % m.params["path"])
    entry = "%(user)s:%(rights)s:%(type)s" % m.params
    rules = acl.setdefault(m.params["path"].lower(), [])
    changed = entry not in rules
    if changed:
        rules.append(entry)
    save_extra(m, "acl", acl)
    m.exit_json(changed=changed)
""",
    "win_acl_inheritance": r"""
def main():
    spec = {"path": {"type": "str"}, "state": {"type": "str"}, "reorganize": {"type": "bool"}}
    m = AnsibleModule(spec, supports_check_mode=True)
    host, protected = open_host(), extra("protected", [])
    if not exists(host, m.params["path"]):
        m.fail_json(msg="%s file or directory does not exist on the host" % m.params["path"])
    changed = m.params["path"].lower() not in protected
    if changed:
        protected.append(m.params["path"].lower())
    save_extra(m, "protected", protected)
    m.exit_json(changed=changed)
""",
    "win_stat": r"""
def main():
    spec = {k: {"type": "raw"} for k in ("path", "checksum_algorithm", "get_checksum")}
    m = AnsibleModule(spec, supports_check_mode=True)
    text = open_host().text(m.params["path"])
    stat = {"exists": text is not None}
    if text is not None:
        stat["checksum"] = hashlib.sha1(text.encode()).hexdigest()
    m.exit_json(changed=False, stat=stat)
""",
    "slurp": r"""
def main():
    m = AnsibleModule({"src": {"type": "str", "required": True}}, supports_check_mode=True)
    text = open_host().text(m.params["src"])
    if text is None:
        m.fail_json(msg="Path %s is not found" % m.params["src"])
    m.exit_json(changed=False, content=base64.b64encode(text.encode()).decode(), encoding="base64")
""",
    "win_command": r"""
def main():
    m = AnsibleModule({"argv": {"type": "list"}}, supports_check_mode=True)
    m.fail_json(msg="no conda on the stand-in host: the role must not call conda here")
""",
    "win_powershell": r"""
def main():
    spec = {k: {"type": "raw"} for k in ("script", "parameters", "depth", "error_action")}
    m = AnsibleModule(spec, supports_check_mode=True)
    assert "[CmdletBinding(SupportsShouldProcess)]" in m.params["script"]
    m.exit_json(changed=False, result=open_host().scan(m.params["parameters"]))
""",
}


@pytest.fixture(scope="module")
def fake_windows(tmp_path_factory) -> Path:
    """A collections folder holding the stand-in ansible.windows collection."""
    root = tmp_path_factory.mktemp("fakecoll")
    coll = root / "ansible_collections" / "ansible" / "windows"
    (coll / "plugins" / "modules").mkdir(parents=True)
    (coll / "galaxy.yml").write_text("namespace: ansible\nname: windows\nversion: 99.0.0\n")
    (coll / "meta").mkdir()
    (coll / "meta" / "runtime.yml").write_text("requires_ansible: '>=2.15'\n")
    for name, body in MODULES.items():
        source = COMMON + body + "\n\nif __name__ == '__main__':\n    main()\n"
        doc = f'DOCUMENTATION = r"""\nmodule: {name}\nshort_description: test stand-in\n"""\n'
        (coll / "plugins" / "modules" / f"{name}.py").write_text(doc + source)
    return root


def lab_host() -> FakeHost:
    host = FakeHost()
    host.mkdir("C:\\ProgramData")
    host.put("C:\\ProgramData\\conda\\.condarc", "channels:\n  - defaults\n")
    host.put("C:\\Miniconda2\\conda-meta\\history", "")
    host.add_profile("GIS101-01\\alice", "C:\\Users\\alice")
    host.put("C:\\Users\\alice\\.condarc", "ssl_verify: C:\\Users\\alice\\.certificates\\DOIRootCA.crt\n")
    host.env["REQUESTS_CA_BUNDLE"] = "C:\\Tools\\cacert.pem"
    return host


class Lab:
    def __init__(self, tmp_path: Path, repo_root: Path, collections: Path) -> None:
        self.tmp, self.repo, self.collections = tmp_path, repo_root, collections
        self.state = tmp_path / "host.json"
        self.state.write_text(dump(lab_host()))

    def host(self) -> FakeHost:
        return load(self.state.read_text())

    def play(self, role_vars: dict, *extra: str) -> tuple[int, str, int]:
        playbook = self.tmp / "play.yml"
        playbook.write_text(
            yaml.safe_dump(
                [
                    {
                        "name": "lab",
                        "hosts": "all",
                        "gather_facts": False,
                        "roles": [{"role": "doi_cert", **role_vars}],
                    }
                ]
            )
        )
        env = dict(
            os.environ,
            ANSIBLE_CONFIG=str(self.repo / "ansible.cfg"),
            ANSIBLE_COLLECTIONS_PATH=f"{self.collections}:{self.repo / 'collections'}",
            ANSIBLE_NOCOLOR="1",
            FAKE_WINDOWS_STATE=str(self.state),
            PYTHONPATH=str(UNIT),
        )
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "ansible-playbook"),
                *("-i", "gis101-01,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}"),
                *extra,
                str(playbook),
            ],
            cwd=self.repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        recap = re.search(r"gis101-01\s+: ok=\d+\s+changed=(\d+)", run.stdout)
        return run.returncode, run.stdout + run.stderr, int(recap.group(1)) if recap else -1


def test_role_yaml_check_apply_idempotent_rotate_absent(tmp_path, repo_root, fake_windows):
    old, new = make_ca("Test DOI Root CA"), make_ca("Test DOI Root CA G2")
    (tmp_path / "old.crt").write_bytes(old.pem)
    (tmp_path / "new.cer").write_bytes(new.der)
    lab = Lab(tmp_path, repo_root, fake_windows)
    before = lab.host().snapshot()
    settings = {
        "doi_cert_certificates": [{"path": str(tmp_path / "old.crt")}],
        "doi_cert_users": ["alice"],
        "doi_cert_conda_installs": [{"prefix": "C:\\Miniconda2", "python_major_minor": "2.7"}],
        "doi_cert_windows_store": True,
        "doi_cert_fail_on_override": True,  # the seed's ~\.condarc must lose against '#!final'
    }

    rc, out, changed = lab.play(settings, "--check")
    assert rc == 0, out
    assert changed > 0 and lab.host().snapshot() == before  # predicted, not done

    rc, out, changed = lab.play(settings)
    assert rc == 0, out
    host = lab.host()
    bundle = host.text("C:\\ProgramData\\arcgis-conda\\certs\\ca-bundle.pem")
    assert bundle and old.sha1 in host.store
    assert yaml.safe_load(host.text("C:\\Miniconda2\\condarc.d\\doi_cert.yml"))["ssl_verify"].endswith(
        "ca-bundle.pem"
    )
    assert host.text("C:\\Users\\alice\\.certificates\\ca-bundle.pem") == bundle
    assert (
        "machine variable REQUESTS_CA_BUNDLE=C:\\Tools\\cacert.pem overrides" in out
    )  # reported, not changed
    assert host.env == {"REQUESTS_CA_BUNDLE": "C:\\Tools\\cacert.pem"}

    rc, out, changed = lab.play(settings)
    assert (rc, changed) == (0, 0), out

    rotate = {**settings, "doi_cert_certificates": [{"path": str(tmp_path / "new.cer")}]}
    rc, out, changed = lab.play(rotate)
    assert rc == 0 and changed > 0, out
    assert lab.host().store == {new.sha1}
    assert lab.play(rotate)[2] == 0

    rc, out, _ = lab.play({**settings, "doi_cert_state": "absent"})
    assert rc == 0, out
    assert lab.host().snapshot() == before
