"""Action plugin arcgis_conda.fleet.doi_cert_bundle: validate the organisation root CA certificate(s) and
build the CA bundle on the controller, before any host is touched. Documentation: plugins/modules/."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from ansible.errors import AnsibleActionFail, AnsibleError, AnsibleFileNotFound
from ansible.plugins.action import ActionBase
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_bundle import (
    CertificateError,
    bundle_from_args,
)

ARGUMENT_SPEC: dict[str, Any] = {
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


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS: ClassVar[frozenset[str]] = frozenset(ARGUMENT_SPEC)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        host = task_vars.get("inventory_hostname", "?")
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            bundle = bundle_from_args(
                args, lambda path, what: self._read_file(path, what, host), dt.datetime.now(dt.UTC)
            )
        except CertificateError as exc:
            raise AnsibleActionFail(f"host {host}: {exc}") from exc
        result.update(bundle.as_dict())
        result["changed"] = False
        result["warnings"] = [f"host {host}: {w}" for w in bundle.warnings]
        return result

    def _read_file(self, path: str, what: str, host: str) -> bytes:
        try:
            found = self._find_needle("files", path)
        except (AnsibleFileNotFound, AnsibleError) as exc:
            raise AnsibleActionFail(
                f"host {host}: {what} {path!r} was not found on the controller (looked in the role's and "
                "playbook's files/ folders and the playbook folder). Fix: give an absolute path, or put the "
                "file in files/ beside the playbook."
            ) from exc
        real = self._loader.get_real_file(found, decrypt=True)  # vault-encrypted files work too
        try:
            with open(real, "rb") as handle:
                return handle.read()
        finally:
            self._loader.cleanup_tmp_file(real)
