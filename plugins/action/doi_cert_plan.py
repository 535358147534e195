"""Action plugin arcgis_conda.fleet.doi_cert_plan: read the host's current state in one read-only call,
then decide in Python what the doi_cert role writes, imports, sets and removes. Documentation:
plugins/modules/doi_cert_plan.py."""

from __future__ import annotations

from typing import Any, ClassVar

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_plan import (
    CondaReader,
    PlanError,
    PlanSettings,
    make_plan,
    scan_parameters,
    validate_settings,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_scan import SCAN_SCRIPT

ARGUMENT_SPEC: dict[str, Any] = {
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


def _readers(items: list[dict[str, Any]], kind: str) -> tuple[CondaReader, ...]:
    """CondaReaders from miniconda_installs entries (prefix, flavour), ansible_facts.arcgis entries (id,
    pro_conda_root) or plain {prefix, python_major_minor, label} dicts."""
    readers = []
    for index, item in enumerate(items, 1):
        # An ArcGIS fact's prefix is the arcgispro-py3 env; the conda that reads condarc lives at its root.
        prefix = item.get("pro_conda_root") or item.get("prefix")
        label = item.get("label") or item.get("flavour") or item.get("id") or prefix or f"{kind} #{index}"
        python = item.get("python_major_minor")
        readers.append(
            CondaReader(label=str(label), prefix=prefix, python_major_minor=str(python) if python else None)
        )
    return tuple(readers)


def settings_from_args(args: dict[str, Any], host: str) -> PlanSettings:
    return PlanSettings(
        host=host,
        state=args["state"],
        cert_dir=args["cert_dir"],
        bundle_filename=args["bundle_filename"],
        roots_filename=args["roots_filename"],
        manifest_path=args["manifest_path"],
        users=tuple(args["users"]),
        user_dirname=args["user_dirname"],
        conda=args["conda"],
        condarc_locations=tuple(args["condarc_locations"]),
        conda_installs=_readers(args["conda_installs"], "conda install"),
        other_conda_readers=_readers(args["other_conda_readers"], "conda"),
        condarc_filename=args["condarc_filename"],
        ssl_verify=args["ssl_verify"],
        condarc_final=args["condarc_final"],
        manage_user_condarc=args["manage_user_condarc"],
        pip=args["pip"],
        pip_ini=args["pip_ini"],
        env_vars=tuple(args["env_vars"]),
        windows_store=args["windows_store"],
    )


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS: ClassVar[frozenset[str]] = frozenset(ARGUMENT_SPEC)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        host = task_vars.get("inventory_hostname", "?")
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        settings = settings_from_args(args, host)
        bundle = args.get("bundle") or None
        try:
            validate_settings(settings)  # before the host is contacted at all
            if settings.state == "present" and not bundle:
                raise PlanError(
                    f"host {host}: doi_cert_plan needs the result of arcgis_conda.fleet.doi_cert_bundle in "
                    "bundle when state is present. Fix: register that task and pass it."
                )
            thumbprints = [str(c["sha1"]) for c in (bundle or {}).get("certificates") or []]
            scan = self._execute_module(
                module_name="ansible.windows.win_powershell",
                module_args={
                    "script": SCAN_SCRIPT,
                    "parameters": scan_parameters(settings, thumbprints),
                    "depth": 8,
                    "error_action": "stop",
                },
                task_vars=task_vars,
            )
            if scan.get("failed") or "result" not in scan:
                reason = scan.get("msg") or scan.get("error") or "no result"
                raise AnsibleActionFail(
                    f"host {host}: the read-only doi_cert scan failed ({reason}). Fix: check that the "
                    "connection user is a local administrator and PowerShell 5.1 is present."
                )
            plan = make_plan(settings, scan["result"], bundle)
        except PlanError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        result.update(plan.as_dict())
        result["changed"] = False
        result["warnings"] = list(plan.warnings)
        # The task's own check mode (ansible_check_mode only reflects --check, not `check_mode: true`).
        result["check_mode"] = bool(self._task.check_mode)
        result["ansible_facts"] = {"doi_cert_result": published_facts(settings, plan.as_dict(), bundle)}
        return result


def published_facts(
    settings: PlanSettings, plan: dict[str, Any], bundle: dict[str, Any] | None
) -> dict[str, Any]:
    """What the roles that follow read (``doi_cert_result``): where the bundle is and what it trusts."""
    present = settings.state == "present"
    return {
        "state": settings.state,
        "bundle_path": settings.bundle_path if present else None,
        "roots_path": settings.roots_path if present else None,
        "ssl_verify": settings.ssl_verify_value if present and settings.conda else None,
        "condarc_files": plan["condarc_files"],
        "users": plan["users"],
        "certificates": [
            {k: c.get(k) for k in ("subject", "sha256", "sha1", "not_after")}
            for c in ((bundle or {}).get("certificates") or [])
        ]
        if present
        else [],
    }
