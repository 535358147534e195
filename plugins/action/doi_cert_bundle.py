"""Action plugin arcgis_conda.fleet.doi_cert_bundle: validate the organisation root CA certificate(s) and
build the CA bundle on the controller, before any host is touched. Documentation: plugins/modules/."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, ClassVar

from ansible.errors import AnsibleActionFail, AnsibleError, AnsibleFileNotFound
from ansible.plugins.action import ActionBase
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_bundle import (
    CertificateError,
    CertificateSource,
    prepare_bundle,
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
            items = enumerate(args["certificates"], 1)
            sources = [self._read_source(item, index, host) for index, item in items]
            public_pem, public_label = self._public_roots(args, host)
            bundle = prepare_bundle(
                sources,
                now=dt.datetime.now(dt.UTC),
                fingerprints=args["fingerprints"],
                warn_days=args["expiry_warn_days"],
                public_roots_pem=public_pem,
                public_roots_source=public_label,
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

    def _read_source(self, item: dict[str, Any], index: int, host: str) -> CertificateSource:
        if item.get("path"):
            path = str(item["path"])
            data = self._read_file(path, "file", host)
            return CertificateSource(label=f"certificate file {path}", data=data)
        return CertificateSource(
            label=f"inline certificate #{index}", data=str(item["content"]).encode("utf-8")
        )

    def _public_roots(self, args: dict[str, Any], host: str) -> tuple[bytes | None, str]:
        choice = args["public_roots"]
        if choice == "none":
            return None, "none (doi_cert_public_roots: none): only the organisation roots are trusted"
        if choice == "file":
            path = args["public_roots_file"]
            if not path:
                raise AnsibleActionFail(
                    f"host {host}: doi_cert_public_roots is file but doi_cert_public_roots_file is empty. "
                    "Fix: set doi_cert_public_roots_file to a PEM bundle on the controller."
                )
            return self._read_file(path, "public roots file", host), f"file {os.path.basename(path)}"
        try:
            import certifi
        except ImportError as exc:
            raise AnsibleActionFail(
                f"host {host}: doi_cert_public_roots is certifi but the controller's Python has no certifi "
                "package. Fix: run `make setup` (certifi is pinned in constraints.txt)."
            ) from exc
        with open(certifi.where(), "rb") as handle:
            data = handle.read()
        return data, f"certifi {certifi.__version__} from the controller (Mozilla's CA list)"
