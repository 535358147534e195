"""A quiet console: one line per workstation per phase of the fleet flow; at -v, Ansible's own output."""

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_console
type: stdout
version_added: 1.0.0
author: arcgis-conda fleet team (!UNKNOWN)
short_description: One line per workstation per phase (observe, plan, apply, verify); full detail at -v
description:
  - At the default verbosity, prints for each phase of the fleet flow (the fleet role's C(observe.yml),
    C(plan.yml) and C(verify.yml), and everything the roles apply) one line per workstation - its outcome, the
    ArcGIS it found, the changes planned or made - then each failure reason and each message of the plan
    once, with the workstations it concerns.
  - Task banners, C(ok)/C(skipped) lines and include lines are not printed then; failures outside the flow
    (a playbook's own tasks), C(debug) messages outside the flow, C(--diff) output, the banner of a C(pause)
    (a question), warnings and the recap are printed as by C(ansible.builtin.default).
  - With C(-v) or more, the output is C(ansible.builtin.default)'s, except that a task Ansible announces once
    per host (C(meta) with a condition) gets one banner.
  - A C(debug) task of the flow whose task variable C(__fleet_console) is C(detail) (the planned changes) is
    counted per role on the workstation's line instead of printed; C(summary) puts its message on that line.
extends_documentation_fragment:
  - ansible.builtin.default_callback
  - ansible.builtin.result_format_callback
requirements:
  - set as the stdout callback in ansible.cfg (C(stdout_callback = arcgis_conda.fleet.fleet_console))
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ansible.plugins.callback.default import CallbackModule as DefaultCallback
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_plan import grouped

# The fleet role's task files that are phases of their own; any other task file of a role applies changes.
PHASE_FILES = {"observe.yml": "observe", "plan.yml": "plan", "verify.yml": "verify"}
_ROLE_FILE = re.compile(r"[\\/]roles[\\/](?P<role>[^\\/]+)[\\/](?:tasks|meta)[\\/](?P<file>[^\\/:]+)")
# Controller-side tasks whose success says nothing about the workstation (a phase is entered by real steps).
BOOKKEEPING = frozenset(
    {"include_tasks", "include_role", "import_tasks", "import_role", "validate_argument_spec", "meta"}
)
_CHANGE = re.compile(r"^(?P<role>[a-z_]+): ")


def phase_of(path: str) -> str | None:
    """The phase of a task, from its file (``.../roles/fleet/tasks/plan.yml:12``); None outside roles."""
    found = _ROLE_FILE.search(path or "")
    if not found:
        return None
    return PHASE_FILES.get(found["file"], "apply") if found["role"] == "fleet" else "apply"


def reason_of(result: dict[str, Any]) -> str:
    """Why a task failed: its message, or the failed loop item's, or stderr."""
    msg = result.get("msg") or result.get("stderr") or result.get("reason") or "failed"
    items = [i for i in result.get("results") or [] if isinstance(i, dict)]
    broken = [i for i in items if i.get("failed") or i.get("unreachable")]
    if broken and msg in ("All items completed", "One or more items failed"):
        first = broken[0]
        msg = first.get("msg") or first.get("stderr") or msg
        if first.get("rc") not in (None, 0) and first.get("stderr") and first.get("stderr") not in str(msg):
            msg = f"{msg} (rc {first['rc']}): {str(first['stderr']).strip()[-600:]}"
    return str(msg).strip()


@dataclass
class HostPhase:
    """One workstation's results in one phase."""

    ok: int = 0
    changed: int = 0
    failed: str = ""  # the task that failed (or found the host unreachable)
    unreachable: bool = False
    arcgis: list[str] | None = None
    planned: Counter = field(default_factory=Counter)
    planned_seen: bool = False
    summary: str = ""


class CallbackModule(DefaultCallback):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "arcgis_conda.fleet.fleet_console"

    def __init__(self) -> None:
        super().__init__()
        self._phase: str | None = None
        self._hosts: dict[str, HostPhase] = {}
        self._messages: list[dict[str, Any]] = []  # {"host": h, "text": t} rows for grouped()
        self._check = False

    # -- which output ------------------------------------------------------------------------------------
    def _quiet(self) -> bool:
        return self._display.verbosity < 1

    def _task_phase(self, task: Any) -> str | None:
        return phase_of(task.get_path() or "")

    # -- one line per host per phase -----------------------------------------------------------------------
    def _enter(self, phase: str) -> None:
        if phase != self._phase:
            self._flush()
            self._phase = phase

    def _host(self, result: Any) -> HostPhase:
        return self._hosts.setdefault(result.host.get_name(), HostPhase())

    def _flush(self) -> None:
        phase, hosts, messages = self._phase, self._hosts, self._messages
        self._phase, self._hosts, self._messages = None, {}, []
        if phase is None or not hosts:
            return
        width = max(len(h) for h in hosts)
        for name in sorted(hosts):
            self._display.display(f"{phase:<7} {name:<{width}}  {self._line(phase, hosts[name])}")
        for line in grouped(messages, lambda row: [row["text"]]):
            self._display.display(f"        {line}")

    def _line(self, phase: str, state: HostPhase) -> str:
        if state.unreachable:
            return f"UNREACHABLE at '{state.failed}' (reason below)"
        if state.failed:
            return f"FAILED at '{state.failed}' (reason below)"
        done = "would change" if self._check and (state.changed or state.planned) else None
        done = done or ("changed" if state.changed else "ok")
        parts = [done]
        if state.arcgis is not None:
            parts.append(f"ArcGIS {', '.join(state.arcgis)}" if state.arcgis else "no ArcGIS")
        if state.planned_seen:
            total = sum(state.planned.values())
            by_role = ", ".join(f"{role} {n}" for role, n in state.planned.items())
            parts.append(f"{total} change(s) planned ({by_role})" if total else "nothing to change")
        elif phase == "apply" and state.changed:
            parts.append(f"{state.changed} step(s) {'would change' if self._check else 'changed'}")
        if state.summary:
            parts.append(state.summary)
        return ", ".join(parts)

    def _record(self, result: Any, status: str) -> bool:
        """Record a result of the flow; False when the task is outside the flow (default output)."""
        phase = self._task_phase(result.task)
        if phase is None:
            return False
        self._handle_warnings_and_exception(result)  # warnings are never quiet
        if status == "skipped" or (status == "ok" and result.task.action.rsplit(".", 1)[-1] in BOOKKEEPING):
            return True  # a skipped step, an include or a validation: the host did nothing in this phase
        self._enter(phase)
        state = self._host(result)
        data = result.result
        host = result.host.get_name()
        if status in ("failed", "unreachable"):
            state.unreachable = status == "unreachable"
            state.failed = result.task.get_name().split(" : ", 1)[-1]  # without the role's prefix
            self._messages.append({"host": host, "text": reason_of(data)})
            return True
        state.ok += 1
        state.changed += int(bool(data.get("changed")))
        facts = data.get("ansible_facts") or {}
        if isinstance(facts.get("arcgis"), list):
            state.arcgis = [str(i.get("id")) for i in facts["arcgis"] if isinstance(i, dict)]
        if result.task.action.rsplit(".", 1)[-1] == "debug" and "msg" in data:
            self._debug(state, host, result.task, data["msg"])
        return True

    def _debug(self, state: HostPhase, host: str, task: Any, msg: Any) -> None:
        kind = (getattr(task, "vars", None) or {}).get("__fleet_console")
        lines = [str(m) for m in msg] if isinstance(msg, list) else [str(msg)]
        if kind == "detail":
            state.planned_seen = True
            for line in lines:
                role = _CHANGE.match(line)
                if role:
                    state.planned[role["role"]] += 1
        elif kind == "summary":
            state.summary = "; ".join(lines)
        else:
            self._messages += [{"host": host, "text": line} for line in lines]

    # -- Ansible events ------------------------------------------------------------------------------------
    def v2_playbook_on_play_start(self, play: Any) -> None:
        self._flush()
        self._check = bool(play.check_mode)
        super().v2_playbook_on_play_start(play)

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        if self._quiet():
            self._task_start(task, prefix="TASK")  # lazily: printed only before what is shown
            if task.action.rsplit(".", 1)[-1] == "pause":
                self._print_task_banner(task)  # a question: say which task asks it
            return
        # Ansible announces a conditional meta task once per host (meta: end_host): one banner is enough.
        if task._uuid == self._last_task_banner:
            return
        super().v2_playbook_on_task_start(task, is_conditional)

    def _task_start(self, task: Any, prefix: str | None = None) -> None:
        if not self._quiet():
            super()._task_start(task, prefix)
            return
        if prefix is not None:
            self._task_type_cache[task._uuid] = prefix
        self._last_task_name = task.get_name().strip()

    def v2_runner_on_ok(self, result: Any) -> None:
        if not self._quiet():
            super().v2_runner_on_ok(result)
        elif self._record(result, "ok"):
            return
        elif result.task.action.rsplit(".", 1)[-1] == "debug":
            super().v2_runner_on_ok(result)  # a playbook's own message (plan.yml's summary)
        else:
            self._handle_warnings_and_exception(result)

    def v2_runner_on_skipped(self, result: Any) -> None:
        if not self._quiet():
            super().v2_runner_on_skipped(result)
        elif not self._record(result, "skipped"):
            self._handle_warnings_and_exception(result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        if not self._quiet():
            super().v2_runner_on_failed(result, ignore_errors)
        elif ignore_errors:
            self._record(result, "ok")
        elif not self._record(result, "failed"):
            super().v2_runner_on_failed(result, ignore_errors)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        if not self._quiet() or not self._record(result, "unreachable"):
            super().v2_runner_on_unreachable(result)

    def v2_runner_item_on_ok(self, result: Any) -> None:
        if not self._quiet():
            super().v2_runner_item_on_ok(result)
        else:
            self._handle_warnings_and_exception(result)

    def v2_runner_item_on_skipped(self, result: Any) -> None:
        if not self._quiet():
            super().v2_runner_item_on_skipped(result)
        else:
            self._handle_warnings_and_exception(result)

    def v2_runner_item_on_failed(self, result: Any) -> None:
        if not self._quiet() or self._task_phase(result.task) is None:
            super().v2_runner_item_on_failed(result)

    def v2_playbook_on_include(self, included_file: Any) -> None:
        if not self._quiet():
            super().v2_playbook_on_include(included_file)

    def v2_playbook_on_no_hosts_remaining(self) -> None:
        self._flush()
        super().v2_playbook_on_no_hosts_remaining()

    def v2_playbook_on_stats(self, stats: Any) -> None:
        self._flush()
        super().v2_playbook_on_stats(stats)
