"""Action plugin arcgis_conda.fleet.miniconda_plan: validate the miniconda role's input and decide.

It moves data only: task arguments and ``ansible_facts.arcgis`` in, one cheap read of the Windows
architecture when needed (``ansible.windows.win_reg_stat``), the plan out. Every decision is in
``plugins/module_utils/miniconda_plan.py``; every bad input fails here, before the host changes.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.miniconda_plan import (
    DEFAULT_DOWNLOAD_DIR,
    OFFICIAL_ARCHIVE,
    PlanError,
    build_plan,
    inputs_from_args,
    os_bits_from,
)

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
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
}

ARCH_KEY = r"HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Environment"


class ActionModule(ActionBase):
    """Plan the miniconda role for one host."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result = super().run(tmp, task_vars)
        host = str(task_vars.get("inventory_hostname", "this host"))
        inputs = inputs_from_args(args)
        try:
            os_bits = self._os_bits(task_vars, host) if inputs.state == "present" else None
            plan = build_plan(inputs, os_bits)
        except PlanError as exc:
            raise AnsibleActionFail(f"{host}: {exc}") from None
        plan["os_bits"] = os_bits
        warnings = plan.pop("warnings")
        result.update(plan)
        result["changed"] = False
        if warnings:
            result["warnings"] = [f"{host}: {w}" for w in warnings]
        result["msg"] = _summary(plan)
        return result

    def _os_bits(self, task_vars: dict[str, Any], host: str) -> int:
        """Bits of Windows: gathered facts when present, else one registry read (safe in check mode)."""
        facts = task_vars.get("ansible_facts") or {}
        if facts.get("architecture2"):
            return os_bits_from(facts["architecture2"])
        read = self._execute_module(
            module_name="ansible.windows.win_reg_stat",
            module_args={"path": ARCH_KEY, "name": "PROCESSOR_ARCHITECTURE"},
            task_vars=task_vars,
        )
        if read.get("failed") or not read.get("exists"):
            raise AnsibleActionFail(
                f"{host}: could not read PROCESSOR_ARCHITECTURE under {ARCH_KEY} to tell 32- from 64-bit "
                f"Windows: {read.get('msg', 'value not found')}. Fix: check WinRM rights, or gather facts "
                "(ansible.windows.setup) before the role."
            )
        return os_bits_from(read.get("value"))


def _summary(plan: dict[str, Any]) -> str:
    if plan["state"] == "absent":
        return "remove what this role installed: " + ", ".join(r["prefix"] for r in plan["removals"])
    if not plan["installs"]:
        return "nothing to install"
    return "install " + "; ".join(i["label"] for i in plan["installs"])
