"""Where the fleet keeps its state, and whether this run is an AWX/AAP job (controller only; no Ansible).

One folder holds everything a run leaves for the next one: the fact cache (``.cache/facts``), the conda
locks (``.cache/locks``), the solver's cache (``.cache/rattler``), the run lock (``.cache/run.lock``) and the
reports (``reports/``). It is ``fleet_state_dir`` (a variable), else ``$ARCGIS_FLEET_STATE_DIR``, else the
project folder (the folder of the ansible.cfg in use, else the working directory): from the command line
nothing changes; AWX copies the project per job and throws the copy away, so there it must name a
persistent path.

AWX sets ``JOB_ID`` and ``AWX_HOST`` in every job's environment (awx/main/tasks/jobs.py
``RunJob.build_env``) and ``awx_job_id``/``awx_workflow_job_id`` as extra variables
(awx/main/models/unified_jobs.py ``awx_meta_vars``). A sliced job is a workflow job whose nodes are the
slices (awx/main/models/workflow.py ``is_sliced_job``), each running the playbook on every
``slice_count``-th host (awx/main/models/inventory.py ``get_sliced_hosts``): the slices of one job share
``awx_workflow_job_id``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV = "ARCGIS_FLEET_STATE_DIR"
STATE_VARIABLE = "fleet_state_dir"
FACTS = Path(".cache") / "facts"
LOCKS = Path(".cache") / "locks"
SOLVER = Path(".cache") / "rattler"
RUN_LOCK = Path(".cache") / "run.lock"
REPORTS = Path("reports")


def state_dir(
    value: Any = None, config_file: str | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The state folder: ``value`` (fleet_state_dir), else $ARCGIS_FLEET_STATE_DIR, else the project folder.

    A relative path is relative to the project folder (the ansible.cfg's folder, else the cwd)."""
    env = os.environ if environ is None else environ
    project = Path(config_file).parent if config_file else Path.cwd()
    given = str(value or "").strip() or env.get(ENV, "").strip()
    if not given:
        return project
    path = Path(os.path.expanduser(given))
    return path if path.is_absolute() else project / path


def facts_dir(state: Path) -> Path:
    return state / FACTS


def locks_dir(state: Path) -> Path:
    return state / LOCKS


def solver_dir(state: Path) -> Path:
    return state / SOLVER


def run_lock(state: Path) -> Path:
    return state / RUN_LOCK


def reports_dir(state: Path) -> Path:
    return state / REPORTS


@dataclass(frozen=True)
class AwxJob:
    """This run as AWX/AAP launched it (None outside AWX)."""

    job_id: str
    host: str  # AWX_HOST, the controller's URL
    workflow_job_id: str = ""  # the sliced (or workflow) job this job is a node of

    @property
    def run_key(self) -> str:
        """What the jobs of one run share: the workflow job of a sliced job, else the job."""
        return f"awx-workflow-{self.workflow_job_id}" if self.workflow_job_id else f"awx-job-{self.job_id}"

    def describe(self) -> str:
        return f"{self.job_id}" + (f" (workflow job {self.workflow_job_id})" if self.workflow_job_id else "")

    def relaunch_hint(self, not_failed: list[str]) -> str:
        """How to run again for the hosts that need it, the AWX way (AWX turns retry files off)."""
        url = f"{self.host.rstrip('/')}/api/v2/jobs/{self.job_id}/relaunch/" if self.host else ""
        text = (
            f"relaunch AWX job {self.job_id} on its failed hosts: Relaunch > Failed hosts in the job's page"
            + (f', or POST {url} with {{"hosts": "failed"}}' if url else "")
        )
        if self.workflow_job_id:
            text += f" (each failed slice of workflow job {self.workflow_job_id} on its own)"
        if not_failed:
            text += (
                f"; {len(not_failed)} host(s) stopped or not run are not failed hosts to AWX: launch the "
                f"template with Limit: {','.join(not_failed)}"
            )
        return text


def awx_job(
    variables: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> AwxJob | None:
    """The AWX job this run is, from AWX's environment (JOB_ID, AWX_HOST) and extra variables."""
    env = os.environ if environ is None else environ
    variables = variables or {}
    job = str(env.get("JOB_ID") or variables.get("awx_job_id") or variables.get("tower_job_id") or "")
    if not job or not (env.get("AWX_HOST") or "awx_job_id" in variables or "tower_job_id" in variables):
        return None
    workflow = variables.get("awx_workflow_job_id") or variables.get("tower_workflow_job_id") or ""
    return AwxJob(job_id=job, host=str(env.get("AWX_HOST") or ""), workflow_job_id=str(workflow))


# ansible-core 2.19 keeps a host's facts as <folder>/s1_<host> holding {"__payload__": "<json>"}, while AWX's
# fact storage writes and reads <folder>/<host> as plain JSON (awx/main/tasks/facts.py start_fact_cache,
# finish_fact_cache): neither sees the other's files (ansible/ansible#85874, ansible-runner#1441).
AWX_FACT_STORAGE = (
    "this AWX job template has Enable Fact Storage on, so AWX points the fact cache at the job's own "
    "artifacts folder ({cache}) and forgets it after the job; AWX writes the facts it stored as <host> "
    "files, ansible-core 2.19 reads and writes s1_<host> files (ansible/ansible#85874, "
    "ansible-runner#1441), so the fleet's observations never reach AWX's fact storage and "
    "playbooks/plan.yml cannot plan from it. Fix: turn Enable Fact Storage off on the fleet's job "
    "templates and set fleet_state_dir (an extra variable) or ARCGIS_FLEET_STATE_DIR to a persistent "
    "folder: the fleet keeps its observations there ({state})"
)


def fact_cache_problem(
    plugin: str, connection: str | None, state: Path, from_cli: Path, awx: AwxJob | None
) -> tuple[str, str]:
    """(error, warning) about where this run's fact cache is against the state folder.

    ``plugin``/``connection`` are the configured cache plugin and folder, ``state`` the state folder the
    play's variables give, ``from_cli`` the one the fact cache follows (-e or the environment)."""
    ours = plugin.rsplit(".", 1)[-1] == "fleet_facts"
    if ours and not connection and state != from_cli:
        return (
            f"fleet_state_dir is {state} for this play but the fact cache follows {from_cli}: the cache is "
            "set up before Ansible reads the inventory, so a fleet_state_dir set there cannot move it. "
            f"Fix: pass it with -e fleet_state_dir={state} (in AWX, the job template's extra variables) or "
            f"set {ENV}={state} in the environment",
            "",
        )
    if awx is not None and connection and plugin.rsplit(".", 1)[-1] == "jsonfile":
        cache = Path(connection)
        if state not in cache.parents and cache != facts_dir(state):
            return "", AWX_FACT_STORAGE.format(cache=cache, state=facts_dir(state))
    return "", ""
