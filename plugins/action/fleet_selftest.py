"""Action plugin arcgis_conda.fleet.fleet_selftest: judge the conformance suite's answers on the controller.

Runs on the controller only (no host call): takes what the steps of playbooks/selftest.yml returned,
judges every check of module_utils/fleet_selftest.py (holds / differs / not checked, with the value the
host gave) and writes ``<report_dir>/<host>.json`` and ``<host>.html``. Fails when a fact differs, unless
the admin listed its id in ``accepted``.
Documentation: plugins/modules/fleet_selftest.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_report as fr
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_selftest as fs
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_state

STEPS = ("read", "after", "secured", "runs", "processes")
ARGUMENT_SPEC: dict[str, Any] = {
    "suffix": {"type": "str", "required": True},
    "answers": {"type": "dict", "required": True},
    "accepted": {"type": "list", "elements": "str", "default": []},
    "report_dir": {"type": "path"},  # unset: <state>/reports/selftest (module_utils/fleet_state.py)
}
SELFTEST_COLUMNS = (
    fr.Column("id", "Check"),
    fr.Column("result", "Result"),
    fr.Column("value", "What this host answered"),
    fr.Column("note", "Note"),
    fr.Column("fact", "The fact the fleet relies on"),
    fr.Column("source", "Source"),
)


def answers_of(suffix: str, raw: dict[str, Any]) -> fs.Answers:
    """The registered results as the judge reads them: each host-script step's ``result``."""

    def result(name: str) -> dict[str, Any]:
        value = raw.get(name) or {}
        return dict(value.get("result") or {}) if isinstance(value, dict) else {}

    return fs.Answers(
        suffix=suffix,
        **{name: result(name) for name in STEPS},
        junction=dict(raw.get("junction") or {}),
        hive={k: dict(v or {}) for k, v in (raw.get("hive") or {}).items()},
        python=str(raw.get("python") or "") or None,
        conda=str(raw.get("conda") or "") or None,
    )


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        _spec, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = str((task_vars or {}).get("inventory_hostname", "this host"))
        unknown = sorted(set(args["accepted"]) - set(fs.CHECK_IDS))
        if unknown:
            raise AnsibleActionFail(
                f"{host}: fleet_selftest_accepted lists {unknown}, which are no selftest checks; "
                f"fix: use ids of {list(fs.CHECK_IDS)}"
            )
        outcomes = fs.judge(answers_of(args["suffix"], args["answers"]), args["accepted"])
        rows = [o.row() for o in outcomes]
        state = fleet_state.state_dir((task_vars or {}).get(fleet_state.STATE_VARIABLE), C.CONFIG_FILE)
        out_dir = Path(args["report_dir"] or fleet_state.reports_dir(state) / "selftest")
        out_dir.mkdir(parents=True, exist_ok=True)
        name = fr.safe_name(host)
        when = datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M %Z")
        counts = fs.summary(outcomes)
        notes = [
            f"{host}, {when}: {counts['holds']} hold, {len(counts['differs'])} differ "
            f"{counts['differs'] or ''}, {len(counts['not_checked'])} not checked.",
            "A fact that differs is an assumption of the fleet (and of its simulated workstation) that this "
            "Windows does not meet: send this page and the JSON beside it to the fleet's maintainers.",
        ]
        (out_dir / f"{name}.json").write_text(
            # The answers too, so the maintainers can replay the judgement (fleet_selftest.judge) on them.
            json.dumps(
                {
                    "host": host,
                    "when": when,
                    "summary": counts,
                    "checks": rows,
                    "suffix": args["suffix"],
                    "answers": args["answers"],
                },
                indent=2,
                sort_keys=True,
            )
            + "\n",
            encoding="utf-8",
        )
        (out_dir / f"{name}.html").write_text(
            fr.render_html(f"arcgis-conda fleet selftest: {host}", rows, SELFTEST_COLUMNS, notes),
            encoding="utf-8",
        )
        result.update(
            changed=False,
            checks=rows,
            summary=counts,
            report=str(out_dir / f"{name}.html"),
            msg=f"{host}: {notes[0]} Report: {out_dir / name}.html",
        )
        if counts["differs"]:
            result["failed"] = True
            result["msg"] = (
                f"{host}: {len(counts['differs'])} Windows fact(s) differ from what the fleet relies on: "
                + "; ".join(
                    f"{r['id']}: {r['value']} {r['note']}".strip() for r in rows if r["status"] == "failed"
                )
                + f". Report: {out_dir / name}.html; send it (and {name}.json) to the fleet's maintainers."
            )
        return result
