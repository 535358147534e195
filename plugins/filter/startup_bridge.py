"""Filter arcgis_conda.fleet.startup_bridge_verdict: judge the startup bridge's verify runs.

    {{ verify_runs.results | arcgis_conda.fleet.startup_bridge_verdict }}

takes the registered results of the role's win_command loop (one per planned verify run, each with its
loop item) and returns ``{ok, problems, runs}``; the logic is module_utils/startup_bridge_verdict.py.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.startup_bridge_verdict import judge_results


def startup_bridge_verdict(results: Any) -> dict[str, Any]:
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise AnsibleFilterError(
            "startup_bridge_verdict expects the list of a registered loop's results (register: x, then "
            f"x.results), got {type(results).__name__}"
        )
    return judge_results(results)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"startup_bridge_verdict": startup_bridge_verdict}
