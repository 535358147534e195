"""Check every task's module arguments against that module's own documentation.

ansible-lint's production profile accepts ``ansible.windows.win_get_url: {checksum_typo: abc}`` and
``ansible.windows.win_package: {state: bogus}``; Ansible itself only notices on the Windows host, mid-run.
This check reads each used module's documentation once per run (one ``ansible-doc --json`` call for all
of them) and reports, per task: unknown options, literal values outside ``choices``, missing
``required`` options and options its argument spec declares mutually exclusive.

Usage (from the repository root, in the project's venv)::

    python tools/module_argcheck.py [PATH ...]     # default: site.yml playbooks roles molecule

Exit status: 0 when every task passes, 1 when any finding is reported, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATHS = ("site.yml", "playbooks", "roles", "molecule")
# Folders of a role or scenario that hold variables or files, never task lists.
NOT_TASK_DIRS = {"defaults", "vars", "meta", "files", "templates", "group_vars", "host_vars"}
TASK_LIST_KEYS = ("pre_tasks", "tasks", "post_tasks", "handlers")
BLOCK_KEYS = ("block", "rescue", "always")
# Arguments Ansible adds while parsing a task; they are not module options.
INTERNAL_ARGS = {"_variable_params", "_uses_shell"}


@dataclass(frozen=True)
class Finding:
    """One problem with one task's arguments."""

    path: str
    line: int
    task: str
    module: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: task {self.task!r}: {self.module}: {self.message}"


@dataclass
class TaskCall:
    """A module call found in a task file or playbook."""

    path: str
    line: int
    name: str
    module: str
    args: dict[str, Any]
    resolved: str = ""


@dataclass
class ModuleSpec:
    """What a module accepts, from its documentation and its argument spec."""

    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    mutually_exclusive: list[list[str]] = field(default_factory=list)

    def canonical(self, arg: str) -> str | None:
        """Return the option name ``arg`` stands for (itself or through an alias), or None."""
        if arg in self.options:
            return arg
        for name, opt in self.options.items():
            if arg in (opt.get("aliases") or []):
                return name
        return None


class LineLoader(yaml.SafeLoader):
    """A safe YAML loader that remembers the line of every mapping (as ``__line__``)."""


def _construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# Ansible's own tags (!vault, !unsafe) carry scalars; keep them as plain strings here.
LineLoader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))
LineLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def strip_lines(data: Any) -> Any:
    """Return ``data`` without the ``__line__`` bookkeeping keys."""
    if isinstance(data, dict):
        return {k: strip_lines(v) for k, v in data.items() if k != "__line__"}
    if isinstance(data, list):
        return [strip_lines(v) for v in data]
    return data


def yaml_files(paths: Iterable[str]) -> Iterator[Path]:
    """Yield the YAML files under ``paths`` that may hold plays or tasks."""
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            yield path
            continue
        for found in sorted(path.rglob("*")):
            if found.suffix not in (".yml", ".yaml") or not found.is_file():
                continue
            rel_parts = set(found.relative_to(path).parts[:-1])
            if rel_parts & NOT_TASK_DIRS:
                continue
            yield found


def is_playbook(data: list[Any]) -> bool:
    return any(
        isinstance(item, dict)
        and ({"hosts", "import_playbook", "ansible.builtin.import_playbook"} & item.keys())
        for item in data
    )


def is_task_file(path: Path) -> bool:
    return bool({"tasks", "handlers"} & set(path.parts[:-1]))


def iter_tasks(items: list[Any]) -> Iterator[dict[str, Any]]:
    """Yield every task in a task list, descending into blocks."""
    for item in items or []:
        if not isinstance(item, dict):
            continue
        if any(key in item for key in BLOCK_KEYS):
            for key in BLOCK_KEYS:
                yield from iter_tasks(item.get(key) or [])
            continue
        yield item


def collect_calls(path: Path) -> tuple[list[TaskCall], list[Finding]]:
    """Parse one file and return its module calls, plus findings for tasks Ansible cannot parse."""
    from ansible.errors import AnsibleError
    from ansible.parsing.mod_args import ModuleArgsParser

    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=LineLoader)  # noqa: S506 - LineLoader is a SafeLoader
    except yaml.YAMLError as exc:
        return [], [Finding(str(path), 0, "-", "-", f"not valid YAML: {exc}")]
    if not isinstance(data, list):
        return [], []
    tasks: list[dict[str, Any]] = []
    if is_playbook(data):
        for play in data:
            if isinstance(play, dict):
                for key in TASK_LIST_KEYS:
                    tasks.extend(iter_tasks(play.get(key) or []))
    elif is_task_file(path):
        tasks.extend(iter_tasks(data))
    calls: list[TaskCall] = []
    findings: list[Finding] = []
    for task in tasks:
        line = task.get("__line__", 0)
        name = str(task.get("name", "(unnamed)"))
        try:
            module, args, _delegate = ModuleArgsParser(strip_lines(task)).parse()
        except AnsibleError as exc:
            message = str(exc).splitlines()[0]
            findings.append(Finding(str(path), line, name, "-", message))
            continue
        calls.append(TaskCall(str(path), line, name, module, dict(args or {})))
    return calls, findings


def load_docs(modules: Iterable[str]) -> dict[str, Any]:
    """Read the documentation of all ``modules`` with a single ``ansible-doc --json`` call."""
    names = sorted(set(modules))
    if not names:
        return {}
    # The ansible-doc beside this interpreter: the venv's, even when the venv is not activated.
    beside = Path(sys.executable).parent / "ansible-doc"
    program = str(beside) if beside.exists() else "ansible-doc"
    proc = subprocess.run(
        [program, "--json", "-t", "module", *names],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 and not proc.stdout.strip():
        raise SystemExit(f"ansible-doc failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout or "{}")


_PS_GROUP = re.compile(r"@\(\s*('[^)]*')\s*\)")


def ps_mutually_exclusive(source: str) -> list[list[str]]:
    """Mutually exclusive groups declared in a PowerShell module's ``$spec``."""
    groups: list[list[str]] = []
    for match in re.finditer(r"mutually_exclusive\s*=\s*@\(", source):
        depth, pos = 1, match.end()
        while depth and pos < len(source):
            depth += {"(": 1, ")": -1}.get(source[pos], 0)
            pos += 1
        for group in _PS_GROUP.finditer(source[match.end() : pos]):
            groups.append(re.findall(r"'([^']+)'", group.group(1)))
    return groups


def py_mutually_exclusive(source: str) -> list[list[str]]:
    """Mutually exclusive groups given as a literal ``mutually_exclusive=`` in Python source."""
    groups: list[list[str]] = []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return groups
    for node in ast.walk(tree):
        value = None
        if isinstance(node, ast.keyword) and node.arg == "mutually_exclusive":
            value = node.value
        elif isinstance(node, ast.Dict):
            for key, val in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "mutually_exclusive":
                    value = val
        if value is None:
            continue
        try:
            literal = ast.literal_eval(value)
        except ValueError:
            continue
        groups.extend([list(g) for g in literal if isinstance(g, list | tuple)])
    return groups


def module_spec(doc: dict[str, Any]) -> ModuleSpec:
    """Build a ModuleSpec from one ``ansible-doc --json`` entry and the module's source files."""
    body = doc.get("doc", {})
    spec = ModuleSpec(options=body.get("options") or {})
    filename = body.get("filename")
    if not filename:
        return spec
    doc_file = Path(filename)
    sources = [doc_file.with_suffix(".ps1"), doc_file]
    # An action plugin with a doc-only module file keeps its argument spec in plugins/action/.
    sources.append(doc_file.parent.parent / "action" / doc_file.name)
    for source in sources:
        if not source.is_file():
            continue
        text = source.read_text(encoding="utf-8", errors="replace")
        parse = ps_mutually_exclusive if source.suffix == ".ps1" else py_mutually_exclusive
        spec.mutually_exclusive.extend(g for g in parse(text) if g not in spec.mutually_exclusive)
    return spec


def is_templated(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def check_call(call: TaskCall, spec: ModuleSpec) -> list[Finding]:
    """Check one module call against its module's spec."""
    findings: list[Finding] = []

    def report(message: str) -> None:
        findings.append(Finding(call.path, call.line, call.name, call.module, message))

    if "key_value" in spec.options:
        # set_fact-style modules take arbitrary variable names as their arguments.
        return findings
    allowed = ", ".join(sorted(spec.options)) or "(none)"
    free_form = {"free_form", "free-form"} & spec.options.keys()
    given: dict[str, Any] = {}
    for arg, value in call.args.items():
        if arg in INTERNAL_ARGS:
            continue
        if arg == "_raw_params" and free_form:
            given[next(iter(free_form))] = value
            continue
        option = spec.canonical(arg)
        if option is None:
            report(f"unknown option {arg!r}; the module accepts: {allowed}")
            continue
        given[option] = value
        choices = spec.options[option].get("choices")
        if not choices or is_templated(value):
            continue
        values = value if isinstance(value, list) else [value]
        wanted = {str(c) for c in choices}
        bad = [v for v in values if not is_templated(v) and str(v) not in wanted]
        if bad:
            report(
                f"option {arg!r} has value {bad[0]!r}, not one of the allowed values: "
                + ", ".join(str(c) for c in choices)
            )
    if "_variable_params" not in call.args:
        for option, opt in spec.options.items():
            if opt.get("required") and option not in given:
                report(f"required option {option!r} is missing")
    for group in spec.mutually_exclusive:
        used = [o for o in group if o in given or (o == "_raw_params" and "_raw_params" in call.args)]
        if len(used) > 1:
            report("options " + " and ".join(repr(o) for o in used) + " are mutually exclusive")
    return findings


def resolve(calls: list[TaskCall]) -> list[Finding]:
    """Fill in each call's fully qualified module name; report the ones Ansible cannot find."""
    from ansible.plugins.loader import module_loader

    findings: list[Finding] = []
    for call in calls:
        ctx = module_loader.find_plugin_with_context(call.module)
        if ctx.resolved:
            call.resolved = ctx.resolved_fqcn
        else:
            findings.append(Finding(call.path, call.line, call.name, call.module, "no such module"))
    return findings


def run(paths: Iterable[str]) -> list[Finding]:
    """Check every module call under ``paths``; return all findings."""
    from ansible.plugins.loader import init_plugin_loader
    from ansible.utils.collection_loader import AnsibleCollectionConfig

    if AnsibleCollectionConfig.collection_finder is None:
        init_plugin_loader()
    calls: list[TaskCall] = []
    findings: list[Finding] = []
    for path in yaml_files(paths):
        file_calls, file_findings = collect_calls(path)
        calls.extend(file_calls)
        findings.extend(file_findings)
    findings.extend(resolve(calls))
    known = [c for c in calls if c.resolved]
    docs = load_docs(c.resolved for c in known)
    specs = {name: module_spec(doc) for name, doc in docs.items()}
    for call in known:
        spec = specs.get(call.resolved)
        if spec is None:
            findings.append(Finding(call.path, call.line, call.name, call.module, "no documentation"))
            continue
        findings.extend(check_call(call, spec))
    return sorted(findings, key=lambda f: (f.path, f.line, f.message))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="files or folders (default: %(default)s)")
    opts = parser.parse_args(argv)
    paths = opts.paths or [p for p in DEFAULT_PATHS if os.path.exists(p)]
    findings = run(paths)
    for finding in findings:
        print(finding)
    count = len(findings)
    print(f"module-argcheck: {count} finding(s) in {', '.join(paths)}", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
