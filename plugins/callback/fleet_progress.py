"""Progress per lab, WinRM round trips per host, and the after-run fleet report."""

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_progress
type: aggregate
version_added: 1.0.0
author: arcgis-conda fleet team (!UNKNOWN)
short_description: One progress line per lab, module calls per host, and a per-lab report after the run
description:
  - Prints one line per lab (C(lab_*) group) when its count of finished hosts changes, without touching the
    normal task output.
  - Counts module calls per host, each a WinRM/PSRP round trip (about a second or more). A task that runs on
    the host counts once per loop item; tasks that only run on the controller (set_fact, debug, assert,
    include/import, meta, our controller-side planners, ...) and tasks delegated to localhost count zero;
    an action plugin that calls several host modules reports its own count in C(module_calls)
    (C(arcgis_conda.fleet.arcgis_facts) reports 2, or 1 on a host without ArcGIS).
  - At the end writes a report per lab (HTML, CSV, JSON) with each host's status, first error, module calls
    (this run and the previous run) and whatever the play published with C(ansible.builtin.set_stats)
    (key C(fleet_report), per host or, as the playbooks do so that AWX keeps it among the job's artifacts,
    one run-wide C(fleet_report) keyed by host), and a C(failed_hosts.txt) for C(--limit @file), in a folder
    of its own per run under C(<state>/reports) - the fleet's state folder, C(fleet_state_dir), else
    C($ARCGIS_FLEET_STATE_DIR), else the project folder. C(<state>/reports/index.html) shows the last runs
    per lab; the oldest runs beyond C(fleet_report_keep) (default 20) are removed; a C(--limit) run completes
    its labs with the hosts of the previous run of the same playbook.
  - In an AWX/AAP job (C(JOB_ID) and C(AWX_HOST) in the environment), the slices of one sliced job
    (the same C(awx_workflow_job_id)) write one run folder together, each adding its hosts, and the retry
    line says how to relaunch the job on its failed hosts instead of an C(ansible-playbook) command.
  - Every host the play targets gets a row, also those Ansible stopped without a result - C(stopped)
    (its batch went over C(max_fail_percentage) before it finished) and C(not run) (the play ended before
    its batch) - and those are in C(failed_hosts.txt) with the failed and unreachable ones.
  - While a task waits on hosts for longer than O(wait_interval) seconds, says which, every interval (a
    firewalled host otherwise waits out its WinRM timeouts in silence).
options:
  wait_interval:
    description: Seconds a task may wait on hosts before a "still waiting" line; 0 turns it off.
    default: 30
    env:
      - name: ARCGIS_FLEET_WAIT_INTERVAL
    ini:
      - section: arcgis_fleet
        key: wait_interval
    type: float
  fleet_group:
    description: Only hosts in this group are tracked (controller-only plays such as plan.yml are not).
    default: windows_workstations
    env:
      - name: ARCGIS_FLEET_GROUP
    ini:
      - section: arcgis_fleet
        key: fleet_group
    type: str
requirements:
  - enabled in ansible.cfg (C(callbacks_enabled = arcgis_conda.fleet.fleet_progress))
"""

import json
import os
import threading
from pathlib import Path
from typing import Any

from ansible import constants as C
from ansible.plugins.callback import CallbackBase
from ansible_collections.arcgis_conda.fleet.plugins.cache.fleet_facts import extra_state_dir
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_dashboard as dash
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_lock as fl
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_report as fr
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_state as fs
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_report import (
    Column,
    lab_of,
    write_lab_reports,
    write_retry_file,
)

# Run folders kept under report_dir when the inventory or play sets no fleet_report_keep.
DEFAULT_KEEP = 20
# Runs per lab on report_dir/index.html.
HISTORY_RUNS = 10

# Actions that run on the controller only: no round trip to the host.
CONTROLLER_ONLY = frozenset(
    {
        "add_host",
        "arcgis_env_lock",
        "assert",
        "debug",
        "doi_cert_bundle",
        "fail",
        "fleet_plan",
        "fleet_selftest",
        "group_by",
        "include_role",
        "include_tasks",
        "include_vars",
        "import_role",
        "import_tasks",
        "meta",
        "pause",
        "set_fact",
        "set_stats",
        "validate_argument_spec",
    }
)
NOT_RUN = (
    "not run: the play stopped before this host's batch (a batch over max_fail_percentage, "
    "or one whose hosts all failed or were unreachable): run again for it (the retry command)"
)
# site.yml's canary wave (roles/fleet/tasks/canary.yml): a failed canary holds back the rest of its lab.
CANARY_GROUP = "fleet_wave_canary"
PASSED_GROUP = "fleet_canary_passed"
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# ansible.windows action plugins that copy from the controller: one query call, plus one when they copy.
TWO_STEP_COPIES = frozenset({"win_copy", "win_template"})
REPORT_COLUMNS = (
    Column("host", "Host"),
    Column("status", "Status"),
    Column("module_calls", "Module calls"),
    Column("module_calls_previous", "Module calls (previous run)"),
    Column("arcgis", "ArcGIS installs"),
    Column("envs", "Conda envs"),
    Column("bridge_verified", "Bridge verified"),
    Column("changes", "Planned changes"),
    Column("sources", "Package sources (Anaconda licence)"),
    Column("notes", "Notes"),
    Column("error", "First error"),
)


def short_action(action: str) -> str:
    """``ansible.builtin.set_fact`` → ``set_fact``."""
    return action.rsplit(".", 1)[-1]


def calls_in(action: str, delegated_to: str | None, result: dict[str, Any], check_mode: bool = False) -> int:
    """How many host round trips one task result stands for."""
    if short_action(action) in CONTROLLER_ONLY or (delegated_to or "") in LOCAL_NAMES:
        return 0
    if result.get("skipped"):
        return 0
    if isinstance(result.get("module_calls"), int):
        return result["module_calls"]
    items = result.get("results")
    if isinstance(items, list):
        return sum(calls_in(action, delegated_to, i, check_mode) for i in items if isinstance(i, dict))
    if short_action(action) in TWO_STEP_COPIES and not (result.get("invocation") or {}).get(
        "module_args", {}
    ).get("remote_src"):
        # The action asks the host first (_copy_mode=query), then copies only what differs (a second call).
        # In check mode the action predicts the copy without the second call.
        return 2 if result.get("changed") and not check_mode else 1
    return 1


# What an unreachable host's connection error most likely means, and what to do (pywinrm/pypsrp/urllib3
# texts); the raw text follows the hint.
UNREACHABLE_HINTS = (
    (
        ("name or service not known", "getaddrinfo", "nodename nor servname", "no address associated"),
        "DNS: the name does not resolve. Fix: check ansible_host / the inventory name and the lab's DNS.",
    ),
    (
        ("connection refused",),
        "nothing listens on the WinRM port (5986 for HTTPS). Fix: enable the HTTPS listener "
        "(winrm quickconfig -transport:https) and open the firewall for it.",
    ),
    (
        ("certificate verify failed", "certificate_verify_failed", "sslerror", "ssl:"),
        "TLS: the host's WinRM certificate is not trusted or does not match its name. Fix: set "
        "ansible_winrm_ca_trust_path to your lab CA; never turn validation off.",
    ),
    (
        ("401", "unauthorized", "credentials were rejected", "logon failure", "authentication"),
        "authentication: the account or password was refused. Fix: check ansible_user, the vault password "
        "and that the account is a local administrator.",
    ),
    (
        ("timed out", "timeout", "max retries exceeded", "no route to host", "network is unreachable"),
        "no answer: the host is off, asleep or firewalled. Fix: wake it or check the network path; the "
        "inventory's ansible_winrm_operation_timeout_sec/read_timeout_sec bound the wait.",
    ),
)


def unreachable_hint(text: str) -> str:
    lower = text.lower()
    for needles, hint in UNREACHABLE_HINTS:
        if any(n in lower for n in needles):
            return f"unreachable, {hint} ({text.strip()[:300]})"
    return f"unreachable: {text.strip()[:300]}"


def timeout_hint(host: str, period: Any) -> str:
    """A host call Ansible ended at the task timeout (the ``timeout`` keyword: fleet_task_timeout)."""
    return (
        f"timed out: {host} did not finish this step within {period} s (fleet_task_timeout). Fix: look "
        "at the host (a hung installer or conda, a prompt, a full disk; Windows may still run the program); "
        "if it was only slow, raise it (-e fleet_task_timeout=7200); then run again for it (the retry "
        "command below)"
    )


def retry_command(playbook: str | None, args: Any, retry: Path) -> str:
    """The same playbook, inventory and options, limited to the failed hosts."""
    import os
    import shlex

    if playbook and os.path.isabs(playbook) and playbook.startswith(os.getcwd() + os.sep):
        playbook = os.path.relpath(playbook)
    words = ["ansible-playbook", playbook or "site.yml"]
    for inventory in (args or {}).get("inventory") or ():
        if inventory:
            words += ["-i", inventory]
    for extra in (args or {}).get("extra_vars") or ():
        words += ["-e", extra]
    tags = [t for t in (args or {}).get("tags") or () if t != "all"]
    if tags:
        words += ["--tags", ",".join(tags)]
    if (args or {}).get("skip_tags"):
        words += ["--skip-tags", ",".join(args["skip_tags"])]
    if (args or {}).get("check"):
        words.append("--check")
    if (args or {}).get("diff"):
        words.append("--diff")
    if (args or {}).get("ask_vault_pass"):
        words.append("--ask-vault-password")
    for vault_id in (args or {}).get("vault_ids") or ():
        words += ["--vault-id", vault_id]
    for password_file in (args or {}).get("vault_password_files") or ():
        words += ["--vault-password-file", password_file]  # the retry must open the same vault
    if (args or {}).get("remote_user"):
        words += ["--user", args["remote_user"]]
    return " ".join(shlex.quote(w) for w in [*words, "--limit", f"@{retry}"])


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "arcgis_conda.fleet.fleet_progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, int] = {}
        self.lab: dict[str, str] = {}
        self.lab_total: dict[str, int] = {}
        self.status: dict[str, str] = {}
        self.error: dict[str, str] = {}
        self.batch: set[str] = set()
        self.done: set[str] = set()
        self.shown: dict[str, tuple[int, int]] = {}
        self.unmanaged: set[str] = set()  # observed with no ArcGIS for the roles: "nothing managed"
        self.keep = DEFAULT_KEEP
        self._playbook: str | None = None
        self._timer: threading.Timer | None = None
        self._pending: set[str] = set()
        self._task_name = ""
        # Every host the play targets (--limit applied), and those that published their report row.
        self.targets: dict[str, Any] = {}
        self.finished: set[str] = set()
        self.waiting: set[str] = set()  # seen in an earlier play, to go on in a later one
        # This run's report folder, made (marked in progress) when the first play with fleet hosts starts.
        self.run_dir: Path | None = None
        self.interrupted: list[str] = []
        # The state folder as the fact cache follows it (-e fleet_state_dir, else the environment, else the
        # project: one set only in the inventory is refused by the run lock), and AWX's job variables.
        self.state_value: Any = extra_state_dir()
        self.awx_vars: dict[str, Any] = {}

    # -- bookkeeping -------------------------------------------------------------------------------
    def _see_host(self, host: Any) -> str | None:
        name = self._register(host)
        if name is not None:
            self.batch.add(name)
            self.waiting.discard(name)
        return name

    def _register(self, host: Any) -> str | None:
        name = host.get_name()
        if name not in self.lab:
            groups = {g.get_name(): g for g in host.get_groups()}
            if self.get_option("fleet_group") not in groups:
                return None
            lab = lab_of(groups)
            self.lab[name] = lab
            if lab in groups and lab not in self.lab_total:
                self.lab_total[lab] = len(groups[lab].get_hosts())
            self.calls.setdefault(name, 0)
        return name

    def _count(self, result: Any) -> str | None:
        name = self._see_host(result._host)
        if name is None:
            return None
        delegated = (result._result.get("_ansible_delegated_vars") or {}).get("ansible_host")
        check_mode = bool(getattr(result._task, "check_mode", False))
        self.calls[name] += calls_in(result._task.action, delegated, result._result, check_mode)
        return name

    def _finish(self, names: set[str]) -> None:
        self.done |= names
        self._progress()

    def _progress(self) -> None:
        for lab in sorted({self.lab[h] for h in self.done}):
            members = [h for h in self.done if self.lab[h] == lab]
            failed = sum(1 for h in members if self.status.get(h) == "failed")
            unreachable = sum(1 for h in members if self.status.get(h) == "unreachable")
            state = (len(members), failed + unreachable)
            if self.shown.get(lab) == state:
                continue
            self.shown[lab] = state
            total = self.lab_total.get(lab, len([h for h in self.lab if self.lab[h] == lab]))
            self._display.display(
                f"[fleet] {lab}: {len(members)}/{total} hosts done, {failed} failed"
                + (f", {unreachable} unreachable" if unreachable else "")
            )

    def _fail(self, result: Any, status: str) -> None:
        name = self._count(result) if status != "unreachable" else self._see_host(result._host)
        if name is None:
            return
        self.status[name] = status
        if name not in self.error:
            msg = result._result.get("msg") or result._result.get("stderr") or "failed"
            items = [i for i in result._result.get("results") or [] if isinstance(i, dict)]
            broken = [i for i in items if i.get("failed") or i.get("unreachable")] or items[-1:]
            if broken and msg in ("All items completed", "One or more items failed"):
                # The loop item that failed says why.
                msg = broken[0].get("msg") or broken[0].get("stderr") or msg
            if status == "unreachable":
                msg = unreachable_hint(str(msg))
            timedout = result._result.get("timedout") or next((i.get("timedout") for i in broken if i), None)
            if timedout:
                msg = timeout_hint(name, (timedout or {}).get("period"))
            self.error[name] = f"{result._task.get_name()}: {msg}"
        self._finish({name})

    # -- Ansible events ----------------------------------------------------------------------------
    def v2_playbook_on_play_start(self, play: Any) -> None:
        # With `serial`, each batch starts the play again: the previous batch's hosts are done. A host that
        # neither finished nor failed goes on in a later play (site.yml's canary step, then its wave).
        later = {h for h in self.batch if h not in self.finished and not self.status.get(h)}
        self._finish(set(self.batch) - later)
        self.waiting |= later
        self.batch = set()
        found = self._play_variables(play, ("awx_job_id", "awx_workflow_job_id", "tower_job_id"))
        self.awx_vars.update({k: v for k, v in found.items() if v not in (None, "")})
        keep = self._play_variable(play, "fleet_report_keep")
        if keep is not None:
            try:
                self.keep = max(1, int(keep))
            except (TypeError, ValueError):
                self._display.warning(
                    f"fleet_report_keep = {keep!r} is not a number; keeping {self.keep} runs"
                )
        # The play's hosts beyond this batch (serial): the inventory is restricted to the batch meanwhile.
        inventory = getattr(getattr(play, "_variable_manager", None), "_inventory", None)
        if inventory is not None:
            for host in inventory.get_hosts(play.hosts, ignore_restrictions=True):
                self.targets.setdefault(host.get_name(), host)
        group = self.get_option("fleet_group")
        if self.run_dir is None and any(
            group in {g.get_name() for g in h.get_groups()} for h in self.targets.values()
        ):
            self._start_run()

    def _start_run(self) -> None:
        """The run's report folder, marked in progress and pointed at by ``latest`` until the report is
        written; an earlier run still marked in progress whose controller is gone is said to be
        interrupted (its report never came)."""
        import socket
        import sys
        from dataclasses import asdict

        awx = fs.awx_job(self.awx_vars)
        if awx is not None and awx.workflow_job_id:
            return  # the slices of one AWX job share one folder, written when each slice ends (_write_run)
        root = fs.reports_dir(fs.state_dir(self.state_value, C.CONFIG_FILE))
        playbook = os.path.basename(self._playbook or "run")
        who = asdict(fl.me(os.getpid(), " ".join(["ansible-playbook", *sys.argv[1:]])))
        try:
            self.run_dir = fr.start_run(root, playbook, who)
        except OSError as exc:
            self._display.warning(f"[fleet] cannot start this run's report in {root}: {exc}")
            return
        here = socket.gethostname()

        def running(run: dict[str, Any]) -> bool:
            try:
                holder = fl.Holder(
                    **{k: run[k] for k in ("pid", "host", "started", "since", "playbook", "user")}
                )
            except (KeyError, TypeError):
                return False
            return fl.alive(holder, here) is not False  # another controller's run: cannot tell, left as is

        for folder, state in fr.interrupted_runs(root, self.run_dir, running):
            run = state.get("run") or {}
            self.interrupted.append(folder.name)
            self._display.warning(
                f"[fleet] the run {folder.name} ({run.get('playbook') or '?'}, started {run.get('since')}, "
                f"pid {run.get('pid')}) did not finish: the controller stopped before its report, so that "
                "report is incomplete and marked interrupted. This run observes every host again and "
                "reports each one."
            )

    def _play_variable(self, play: Any, name: str) -> Any:
        """A variable as the play's first fleet host sees it (inventory, play vars, -e), untemplated."""
        return self._play_variables(play, (name,)).get(name)

    def _play_variables(self, play: Any, names: tuple[str, ...]) -> dict[str, Any]:
        try:
            manager = play.get_variable_manager()
            hosts = list(manager._inventory.get_hosts(self.get_option("fleet_group")))
            found = manager.get_vars(play=play, host=hosts[0] if hosts else None, include_hostvars=False)
        except Exception:
            return {}
        return {name: found.get(name) for name in names}

    def v2_playbook_on_no_hosts_remaining(self) -> None:
        # Sent when the batch went over max_fail_percentage (ansible-core plugins/strategy/linear.py): Ansible
        # marks the batch's other hosts failed without a result for them. A host that had not published its
        # report row was stopped mid-way.
        for name in self.batch:
            if not self.status.get(name) and name not in self.finished:
                self.status[name] = "stopped"
                self.error[name] = (
                    "stopped mid-run: too many hosts of its batch failed (max_fail_percentage); "
                    "it may be half-configured: run again for it (the retry command below)"
                )

    # -- waiting on hosts ----------------------------------------------------------------------------
    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._stop_waiting()
        self._task_name = task.get_name()
        self._pending = set()
        interval = float(self.get_option("wait_interval") or 0)
        if interval > 0:
            self._timer = threading.Timer(interval, self._still_waiting, args=(interval,))
            self._timer.daemon = True
            self._timer.start()

    def v2_runner_on_start(self, host: Any, task: Any) -> None:
        self._pending.add(host.get_name())

    def _answered(self, result: Any) -> None:
        self._pending.discard(result._host.get_name())

    def _still_waiting(self, interval: float) -> None:
        waiting = sorted(self._pending)
        if waiting:
            shown = ", ".join(waiting[:5]) + (f" and {len(waiting) - 5} more" if len(waiting) > 5 else "")
            self._display.display(
                f"[fleet] still waiting on {len(waiting)} host(s) for '{self._task_name}': {shown}"
            )
            self._timer = threading.Timer(interval, self._still_waiting, args=(interval,))
            self._timer.daemon = True
            self._timer.start()

    def _stop_waiting(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def v2_playbook_on_start(self, playbook: Any) -> None:
        self._playbook = getattr(playbook, "_file_name", None)

    def v2_runner_on_ok(self, result: Any) -> None:
        self._answered(result)
        name = self._count(result)
        facts = result._result.get("ansible_facts") or {}
        if name and str(result._task.action).endswith("fleet_observe") and facts.get("arcgis") == []:
            self.unmanaged.add(name)
        if name and short_action(result._task.action) == "set_stats":
            self.finished.add(name)

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._answered(result)
        self._see_host(result._host)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._answered(result)
        if ignore_errors:
            self._count(result)
        else:
            self._fail(result, "failed")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._answered(result)
        self._fail(result, "unreachable")

    def _held_by_canary(self) -> dict[str, str]:
        """Lab -> its canary (site.yml, fleet_canary) when that canary did not pass: the lab's other
        workstations never ran. Every host seen in an earlier play (site.yml's canary step) and never again,
        unfinished, is ``not run``: held back by its canary, or its batch never started."""
        held = {}
        for name, host in self.targets.items():
            groups = {g.get_name() for g in host.get_groups()}
            if CANARY_GROUP in groups and PASSED_GROUP not in groups:
                held[self.lab.get(name) or lab_of(groups)] = name
        for name in sorted(self.waiting):
            if self.status.get(name) or name in self.finished:
                continue
            canary = held.get(self.lab.get(name, ""))
            self.status[name] = "not run"
            self.error[name] = (
                f"held back: {canary}, the canary of {self.lab[name]}, failed "
                f"({self.error.get(canary) or 'it did not finish'}). "
                f"Fix it, then run site.yml again for the lab (the retry command)"
                if canary and canary != name
                else NOT_RUN
            )
        return held

    def v2_playbook_on_stats(self, stats: Any) -> None:
        self._stop_waiting()
        held = self._held_by_canary()
        # A play that max_fail_percentage ended never reaches its release task: the run lock is released here,
        # by the ansible-playbook process holding it. From AWX, whose every job runs in a new container, a
        # lock left behind could not be told stale and would stop every later job.
        fl.release(fs.run_lock(fs.state_dir(self.state_value, C.CONFIG_FILE)), os.getpid())
        self._finish(set(self.batch) | self.waiting)
        for name, host in self.targets.items():
            if name not in self.lab and self._register(host) is not None:
                self.status[name] = "not run"
                self.error[name] = NOT_RUN
        if not self.lab:
            if self.run_dir is not None:
                fr.finish_run(self.run_dir, hosts=0)
            return
        root = fs.reports_dir(fs.state_dir(self.state_value, C.CONFIG_FILE))
        awx = fs.awx_job(self.awx_vars)
        playbook = os.path.basename(self._playbook or "run")
        last = fr.previous_run(root, playbook, before=self.run_dir)
        if last and awx is not None and fr.run_key_of(last) == awx.run_key:
            last = fr.previous_run(root, playbook, before=last)  # another slice's part of this very run
        previous = self._previous_calls(last) if last else {}
        custom = getattr(stats, "custom", {}) or {}
        # Run-wide set_stats (per_host: false) is what AWX keeps as the job's artifacts: the playbooks publish
        # {fleet_report: {host: row}} that way; a per-host fleet_report (a play of one's own) still counts.
        run_wide = (custom.get("_run") or {}).get("fleet_report") or {}
        rows = []
        for host in sorted(self.lab):
            published = (custom.get(host) or {}).get("fleet_report") or run_wide.get(host) or {}
            planned = published.get("planned") or []
            rows.append(
                {
                    **published,
                    "changes": [
                        f"{c['role']}: {c['action']} {c['target']}" for c in planned if isinstance(c, dict)
                    ],
                    "host": host,
                    "lab": self.lab[host],
                    "status": self.status.get(host) or (dash.UNMANAGED if host in self.unmanaged else "ok"),
                    "error": self.error.get(host, ""),
                    "module_calls": self.calls.get(host, 0),
                    "module_calls_previous": previous.get(host),
                }
            )
        from ansible import context

        args = context.CLIARGS or {}
        kind = dash.PLAN if args.get("check") else dash.RUN  # check mode: "would change", as a plan
        with fr.reports_lock(root):
            out_dir, rows, calls = self._write_run(root, playbook, rows, last, awx, args, kind)
            # This run's failed, unreachable, stopped and not-run hosts (with the other slices', for a shared
            # folder), not those a --limit run took from the previous run (reported_in).
            done = ("ok", dash.UNMANAGED)
            failing = [r for r in rows if r["status"] not in done and not r.get("reported_in")]
            retry = write_retry_file(out_dir, [str(r["host"]) for r in failing])
            fr.finish_run(out_dir, hosts=len(rows))
            fr.point_latest(root, out_dir)
            fr.prune_runs(root, self.keep)
            history = fr.write_history(root, HISTORY_RUNS)
        counts = sorted(calls.values())
        self._display.display(
            f"[fleet] module calls per host: min {counts[0]}, median {counts[len(counts) // 2]}, "
            f"max {counts[-1]}; reports: {out_dir / 'index.html'} (runs per lab: {history})"
        )
        for lab in sorted({str(r["lab"]) for r in rows}):  # the counts the pages show (one source of truth)
            members = [r for r in rows if r["lab"] == lab]
            earlier = len([r for r in members if r.get("reported_in")])
            self._display.display(
                f"[fleet] {lab}: {dash.count_line(dash.count_outcomes(members, kind))}"
                + (
                    f" ({earlier} host(s) as of {last.name if last else '?'}: not in this --limit)"
                    if earlier
                    else ""
                )
            )
        for lab, canary in sorted(held.items()):
            members = [h for h in self.lab if self.lab[h] == lab and h != canary]
            self._display.display(
                f"[fleet] {lab}: its canary {canary} failed, so {len(members)} other workstation(s) of the "
                "lab were held back (not run)"
            )
        if retry and awx is not None:
            # AWX turns retry files off (ANSIBLE_RETRY_FILES_ENABLED=False) and throws the job's folder away:
            # the way back is AWX's relaunch on failed hosts (failed or unreachable, not stopped or not run).
            mine = [h for h in self.lab if self.status.get(h)]
            not_failed = sorted(h for h in mine if self.status.get(h) not in ("failed", "unreachable"))
            hint = awx.relaunch_hint(not_failed)
            self._display.display(f"[fleet] run again for the hosts that need it: {hint}")
        elif retry:
            self._display.display(
                "[fleet] retry only the failed hosts: "
                + retry_command(self._playbook, context.CLIARGS, retry)
            )

    def _write_run(
        self,
        root: Path,
        playbook: str,
        rows: list[dict[str, Any]],
        last: Path | None,
        awx: fs.AwxJob | None,
        args: Any,
        kind: str,
    ) -> tuple[Path, list[dict[str, Any]], dict[str, int]]:
        """Write this run's folder: its own, or the one the slices of an AWX sliced job share."""
        calls = dict(self.calls)
        if awx is not None and awx.workflow_job_id:
            out_dir = fr.shared_run_folder(root, playbook, awx.run_key)
            rows = fr.merge_shared(rows, out_dir)
            calls = {**self._previous_calls(out_dir), **calls}
        else:
            # A --limit run (a retry) completes its labs with the playbook's last run: the lab stays whole.
            if args.get("subset"):
                rows = fr.merge_previous(rows, last)
            out_dir = self.run_dir or fr.run_folder(root, playbook)
        write_lab_reports(
            out_dir,
            "arcgis-conda fleet run",
            rows,
            REPORT_COLUMNS,
            kind=kind,
            meta={
                "inventory": ", ".join(args.get("inventory") or ()),
                "playbook": playbook,
                "mode": "check" if args.get("check") else "apply",
                "limit": args.get("subset") or "",
                "awx_job": awx.describe() if awx else "",
                **({"interrupted_before": ", ".join(self.interrupted)} if self.interrupted else {}),
            },
        )
        (out_dir / "module_calls.json").write_text(json.dumps(calls, indent=2, sort_keys=True) + "\n")
        return out_dir, rows, calls

    @staticmethod
    def _previous_calls(out_dir: Path) -> dict[str, int]:
        path = out_dir / "module_calls.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, int)} if isinstance(data, dict) else {}
