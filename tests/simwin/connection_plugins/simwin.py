# ruff: noqa: E402  (the fixture package is put on sys.path before it is imported)
"""simwin: an Ansible connection to a simulated Windows workstation (a test fixture, see tests/simwin).

Behaves like ansible-core's winrm/psrp connections towards the PowerShell shell plugin, so the real
action plugins run and the real exec-wrapper payloads are built; only the host's answers are simulated,
from the state in ``ansible_simwin_state`` (see tests/simwin/host.py).
"""

from __future__ import annotations

DOCUMENTATION = """
name: simwin
short_description: Talk to a simulated Windows host (arcgis_conda.fleet test bed)
description:
  - Decodes the PowerShell exec-wrapper payloads Ansible sends and answers them from a host state on disk.
author: arcgis_conda.fleet
options:
  simwin_state:
    description: The host's state directory (host.json, blobs/, calls.jsonl).
    type: path
    required: true
    vars:
      - name: ansible_simwin_state
  remote_user:
    description: Ignored; the simulated session user comes from the host state.
    type: str
    vars:
      - name: ansible_user
"""

import base64
import json
import os
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.connection import ConnectionBase

_TESTS = str(Path(__file__).resolve().parents[2])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from simwin import host as H
from simwin import modules as M
from simwin import scripts as S
from simwin.calls import log_call

SEPARATOR = b"\n\0\0\0\0\n"
# become_wrapper.ps1 parameter values -> the runas become_flags names (ansible/plugins/become/runas.py)
LOGON_TYPES = {
    "Interactive": "interactive",
    "Network": "network",
    "Batch": "batch",
    "Service": "service",
    "Unlock": "unlock",
    "NetworkCleartext": "network_cleartext",
    "NewCredentials": "new_credentials",
}
LOGON_FLAGS = {"None": "none", "WithProfile": "with_profile", "NetCredentialsOnly": "netcredentials_only"}


class Connection(ConnectionBase):
    """A connection whose far end is a simulated Windows host."""

    transport = "simwin"
    has_pipelining = True
    module_implementation_preferences = (".ps1", ".exe", "")
    allow_executable = False
    default_shell = "powershell"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.always_pipeline_modules = True
        self._shell_type = "powershell"

    def _connect(self) -> Connection:
        if not self._connected:
            state = self._state_dir()
            if not (Path(state) / "host.json").exists():
                raise AnsibleConnectionFailure(
                    f"simwin: no host state at {state} (run tests/simwin/lab.py init)"
                )
            self._connected = True
        return self

    def _state_dir(self) -> str:
        state = self.get_option("simwin_state")
        if not state:
            raise AnsibleError("simwin: set ansible_simwin_state to the host's state directory")
        return str(state)

    def close(self) -> None:
        self._connected = False

    def reset(self) -> None:
        self.close()

    # -- commands --
    def exec_command(
        self, cmd: str, in_data: bytes | None = None, sudoable: bool = True
    ) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        self._connect()
        state = self._state_dir()
        drop: dict[str, Any] | None = None
        with H.Host.locked(state) as host:
            if in_data and SEPARATOR in in_data:
                rc, out, err, record, drop = self._exec_manifest(host, in_data)
            else:
                rc, out, err, record = self._raw(host, cmd)
            log_call(state, record)
        if drop is not None:
            raise AnsibleConnectionFailure(
                f"simwin fault: connection dropped after {drop.get('module')} "
                "(injected drop_connection_after)"
            )
        return rc, out.encode("utf-8"), err.encode("utf-8")

    def _exec_manifest(self, host: H.Host, in_data: bytes) -> tuple[int, str, str, dict[str, Any], Any]:
        head, _, tail = in_data.partition(SEPARATOR)
        bootstrap = json.loads(head)
        manifest = json.loads(tail.split(SEPARATOR)[0]) if tail.strip() else {}
        actions = manifest.get("actions") or []
        names = [a.get("name") for a in actions]
        if bootstrap.get("name") != "exec_wrapper" or not actions:
            return 1, "", "simwin: not modelled: bootstrap payload\n", _raw_record("bootstrap", False), None
        last = actions[-1]
        become = None
        for action in actions[:-1]:
            if action["name"] == "become_wrapper.ps1":
                params = action.get("params") or {}
                flags = params.get("LogonFlags") or []
                flags = flags if isinstance(flags, list) else [flags]
                become = {
                    "user": params.get("BecomeUser"),
                    "logon_type": LOGON_TYPES.get(
                        str(params.get("LogonType") or "Interactive"), "interactive"
                    ),
                    "logon_flags": [LOGON_FLAGS.get(str(f), str(f).lower()) for f in flags],
                    "password": bool((action.get("secure_params") or {}).get("BecomePassword")),
                }
            elif action["name"] not in ("coverage_wrapper.ps1",):
                record = _module_record(last, None, False, True)
                return (
                    1,
                    json.dumps({"failed": True, "msg": f"simwin: not modelled: {action['name']}"}),
                    "",
                    record,
                    None,
                )
        principal = host.session_principal(become)
        if last["name"] == "powershell_mkdtemp.ps1":
            params = last.get("params") or {}
            path = H.norm_path(host.expand(str(params["Directory"]), principal) + "\\" + str(params["Name"]))
            host.mkdir(path, principal, parents=True)
            return 0, path + "\r\n", "", _raw_record("powershell_mkdtemp.ps1", True), None
        if last["name"] == "powershell_expand_user.ps1":
            path = str((last.get("params") or {}).get("Path"))
            profile = host.user_env(principal)["USERPROFILE"]
            value = profile if path == "~" else (profile + path[1:] if path.startswith("~\\") else path)
            return 0, value + "\r\n", "", _raw_record("powershell_expand_user.ps1", False), None
        if last["name"] != "module_wrapper.ps1":
            return (
                1,
                "",
                f"simwin: not modelled: exec action {names}\n",
                _raw_record(last["name"], False),
                None,
            )
        params = last.get("params") or {}
        module = fqcn(str(params.get("Script")))
        variables = params.get("Variables") or [{}]
        args = dict(variables[0].get("Value") or {})
        script_name = (
            S.identify(str(args.get("script") or "")) if M.short_name(module) == "win_powershell" else None
        )
        tmp_base = args.get("_ansible_remote_tmp") or "%TEMP%"
        module_tmp = args.get("_ansible_tmpdir")
        own_tmp = None
        if not module_tmp:
            own_tmp = H.norm_path(
                host.expand(str(tmp_base), principal) + f"\\ansible-moduletmp-{os.getpid()}-simwin"
            )
            host.mkdir(own_tmp, principal, parents=True)
            module_tmp = own_tmp
        try:
            environment = {str(k): str(v) for k, v in (params.get("Environment") or {}).items()}
            try:
                delay = host.take_fault("delay", module)
                if delay:  # a slow or firewalled host: the module answers only after this long
                    host.save()  # the fault is spent even when the controller's timeout ends this call
                    time.sleep(float(delay.get("seconds", 1)))
                result = M.run_module(host, module, args, principal, module_tmp, environment)
            except Exception as exc:  # a simulator bug: report it as the module's failure, visibly
                result = {
                    "failed": True,
                    "changed": False,
                    "msg": f"simwin: internal error in {module}: {exc!r}",
                    "exception": traceback.format_exc(),
                }
        finally:
            if own_tmp and host.exists(own_tmp):
                host.delete(own_tmp, principal)
        drop = None
        if not result.get("failed"):
            drop = host.take_fault("drop_connection_after", module)
        record = _module_record(last, script_name, bool(result.get("changed")), bool(result.get("failed")))
        record["check_mode"] = bool(args.get("_ansible_check_mode"))
        record["effects"] = effects_of(M.short_name(module), script_name, args, result)
        record["module"] = module
        record["user"] = principal.name
        record["become"] = become is not None
        if script_name == "host_read":
            # What the bench reports per host (benchmarks/bench_calls.py): the answer's size, and how many
            # offline hives the read loaded with reg load.
            parameters = dict(args.get("parameters") or {})
            record["answer_bytes"] = len(json.dumps(result.get("result") or {}))
            record["hives_loaded"] = int((result.get("result") or {}).get("hives_loaded") or 0)
            record["profiles_read"] = bool(
                parameters.get("Arcgis") or parameters.get("Profiles") or parameters.get("LoadHives")
            )
        return (1 if result.get("failed") else 0), json.dumps(result), "", record, drop

    def _raw(self, host: H.Host, cmd: str) -> tuple[int, str, str, dict[str, Any]]:
        script = _decode(cmd)
        principal = host.session_principal(None)
        match = re.search(r"Remove-Item '((?:[^']|'')+)' -Force(?: -Recurse)?;", script)
        if match:
            path = match.group(1).replace("''", "'")
            try:
                host.delete(path, principal)
            except H.WinError as err:
                return 1, "", str(err) + "\n", _raw_record("Remove-Item", False)
            return 0, "", "", _raw_record("Remove-Item", True)
        first = script.strip().splitlines()[0][:120] if script.strip() else cmd[:120]
        return 1, "", f"simwin: not modelled: raw command {first!r}\n", _raw_record(first, False, failed=True)

    # -- files --
    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        self._connect()
        data = Path(in_path).read_bytes()
        out_path = self._shell._unquote(out_path)
        state = self._state_dir()
        with H.Host.locked(state) as host:
            principal = host.session_principal(None)
            failed = False
            try:
                host.write(out_path, data, principal)
            except H.WinError as err:
                failed = True
                error = err
            log_call(
                state,
                {
                    "kind": "put_file",
                    "module": "put_file",
                    "script": None,
                    "changed": not failed,
                    "check_mode": False,
                    "failed": failed,
                    "path": H.norm_path(out_path),
                },
            )
        if failed:
            raise AnsibleError(f"simwin: put_file {out_path}: {error}")

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        self._connect()
        in_path = self._shell._unquote(in_path)
        state = self._state_dir()
        with H.Host.locked(state) as host:
            try:
                data = host.read_bytes(in_path, host.session_principal(None))
            except H.WinError as err:
                raise AnsibleError(f"simwin: fetch_file {in_path}: {err}") from err
            log_call(
                state,
                {
                    "kind": "raw",
                    "module": "fetch_file",
                    "script": None,
                    "changed": False,
                    "check_mode": False,
                    "failed": False,
                },
            )
        Path(out_path).write_bytes(data)


def _decode(cmd: str) -> str:
    match = re.search(r"-EncodedCommand\s+(\S+)", cmd)
    if not match:
        return cmd
    try:
        return base64.b64decode(match.group(1)).decode("utf-16-le")
    except ValueError:
        return cmd


def _raw_record(name: str, changed: bool, failed: bool = False) -> dict[str, Any]:
    return {
        "kind": "raw",
        "module": name,
        "script": None,
        "changed": changed,
        "check_mode": False,
        "failed": failed,
    }


def fqcn(script: str) -> str:
    """'ansible_collections.ansible.windows.plugins.modules.win_stat' -> 'ansible.windows.win_stat'."""
    name = re.sub(r"\.ps1$", "", script)
    match = re.match(r"^ansible_collections\.([^.]+)\.([^.]+)\.plugins\.modules\.(.+)$", name)
    if match:
        return ".".join(match.groups())
    match = re.match(r"^ansible\.modules\.(.+)$", name)
    return f"ansible.builtin.{match.group(1)}" if match else name


def effects_of(
    name: str, script: str | None, args: dict[str, Any], result: dict[str, Any]
) -> list[dict[str, Any]]:
    """What a module call changed on the host, read from its own arguments and result (not from the
    controller's plan), so a test can compare the plan with what really happened."""
    if result.get("failed") or args.get("_ansible_check_mode"):
        return []
    if name == "win_powershell" and script == "apply_files":
        items = (result.get("result") or {}).get("applied") or []
        return [{"op": i.get("op"), "path": i.get("path")} for i in items if i.get("changed")]
    if not result.get("changed"):
        return []
    if name == "win_get_url":
        return [{"op": "download", "path": args.get("dest")}]
    if name == "win_package":
        return [{"op": "uninstall" if args.get("state") == "absent" else "install", "path": args.get("path")}]
    if name == "win_command":
        return [{"op": "command", "argv": list(args.get("argv") or [])}]
    if name == "win_copy":
        return [{"op": "copy", "path": args.get("dest")}]
    if name == "win_environment":
        return [{"op": "env_var", "path": args.get("name")}]
    if name == "win_certificate_store":
        return [{"op": "cert", "path": args.get("thumbprint") or args.get("path")}]
    return [{"op": name, "path": args.get("path") or args.get("dest")}]


def _module_record(action: dict[str, Any], script: str | None, changed: bool, failed: bool) -> dict[str, Any]:
    module = fqcn(str((action.get("params") or {}).get("Script") or action.get("name")))
    return {
        "kind": "module",
        "module": module,
        "script": script,
        "changed": changed,
        "check_mode": False,
        "failed": failed,
    }
