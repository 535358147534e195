"""``python -m pip install [--user] [-c FILE] [--isolated] SPEC...`` on a simulated interpreter, as the
account that runs it. Each rule from pip's source (pypa/pip, src/pip/_internal, read at 6d309205, 2026-08-20,
and the tags named):

- pip is the first ``pip`` distribution on sys.path (a dist-info, or the env's conda record); none:
  ``No module named pip`` (CPython's runpy).
- Configuration files (configuration.py ``get_configuration_files``, ``CONFIG_BASENAME = "pip.ini"`` on
  Windows), loaded in ``OVERRIDE_ORDER`` = global, user, site, then ``PIP_CONFIG_FILE``, then ``PIP_*``
  variables, a later value overriding an earlier one: global ``C:\\ProgramData\\pip\\pip.ini``
  (utils/appdirs.py ``site_config_dirs``: platformdirs' site_config_dir, CSIDL_COMMON_APPDATA), user
  ``%USERPROFILE%\\pip\\pip.ini`` (legacy) then ``%APPDATA%\\pip\\pip.ini`` (``user_config_dir``, roaming),
  site ``<sys.prefix>\\pip.ini``. ``--isolated`` skips the user files and the variables
  (``Configuration.iter_config_files``: should_load_user_config). The site file is read outside a
  virtualenv from pip 19.1 (commit 293c91ee "Configuration files may now also be stored under sys.prefix",
  pypa/pip#6268); older pips do not read it. In a file, ``[global]`` then the command's section
  (``[install]``) apply; an option's name is its long name (``constraint`` for ``-c/--constraint``),
  and an append option's value is split on whitespace (cli/parser.py ``_update_defaults``:
  ``val = val.split()``), so a path with a space becomes two file names.
- A constraints file named as a ``file:`` URL is opened at its path: pip 19.2's ``get_file_content``
  (download.py; req_file.py later) strips ``file:``, turns ``/C|`` into ``C:`` (``_url_slash_drive_re``) and
  unquotes; pip 20+ fetches it through its LocalFSAdapter (network/session.py) at ``url_to_path``
  (utils/urls.py: ``urllib.request.url2pathname``, nturl2path on Windows). Both give the same file here.
- Constraints (``-c``, ``constraint =``, ``PIP_CONSTRAINT``) limit versions without asking for the
  package. pip 20.3+ resolves with resolvelib (the 2020 resolver became the default in 20.3, NEWS.rst):
  a requirement whose every candidate would break a constraint, directly or through a dependency, is
  ResolutionImpossible with resolution/resolvelib/factory.py ``_report_requirement_conflict``'s text
  ("Cannot install X because these package versions have conflicting dependencies." ... "The user requested
  (constraint) numpy==1.24.3"); it backtracks to an older candidate first. The legacy resolver (< 20.3)
  keeps the constrained version (a constraint already in the requirement set keeps its specifier), installs
  the package and prints "ERROR: X 1.0 has requirement numpy>=2, but you'll have numpy 1.9.2 which is
  incompatible." (commands/install.py ``_warn_about_conflicts`` at 19.2).
- A dependency already installed at a version that satisfies it is kept (the default
  ``--upgrade-strategy only-if-needed``).
- ``--user`` installs into the interpreter's user site (site.USER_SITE: programs.PythonModel.user_site, with
  the ``-32`` suffix of 32-bit Pythons from 3.10); without ``--user``, pip 20.0+ falls back to it when
  site-packages is not writable, logging "Defaulting to user installation because normal site-packages is
  not writeable" (commands/install.py ``decide_user_install``, tag 20.0); older pips fail with
  "Could not install packages due to an EnvironmentError: [WinError 5] Access is denied" and
  "Consider using the `--user` option or check the permissions." (``create_env_error_message``).
- The index is the scenario's ``pypi`` catalog: ``{name: [{version, requires: [specs]}]}``.
- An install writes ``<name>-<version>.dist-info`` (METADATA) and the package folder into the target.
"""

from __future__ import annotations

import configparser
import ntpath
import nturl2path
import re
import urllib.parse
from typing import Any

from . import host as H

GLOBAL_PIP_INI = "C:\\ProgramData\\pip\\pip.ini"


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _vt(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*((?:[<>=!~]=?\s*[A-Za-z0-9_.*]+\s*,?\s*)*)$")


def parse_req(text: str) -> tuple[str, list[tuple[str, str]]]:
    match = _REQ.match(text.strip())
    if not match:
        raise ValueError(text)
    specs = re.findall(r"([<>=!~]=?)\s*([A-Za-z0-9_.*]+)", match.group(2) or "")
    return _canon(match.group(1)), specs


def satisfies(version: str, specs: list[tuple[str, str]]) -> bool:
    have = _vt(version)
    for op, wanted in specs:
        want = _vt(wanted)
        width = max(len(have), len(want))
        a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        ok = {
            "==": a == b,
            "=": a == b,
            "!=": a != b,
            ">=": a >= b,
            "<=": a <= b,
            ">": a > b,
            "<": a < b,
            "~=": a >= b and a[: len(want) - 1] == b[: len(want) - 1],
        }[op]
        if not ok:
            return False
    return True


def _fmt(specs: list[tuple[str, str]]) -> str:
    return ",".join(f"{op}{v}" for op, v in specs)


class Pip:
    def __init__(self, model: Any) -> None:
        self.model, self.host, self.actor = model, model.host, model.actor
        self.version = model.package_version("pip")
        self.env = {k.upper(): v for k, v in model.host.user_env(model.actor).items()}
        self.env.update(model.env)

    @property
    def new_resolver(self) -> bool:
        return _vt(self.version or "0") >= (20, 3)

    def config_files(self, isolated: bool) -> list[str]:
        files = [GLOBAL_PIP_INI]
        if not isolated:
            files += [
                ntpath.join(self.env["USERPROFILE"], "pip", "pip.ini"),
                ntpath.join(self.env["APPDATA"], "pip", "pip.ini"),
            ]
        if _vt(self.version or "0") >= (19, 1):
            files.append(ntpath.join(self.model.prefix, "pip.ini"))
        if not isolated and self.env.get("PIP_CONFIG_FILE"):
            files.append(self.env["PIP_CONFIG_FILE"])
        return files

    def option(self, key: str, isolated: bool) -> list[str]:
        """The values of one install option from the config files and PIP_<KEY> (a later one wins)."""
        value: str | None = None
        for path in self.config_files(isolated):
            if not self.host.is_file(path):
                continue
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read_string(self.host.read_bytes(path, self.actor).decode("utf-8-sig"))
            except (H.WinError, configparser.Error):
                continue
            for section in ("global", "install"):
                if parser.has_option(section, key):
                    value = parser.get(section, key)
        if not isolated and self.env.get("PIP_" + key.upper().replace("-", "_")):
            value = self.env["PIP_" + key.upper().replace("-", "_")]
        return value.split() if value else []

    def installed(self) -> dict[str, str]:
        found: dict[str, str] = {}
        index = self.host.state.get("pypi") or {}
        for name in {*index, *(_canon(n) for n in _requires_names(index))}:
            version = self.model.package_version(name)
            if version:
                found[_canon(name)] = version
        return found

    def run(self, args: list[str]) -> tuple[int, str, str]:
        if self.version is None:
            return 1, "", f"{self.model.exe}: No module named pip\n"
        if args[:1] != ["install"]:
            return 1, "", f"simwin: not modelled: pip {' '.join(args)}\n"
        user, isolated, constraint_files, wanted = False, False, [], []
        rest = list(args[1:])
        while rest:
            arg = rest.pop(0)
            if arg == "--user":
                user = True
            elif arg == "--isolated":
                isolated = True
            elif arg in ("-c", "--constraint"):
                constraint_files.append(rest.pop(0))
            elif arg.startswith("-"):
                return 1, "", f"simwin: not modelled: pip install option {arg}\n"
            else:
                wanted.append(arg)
        constraint_files = self.option("constraint", isolated) + constraint_files
        constraints: dict[str, list[tuple[str, str]]] = {}
        for path in constraint_files:
            if path.lower().startswith("file:"):
                path = nturl2path.url2pathname(urllib.parse.urlsplit(path).path)
            try:
                text = self.host.read_bytes(path, self.actor).decode("utf-8-sig")
            except H.WinError as err:
                return 1, "", f"ERROR: Could not open requirements file: {err}\n"
            for line in text.splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    name, specs = parse_req(line)
                    constraints.setdefault(name, []).extend(specs)
        out, err = [], []
        target = self._target(user, out)
        if isinstance(target, tuple):
            return target
        plan = self.resolve([parse_req(w) for w in wanted], constraints, out, err)
        if plan is None:
            return 1, "\n".join(out) + "\n", "\n".join(err) + "\n"
        for name, version in plan.items():
            self._write(target, name, version)
        if plan:
            out.append("Successfully installed " + " ".join(f"{n}-{v}" for n, v in sorted(plan.items())))
        text_err = "".join(e + "\n" for e in err)
        return 0, "\n".join(out) + "\n", text_err

    def _target(self, user: bool, out: list[str]) -> str | tuple[int, str, str]:
        site = self.model.site_packages
        if user:
            if not self.model.user_site:
                return (
                    1,
                    "",
                    "ERROR: Can not perform a '--user' install. User site-packages are not visible.\n",
                )
            return self.model.user_site
        node = self.host.node(site)
        if node and self.host.allowed(node, self.actor, H.WRITE_DATA | H.APPEND_DATA):
            return site
        if _vt(self.version or "0") >= (20, 0) and self.model.user_site:
            out.append("Defaulting to user installation because normal site-packages is not writeable")
            return self.model.user_site
        return (
            1,
            "",
            "ERROR: Could not install packages due to an EnvironmentError: [WinError 5] Access is denied: "
            f"'{site}'\nConsider using the `--user` option or check the permissions.\n",
        )

    def resolve(
        self,
        wanted: list[tuple[str, list[tuple[str, str]]]],
        constraints: dict[str, list[tuple[str, str]]],
        out: list[str],
        err: list[str],
    ) -> dict[str, str] | None:
        index = {_canon(k): v for k, v in (self.host.state.get("pypi") or {}).items()}
        installed = self.installed()
        plan: dict[str, str] = {}
        causes: list[str] = []

        def candidates(name: str, specs: list[tuple[str, str]], constrained: bool) -> list[dict[str, Any]]:
            items = [c for c in index.get(name) or [] if satisfies(str(c["version"]), specs)]
            if constrained:
                items = [c for c in items if satisfies(str(c["version"]), constraints.get(name, []))]
            return sorted(items, key=lambda c: _vt(str(c["version"])), reverse=True)

        def take(name: str, item: dict[str, Any], trial: dict[str, str]) -> bool:
            trial[name] = str(item["version"])
            for req in item.get("requires") or []:
                dep, specs = parse_req(req)
                have = trial.get(dep) or installed.get(dep)
                if have and satisfies(have, specs) and satisfies(have, constraints.get(dep, [])):
                    continue
                # legacy: the constraint's requirement is already in the set and keeps its specifier
                if (
                    not self.new_resolver
                    and dep in constraints
                    and have
                    and satisfies(have, constraints[dep])
                ):
                    err.append(
                        f"ERROR: {name} {item['version']} has requirement {dep}{_fmt(specs)}, but you'll "
                        f"have {dep} {have} which is incompatible."
                    )
                    continue
                options = candidates(dep, specs, True)
                if not any(take(dep, option, trial) for option in options):
                    causes.append(f"{name} {item['version']} depends on {dep}{_fmt(specs)}")
                    return False
            return True

        for name, specs in wanted:
            if not index.get(name):
                err.append(
                    f"ERROR: Could not find a version that satisfies the requirement {name}{_fmt(specs)}"
                )
                err.append(f"ERROR: No matching distribution found for {name}{_fmt(specs)}")
                return None
            have = installed.get(name)
            if have and satisfies(have, specs):
                out.append(f"Requirement already satisfied: {name}{_fmt(specs)}")
                continue
            options = candidates(name, specs, True)
            if not self.new_resolver:
                options = options[:1]  # the legacy resolver takes the best match and never backtracks
            for option in options:
                trial = dict(plan)
                if take(name, option, trial):
                    plan = trial
                    break
            else:
                if not self.new_resolver:
                    err.append(f"ERROR: No matching distribution found for {name}{_fmt(specs)}")
                    return None
                err.append(
                    f"ERROR: Cannot install {name}{_fmt(specs)} because these package versions have "
                    "conflicting dependencies."
                )
                lines = ["", "The conflict is caused by:"]
                lines += [f"    {c}" for c in dict.fromkeys(causes)]
                lines += [
                    f"    The user requested (constraint) {n}{_fmt(s)}"
                    for n, s in sorted(constraints.items())
                    if any(n in c for c in causes)
                ]
                out.extend(lines)
                err.append(
                    "ERROR: ResolutionImpossible: for help visit "
                    "https://pip.pypa.io/en/latest/topics/dependency-resolution/"
                    "#dealing-with-dependency-conflicts"
                )
                return None
        return {n: v for n, v in plan.items() if installed.get(n) != v}

    def _write(self, target: str, name: str, version: str) -> None:
        self.host.mkdir(target, self.actor, parents=True)
        info = ntpath.join(target, f"{name.replace('-', '_')}-{version}.dist-info")
        self.host.mkdir(info, self.actor)
        self.host.write(
            ntpath.join(info, "METADATA"),
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
            self.actor,
        )
        package = ntpath.join(target, name.replace("-", "_"))
        self.host.mkdir(package, self.actor)
        self.host.write(
            ntpath.join(package, "__init__.py"), f"__version__ = {version!r}\n".encode(), self.actor
        )


def _requires_names(index: dict[str, Any]) -> set[str]:
    names = set()
    for items in index.values():
        for item in items:
            for req in item.get("requires") or []:
                names.add(parse_req(req)[0])
    return names
