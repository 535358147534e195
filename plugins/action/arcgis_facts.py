"""arcgis_facts: find every ArcGIS install on a Windows host and measure its Python, in two module calls.

Both calls are the read-only ``host_read`` script (module_utils/fleet_host.py) through
ansible.windows.win_powershell: call 1 dumps raw registry data, call 2 runs arcgis_probe.py once per
interpreter found. The ``fleet_observe`` action extends both calls with everything the roles read.
Everything else (which installs exist, which python.exe each one runs, cross-checks, drift against the
release table, the facts) is decided here on the controller, by the pure functions in
module_utils/arcgis_discovery.py. The number of module calls per host is 2 whatever the number of
installs or packages (1 when the host has no ArcGIS).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_discovery as discovery
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_probe
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_python_guard as guard
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh

MODULE = "ansible.windows.win_powershell"

ARGUMENT_SPEC: dict[str, Any] = {
    "packages": {"type": "list", "elements": "str", "default": list(arcgis_probe.DEFAULT_PACKAGES)},
    "require_arcgis": {"type": "bool", "default": False},
    "probe_timeout": {"type": "int", "default": 120},
    "secure_pythons": {"type": "bool", "default": False},
}


def probe_source() -> str:
    """The probe script as shipped in module_utils, sent to the host as text."""
    return resources.files(arcgis_probe.__package__).joinpath("arcgis_probe.py").read_text(encoding="utf-8")


class ActionModule(ActionBase):
    """Probe ArcGIS installs and their Pythons; set ansible_facts.arcgis."""

    TRANSFERS_FILES = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        del tmp
        _spec, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = self._task.delegate_to or (task_vars or {}).get("inventory_hostname", "this host")
        try:
            packages = discovery.validate_packages(args["packages"])
        except ValueError as exc:
            raise AnsibleActionFail(f"{host}: arcgis_facts packages: {exc}") from exc
        shell = getattr(self._connection._shell, "SHELL_FAMILY", "")
        if shell != "powershell":
            raise AnsibleActionFail(
                f"{host}: arcgis_facts probes Windows hosts only, and this connection's shell is "
                f"{shell or 'not PowerShell'}; run it against windows_workstations (WinRM or PSRP)"
            )

        first = self._host_read(
            {**self._first_read(task_vars), "python_reads": guard.PYTHON_READS}, task_vars
        )
        if first.get("failed"):
            raise AnsibleActionFail(
                f"{host}: reading the ESRI registry keys failed: {fh.module_error(first)}"
            )
        answer = first.get("result") or {}
        try:
            dump = discovery.parse_registry_dump(answer.get("arcgis"))
        except discovery.DumpError as exc:
            raise AnsibleActionFail(f"{host}: unexpected registry dump: {exc}") from exc
        installs, warnings = discovery.find_installs(dump)
        result.update(changed=False, warnings=warnings, module_calls=1)

        if not installs:
            result["ansible_facts"] = self._facts([], [answer], dump)
            result["msg"] = f"{host}: no ArcGIS Desktop, Background Geoprocessing, Pro or Server found"
            if args["require_arcgis"]:
                result["failed"] = True
                result["msg"] += " and require_arcgis is true: install ArcGIS or leave this host out"
            return result

        targets, not_run = self._guard(
            dump, discovery.probe_targets(installs), args["secure_pythons"], result, task_vars
        )
        probe = probe_source()
        probe_runs = [
            {
                "id": f"probe{index}",
                # -E: PYTHONPATH and friends cannot point the admin's probe at a user's code. The user site
                # stays on: the probe measures it (a user can write only their own, never the admin's).
                # -S: site.py would run .pth/sitecustomize code users can plant in site-packages, as admin.
                "argv": [python, "-E", "-S", "{script}", *packages],
                "script": probe,
                "timeout": args["probe_timeout"],
            }
            for index, python in enumerate(targets)
        ]
        second = self._second_read(task_vars, installs, answer)
        second["runs"] = probe_runs
        answers = [answer]
        runs: dict[str, discovery.ProbeRun] = {}
        if probe_runs or second.get("reads") or second.get("load_hives"):
            run_result = self._host_read(second, task_vars)
            result["module_calls"] += 1
            if run_result.get("failed"):
                raise AnsibleActionFail(
                    f"{host}: running arcgis_probe.py failed: {fh.module_error(run_result)}"
                )
            answers.append(run_result.get("result") or {})
            by_id = {r["id"]: r["argv"][0] for r in probe_runs}
            try:
                runs = discovery.parse_runs(
                    [
                        {**run, "python": by_id.get(str(run.get("id")), "")}
                        for run in answers[-1].get("runs") or []
                        if str(run.get("id")) in by_id
                    ]
                )
            except discovery.DumpError as exc:
                raise AnsibleActionFail(f"{host}: unexpected probe runner result: {exc}") from exc

        facts = discovery.build_facts(installs, runs, packages, not_run)
        broken = [fact["id"] for fact in facts if fact["status"] != "ok"]
        result["ansible_facts"] = self._facts(facts, answers, dump)
        result["msg"] = f"{host}: {len(facts)} ArcGIS Python(s): {', '.join(f['id'] for f in facts)}" + (
            f"; broken: {', '.join(broken)}" if broken else ""
        )
        return result

    def _guard(
        self,
        dump: discovery.RegistryDump,
        targets: list[str],
        secure: bool,
        result: dict[str, Any],
        task_vars: dict[str, Any] | None,
    ) -> tuple[list[str], dict[str, tuple[str, str]]]:
        """The Pythons safe to run now, and why each other one is not run (arcgis_python_guard). With
        ``secure`` (site.yml, uninstall.yml; never in check mode) the folders users could write are secured
        first, in one apply_files call; a Python is run only when that left nothing it loads behind."""
        verdicts = [guard.judge_python(dump, target) for target in targets]
        not_run = {v.python_exe: ("unsafe", v.reason) for v in verdicts if v.action == "refuse"}
        waiting = [v for v in verdicts if v.action == "secure"]
        roots = sorted({v.root for v in waiting}, key=str.lower)
        held = self._hold_changes()
        if roots and (self._task.check_mode or not secure or held):
            why = (
                "this run changes nothing (check mode)"
                if self._task.check_mode
                else held or "this playbook is read-only"
            )
            not_run.update({v.python_exe: ("unsecured", guard.not_run_reason(v, why)) for v in waiting})
        elif roots:
            answer = self._execute_module(
                module_name=MODULE,
                module_args={
                    "script": fh.APPLY_FILES_SCRIPT,
                    "parameters": {"Items": [fh.secure_item(root) for root in roots]},
                    "depth": 4,
                },
                task_vars=task_vars,
            )
            result["module_calls"] += 1
            result["changed"] = bool(answer.get("changed"))
            records = {
                fh.key(str(r.get("path"))): r for r in (answer.get("result") or {}).get("applied") or []
            }
            for verdict in waiting:
                record = records.get(fh.key(verdict.root))
                left = guard.secured_problems(record) if record else []
                if record is None or answer.get("failed") or left:
                    why = fh.module_error(answer) if record is None else "; ".join(left)
                    not_run[verdict.python_exe] = (
                        "unsafe",
                        f"{verdict.python_exe} was not run: securing {verdict.root} failed or left what it "
                        f"loads writable: {why}. Fix that, then run again.",
                    )
            result["secured"] = list(roots)
            result["warnings"] += [
                f"{record.get('path')} secured before its Python's first run: {m.get('path')} was owned by "
                f"{m.get('owner')}, not an administrator, and is moved aside to {m.get('aside')}"
                for record in records.values()
                for m in record.get("moved") or []
            ]
        return [t for t in targets if t not in not_run], not_run

    # Hooks: the probe reads the registry and runs the probe; fleet_observe adds what the roles read.
    def _hold_changes(self) -> str:
        """Why this host must not be changed yet ('' when it may): fleet_observe's bad inputs."""
        return ""

    def _first_read(self, task_vars: dict[str, Any] | None) -> dict[str, Any]:
        return {"arcgis": True}

    def _second_read(
        self, task_vars: dict[str, Any] | None, installs: list[discovery.Install], first: dict[str, Any]
    ) -> dict[str, Any]:
        return {}

    def _facts(self, facts: list[dict[str, Any]], answers: list[dict[str, Any]], dump: Any) -> dict[str, Any]:
        return {"arcgis": facts}

    def _host_read(self, spec: dict[str, Any], task_vars: dict[str, Any] | None) -> dict[str, Any]:
        return self._execute_module(
            module_name=MODULE, module_args=fh.host_read_params(**spec), task_vars=task_vars
        )
