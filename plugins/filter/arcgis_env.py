"""Filters the arcgis_env role uses to decide, from what a host reported, what to change and what is wrong.

- ``plan | arcgis_conda.fleet.arcgis_env_change(lock_packages, conda_list_stdout, env_exists)``
- ``plan | arcgis_conda.fleet.arcgis_env_verify(version_report_stdout)`` -> list of problems
- ``plans | arcgis_conda.fleet.arcgis_env_published`` -> the ``arcgis_env_envs`` records
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_host import (
    HostStateError,
    env_change,
    published_envs,
    verify_env,
)


def arcgis_env_change(
    plan: Mapping[str, Any],
    lock_packages: Sequence[Mapping[str, str]] | None,
    conda_list_stdout: str | None,
    env_exists: bool,
) -> dict[str, Any]:
    try:
        return env_change(plan, lock_packages, conda_list_stdout or None, bool(env_exists))
    except (HostStateError, ValueError, KeyError) as exc:
        raise AnsibleFilterError(
            f"arcgis_env_change: cannot compare env {plan.get('name')!r} at {plan.get('prefix')!r} "
            "with its plan: "
            f"{exc}. Fix the env by hand or remove it (arcgis_env_state: absent) and run again."
        ) from exc


def arcgis_env_verify(plan: Mapping[str, Any], stdout: str) -> list[str]:
    return verify_env(plan, stdout or "")


def arcgis_env_published(plans: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return published_envs(plans)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "arcgis_env_change": arcgis_env_change,
            "arcgis_env_verify": arcgis_env_verify,
            "arcgis_env_published": arcgis_env_published,
        }
