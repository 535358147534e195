"""Programs the simulated host can run: Python interpreters, conda, Miniconda (NSIS) installers.

Everything is read from the host's state; nothing here decides what the roles decide. Sources:
- Python's start-up: ``site`` appends existing site-packages, then reads ``*.pth`` files in
  alphabetical order: path lines are appended when the folder exists, lines starting with ``import``
  are executed; the user site comes first when it exists and ``ENABLE_USER_SITE``; ``usercustomize`` is
  imported after. https://docs.python.org/3/library/site.html , https://docs.python.org/2.7/library/site.html
- conda: ``@EXPLICIT`` files (``url#md5``), ``create --clone``, ``conda-meta\\<name>-<ver>-<build>.json``
  records, ``conda-meta\\pinned``, PackagesNotFoundError, "prefix already exists" for a non-empty prefix.
  https://docs.conda.io/projects/conda/en/latest/user-guide/tasks/manage-environments.html#building-identical-conda-environments
  https://docs.conda.io/projects/conda/en/latest/user-guide/tasks/manage-pkgs.html#preventing-packages-from-updating-pinning
  https://docs.conda.io/projects/conda/en/latest/commands/create.html
- Miniconda's NSIS installer options ``/InstallationType=AllUsers /RegisterPython=0 /AddToPath=0 /S
  /D=<prefix>``: https://docs.anaconda.com/miniconda/install/#windows-command-prompt ; NSIS ``/S``,
  ``/D=`` (last, no quotes) and the uninstaller's ``_?=<dir>``; an NSIS uninstaller deletes only what
  its script names, so folders/files it did not install stay:
  https://nsis.sourceforge.io/Docs/Chapter3.html#installerusage ,
  https://nsis.sourceforge.io/Docs/Chapter4.html#rmdir (RMDir without /r only removes empty folders)
"""

from __future__ import annotations

import ast
import contextlib
import json
import ntpath
import re
from pathlib import Path
from typing import Any

from . import host as H
from . import invariant

REPO = Path(__file__).resolve().parents[2]
SCRIPT_FILES = {
    "arcgis_probe": "plugins/module_utils/arcgis_probe.py",
    "arcgis_env_versions": "roles/arcgis_env/files/arcgis_env_versions.py",
    "bridge_verify": "roles/startup_bridge/files/arcgis_conda_bridge_verify.py",
    "bridge_hook": "roles/startup_bridge/files/arcgis_conda_bridge.py",
    "usercustomize": "roles/startup_bridge/files/usercustomize.py",
    "selftest_argv": "roles/fleet/files/selftest_argv.py",
    "selftest_tree": "roles/fleet/files/selftest_tree.py",
}
PROBE_DEFAULT = ("numpy", "matplotlib", "scipy", "pandas", "python-dateutil", "pyparsing", "pytz", "six")
VERIFY_MARKER = "ARCGIS_CONDA_BRIDGE_VERIFY "


def _norm_text(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text.replace("\r\n", "\n").lstrip("\ufeff")


def recognise(data: bytes | str) -> str | None:
    """Which repository script these bytes are (equal after normalising line ends), or None."""
    text = _norm_text(data)
    for name, rel in SCRIPT_FILES.items():
        path = REPO / rel
        if path.exists() and _norm_text(path.read_bytes()) == text:
            return name
    return None


class Result:
    """A program's answer; ``running`` is the pid of a program that has not ended (the caller's timeout
    decides what happens to it)."""

    def __init__(
        self,
        rc: int | None,
        stdout: str = "",
        stderr: str = "",
        changed: bool = False,
        running: int | None = None,
    ) -> None:
        self.rc, self.stdout, self.stderr, self.changed = rc, stdout, stderr, changed
        self.running = running


def split_command_line(line: str) -> list[str]:
    """A program's arguments as the Microsoft C runtime parses its command line (what python.exe and
    conda.exe see; ``ProcessStartInfo.Arguments`` reaches them unchanged):
    https://learn.microsoft.com/en-us/cpp/c-language/parsing-c-command-line-arguments . Space or tab
    separates arguments outside quotes; ``"`` toggles quoting (an empty ``""`` is an argument); 2n
    backslashes before ``"`` give n and the quote delimits, 2n+1 give n and a literal ``"``; other
    backslashes are literal; inside quotes ``""`` is a literal ``"`` (the documented ``a"b"" c d`` ->
    ``ab" c d``). Written from that page, independently of fleet_host.command_line, which it checks."""
    args: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return args
        current, quoted = [], False
        while i < n and (quoted or line[i] not in " \t"):
            if line[i] == "\\":
                j = i
                while j < n and line[j] == "\\":
                    j += 1
                if j < n and line[j] == '"':
                    current.append("\\" * ((j - i) // 2))
                    if (j - i) % 2:
                        current.append('"')
                        i = j + 1
                    else:
                        i = j  # the quote is handled as a delimiter below
                else:
                    current.append("\\" * (j - i))
                    i = j
            elif line[i] == '"':
                if quoted and i + 1 < n and line[i + 1] == '"':
                    current.append('"')
                    i += 2
                else:
                    quoted = not quoted
                    i += 1
            else:
                current.append(line[i])
                i += 1
        args.append("".join(current))


def not_modelled(what: str) -> Result:
    return Result(1, "", f"simwin: not modelled: {what}\n")


# --- conda records --------------------------------------------------------------------------------------


def write_conda_record(
    host: H.Host,
    actor: H.Principal,
    prefix: str,
    name: str,
    version: str,
    build: str,
    channel: str = "defaults",
    bits: int | None = None,
) -> None:
    meta = f"{prefix}\\conda-meta"
    host.mkdir(meta, actor, parents=True)
    record = {"name": name, "version": version, "build": build, "channel": channel, "files": []}
    if bits:
        record["subdir"] = "win-32" if int(bits) == 32 else "win-64"  # conda's platform subdir of the build
    host.write(f"{meta}\\{name}-{version}-{build}.json", json.dumps(record).encode(), actor)
    # conda appends every transaction to conda-meta\history (conda/history.py); a prefix has one once
    # anything is installed, which is how conda itself (and the roles) tell an env exists.
    history = f"{meta}\\history"
    old = host.node_bytes(host.node(history)) if host.is_file(history) else b"==> 2026-12-01 00:00:00 <==\n"
    host.write(history, old + f"+{channel}::{name}-{version}-{build}\n".encode(), actor)


def conda_records(host: H.Host, prefix: str) -> dict[str, dict[str, Any]]:
    """{name: record} from <prefix>\\conda-meta\\*.json."""
    out = {}
    for node in host.children(f"{prefix}\\conda-meta"):
        if node["type"] == "file" and node["path"].lower().endswith(".json"):
            record = json.loads(host.node_bytes(node))
            out[record["name"]] = record
    return out


def install_conda_base(host: H.Host, actor: H.Principal, spec: dict[str, Any]) -> None:
    """A conda root: python.exe, Scripts\\conda.exe, condabin\\conda.bat and base records (incl. conda)."""
    prefix = H.norm_path(spec["prefix"])
    version, bits = str(spec["python"]), int(spec["bits"])
    for sub in ("Lib\\site-packages", "Scripts", "condabin", "DLLs", "envs", "pkgs"):
        host.mkdir(f"{prefix}\\{sub}", actor, parents=True)
    py = {"program": "python", "version": version, "bits": bits}
    host.write(f"{prefix}\\python.exe", None, actor, synthetic=_synthetic(f"{prefix}python", py))
    conda = {
        "program": "conda",
        "version": str(spec["conda"]),
        "bits": bits,
        "root": prefix,
        "python": version,
    }
    host.write(f"{prefix}\\Scripts\\conda.exe", None, actor, synthetic=_synthetic(f"{prefix}conda", conda))
    host.write(f"{prefix}\\condabin\\conda.bat", None, actor, synthetic=_synthetic(f"{prefix}bat", conda))
    write_conda_record(host, actor, prefix, "python", version, "h0_0", bits=bits)
    write_conda_record(host, actor, prefix, "conda", str(spec["conda"]), "py_0")
    for name, ver in (spec.get("packages") or {}).items():
        write_conda_record(host, actor, prefix, name, str(ver), "py_0")
    for env in spec.get("envs") or []:
        env_prefix = f"{prefix}\\envs\\{env['name']}"
        from .scenario import _files_for_python

        _files_for_python(host, actor, {**env, "prefix": env_prefix, "layout": "conda"})


def _synthetic(seed: str, attrs: dict[str, Any], size: int = 65536) -> dict[str, Any]:
    return {"size": size, "sha256": H.sha256_hex(seed.encode()), "attrs": attrs}


# --- dispatch ---------------------------------------------------------------------------------------------


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def run_program(
    host: H.Host,
    actor: H.Principal,
    argv: list[str],
    stdin: str | None = None,
    memory_fault: bool = True,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> Result:
    """Run argv[0] (a path or a bare name) on the simulated host, in the working directory ``cwd``."""
    if not argv:
        return not_modelled("empty command line")
    exe = _resolve(host, actor, argv[0])
    if exe is None:
        return Result(
            2, "", f"The system cannot find the file specified. ({argv[0]})\n"
        )  # Win32 ERROR_FILE_NOT_FOUND
    node = host.node(exe)
    attrs = node.get("attrs") or {}
    program = attrs.get("program")
    invariant.program_started(host, actor, exe, argv[1:], env)
    limit = int(host.session().get("max_memory_mb") or 0)
    memory = int(attrs.get("memory_mb") or 0)
    fault = host.take_fault("memory", program or "", " ".join(argv))
    if fault:
        memory = int(fault.get("mb", limit + 1))
    if limit and memory > limit and memory_fault:
        return Result(
            -1073741801,
            "",
            f"simwin fault: {exe} used {memory} MB, more than WinRM's MaxMemoryPerShellMB {limit}: "
            f"the shell's process was terminated\n",
        )
    args = argv[1:]
    if program == "python":
        return run_python(host, actor, exe, attrs, args, stdin, env or {}, cwd)
    if program == "conda":
        return run_conda(host, actor, attrs, args, env)
    if program == "miniconda_installer":
        return run_miniconda_installer(host, actor, attrs, args)
    if program == "nsis_uninstaller":
        return run_uninstaller(host, actor, attrs, args)
    if program == "cmd":
        return run_cmd(host, actor, args)
    if program == "reg":
        return run_reg(host, actor, args)
    if program == "exit":
        return Result(int(attrs.get("rc", 0)), str(attrs.get("stdout", "")), str(attrs.get("stderr", "")))
    return not_modelled(f"program {exe} ({program or 'no simwin program attribute'})")


def _resolve(host: H.Host, actor: H.Principal, exe: str) -> str | None:
    exe = host.expand(exe.strip('"'), actor)
    candidates = [exe]
    if not exe.lower().endswith((".exe", ".bat", ".cmd")):
        candidates.append(exe + ".exe")
    if not ntpath.isabs(exe):
        path = host.machine_env("Path") or ""
        for folder in path.split(";"):
            if folder:
                candidates += [ntpath.join(folder, c) for c in list(candidates)]
    for candidate in candidates:
        if host.is_file(candidate):
            return H.norm_path(candidate)
    return None


# --- Python ----------------------------------------------------------------------------------------------


class PythonModel:
    """What sys.path and the importable packages of a simulated interpreter are."""

    def __init__(
        self,
        host: H.Host,
        actor: H.Principal,
        exe: str,
        attrs: dict[str, Any],
        env: dict[str, str] | None = None,
    ) -> None:
        self.env = {k.upper(): str(v) for k, v in (env or {}).items()}
        self.host, self.actor, self.exe = host, actor, H.norm_path(exe)
        self.version = str(attrs["version"])
        self.bits = int(attrs["bits"])
        self.prefix = ntpath.dirname(self.exe)
        major, minor = (int(x) for x in self.version.split(".")[:2])
        self.major_minor = f"{major}.{minor}"
        self.site_packages = ntpath.join(self.prefix, "Lib", "site-packages")
        # site.py _getuserbase/_get_path: %APPDATA%\\Python (or PYTHONUSERBASE) \\ Python<sys.winver without
        # dots>\\site-packages; sys.winver of a 32-bit build is "3.10-32" from 3.10 (bpo-41627; CPython
        # Lib/site.py _get_path, Lib/sysconfig.py nt_user "{userbase}/Python{py_version_nodot_plat}").
        self.user_base = ntpath.join(host.user_env(actor)["APPDATA"], "Python")
        self.user_site = self._user_site(self.user_base)
        self.path: list[str] = []
        self.bridge: dict[str, Any] | None = None
        self.errors: list[str] = []
        self.options: list[str] = []
        self.env_original = dict(self.env)
        self.hook_module: Any = None
        self.hook_file: str | None = None
        self.dll_dirs: list[str] = []

    def _user_site(self, base: str) -> str:
        major, minor = (int(x) for x in self.major_minor.split("."))
        suffix = "-32" if (major, minor) >= (3, 10) and self.bits == 32 else ""  # bpo-41627
        return ntpath.join(base, f"Python{major}{minor}{suffix}", "site-packages")

    def use_options(self, options: list[str]) -> None:
        self.options = list(options)
        if "-s" in options or "-I" in options:
            self.user_site = ""
            return
        base = self.env.get("PYTHONUSERBASE") if "-E" not in options else None
        if base:
            self.user_base = base
            self.user_site = self._user_site(base)

    def start(self, script_dir: str) -> None:
        path = [script_dir]
        if self.major_minor.startswith("3"):
            path.append(ntpath.join(self.prefix, f"python{self.major_minor.replace('.', '')}.zip"))
        path += [ntpath.join(self.prefix, "DLLs"), ntpath.join(self.prefix, "lib"), self.prefix]
        self.path = path
        if self.user_site and self.host.is_dir(self.user_site):
            self._addsitedir(self.user_site)
        self._addsitedir(self.site_packages)
        shim = self._find_module("usercustomize")
        if shim and recognise(self.host.node_bytes(self.host.node(shim))) == "usercustomize":
            self._run_bridge(ntpath.join(ntpath.dirname(shim), "arcgis_conda_bridge.json"))

    def _known(self, folder: str) -> bool:
        return H.key_of(folder) in {H.key_of(p) for p in self.path}

    def _addsitedir(self, sitedir: str) -> None:
        if not self._known(sitedir):
            self.path.append(sitedir)
        for node in self.host.children(sitedir):
            name = ntpath.basename(node["path"])
            if node["type"] != "file" or not name.lower().endswith(".pth"):
                continue
            for line in _norm_text(self.host.node_bytes(node)).splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                if line.startswith(("import ", "import\t")):
                    self._exec_pth_import(line, node["path"])
                    continue
                folder = ntpath.join(sitedir, line.rstrip())
                if self.host.is_dir(folder) and not self._known(folder):
                    self.path.append(H.norm_path(folder))

    def _exec_pth_import(self, line: str, where: str) -> None:
        if "arcgis_conda_bridge" not in line:
            return  # another vendor's start-up code (e.g. Pro's ArcGISPro.pth): nothing to model
        match = re.search(r"exec\((u?\".*\")\)\s*$", line)
        code = ast.literal_eval(match.group(1)) if match else line
        run = re.search(r"arcgis_conda_bridge\.run\((u?\".*?\")\)", code)
        data_path = ast.literal_eval(run.group(1)) if run else None
        hook = self._find_module("arcgis_conda_bridge")
        if hook is None:
            return  # the .pth wraps the import in try/except
        if recognise(self.host.node_bytes(self.host.node(hook))) != "bridge_hook":
            self.errors.append(
                f"simwin: not modelled: arcgis_conda_bridge at {hook} is not the repository's hook"
            )
            return
        self._run_bridge(data_path or ntpath.join(ntpath.dirname(hook), "arcgis_conda_bridge.json"), hook)

    def _find_module(self, name: str) -> str | None:
        for folder in self.path:
            candidate = ntpath.join(folder, f"{name}.py")
            if self.host.is_file(candidate):
                return H.norm_path(candidate)
        return None

    def _run_bridge(self, data_path: str, hook: str | None = None) -> None:
        """The repository's hook run(data_path), its own code on the simulated host (hook.py): the machine
        data file's entries, then the running account's own %USERPROFILE%\\.arcgis-conda\\bridge.json."""
        from . import hook as shipped

        self.hook_file = hook or self._find_module("arcgis_conda_bridge")
        runs = shipped.run(self, data_path)
        self.bridge = {"file": self.hook_file, "runs": runs}

    # -- packages --
    def metadata_version(self, package: str) -> str | None:
        """The first distribution of that name on sys.path: a ``*.dist-info``/``*.egg-info`` in the folder,
        or, for a conda env's ``Lib\\site-packages``, that env's conda record (a conda package's Python
        files and metadata live in its site-packages; python itself does not)."""
        wanted = re.sub(r"[-_.]+", "-", package).lower()
        for folder in self.path:
            conda_prefix = _conda_prefix_of_site(self.host, folder)
            if conda_prefix and wanted != "python":
                records = conda_records(self.host, conda_prefix)
                for name in (wanted, f"{wanted}-base"):
                    if name in records:
                        return str(records[name]["version"])
            for node in self.host.children(folder):
                name = ntpath.basename(node["path"])
                low = name.lower()
                for suffix in (".dist-info", ".egg-info"):
                    if low.endswith(suffix):
                        stem = name[: -len(suffix)]
                        dist, _, version = stem.partition("-")
                        if re.sub(r"[-_.]+", "-", dist).lower() == wanted:
                            return version.partition("-")[0] or None
        return None

    def conda_version(self, package: str) -> str | None:
        records = conda_records(self.host, self.prefix)
        for name in (package, f"{package}-base"):
            if name in records:
                return str(records[name]["version"])
        return None

    def package_version(self, package: str) -> str | None:
        return self.metadata_version(package) or self.conda_version(package)

    def unactivated_dll_error(self) -> str | None:
        """A conda env's compiled packages find their DLLs (MKL, ...) in <prefix>\\Library\\bin only when
        it is on PATH, as `conda activate` puts it (conda's troubleshooting, "NumPy MKL library load
        failed"). Modelled for conda envs (conda-meta) before Python 3.8: from 3.8 conda's Python adds
        its own Library\\bin at start-up (python-feedstock's CondaEcosystemModifyDllSearchPath patch)."""
        version = tuple(int(x) for x in self.major_minor.split("."))
        if not self.host.is_dir(ntpath.join(self.prefix, "conda-meta")) or version >= (3, 8):
            return None
        folders = {H.key_of(p) for p in (self.env.get("PATH") or "").split(";") if p}
        if H.key_of(ntpath.join(self.prefix, "Library", "bin")) in folders:
            return None
        return (
            "ImportError: DLL load failed: The specified module could not be found. "
            "(simwin: NumPy MKL library load failed, the env is not activated)"
        )

    def arcpy(self) -> dict[str, Any]:
        result = {"ok": False, "error": None, "traceback": None, "product": None, "file": None}
        for folder in self.path:
            init = ntpath.join(folder, "arcpy", "__init__.py")
            node = self.host.node(init)
            if node is None:
                continue
            bits = int((node.get("attrs") or {}).get("bits") or self.bits)
            if bits != self.bits:
                result["error"] = (
                    f"ImportError: DLL load failed: {bits}-bit arcpy in a {self.bits}-bit Python"
                )
                return result
            result.update(
                ok=True, file=node["path"], product=(node.get("attrs") or {}).get("product", "ArcInfo")
            )
            return result
        result["error"] = (
            "ImportError: No module named arcpy"
            if self.major_minor.startswith("2")
            else ("ModuleNotFoundError: No module named 'arcpy'")
        )
        return result


def _run_module(model: PythonModel, name: str, args: list[str], cwd: str | None) -> Result:
    """``python -m NAME``: sys.path[0] is the working directory (CPython's -m, runpy); pip (pip_model.py) and
    the repository's bridge hook (its own main(), hook.py) are modelled."""
    model.start(cwd or "")
    stderr = "".join(e + "\n" for e in model.errors)
    if name == "pip":
        from .pip_model import Pip

        rc, out, err = Pip(model).run(args)
        return Result(rc, out, stderr + err, changed=rc == 0 and "Successfully installed" in out)
    if name == "arcgis_conda_bridge":
        found = model._find_module("arcgis_conda_bridge")
        if found is None:
            return Result(1, "", f"{model.exe}: No module named arcgis_conda_bridge\n")
        if recognise(model.host.node_bytes(model.host.node(found))) != "bridge_hook":
            return not_modelled(f"arcgis_conda_bridge at {found} is not the repository's hook")
        from . import hook as shipped

        model.hook_file = model.hook_file or found
        rc, out = shipped.main(model, args)
        return Result(rc, out, stderr, changed=rc == 0 and args[:1] in (["add"], ["remove"]))
    return not_modelled(f"python -m {name}")


def _conda_prefix_of_site(host: H.Host, folder: str) -> str | None:
    """The conda env whose ``Lib\\site-packages`` this folder is, or None."""
    if not folder or not H.key_of(folder).endswith("\\lib\\site-packages"):
        return None
    prefix = H.parent_of(H.parent_of(folder) or "") or ""
    return prefix if host.is_dir(ntpath.join(prefix, "conda-meta")) else None


def run_python(
    host: H.Host,
    actor: H.Principal,
    exe: str,
    attrs: dict[str, Any],
    args: list[str],
    stdin: str | None,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> Result:
    model = PythonModel(host, actor, exe, attrs, env)
    # Interpreter options before the script (python -s - ...). The user site (site.py): none with -s or
    # -I; PYTHONUSERBASE names its base unless -E; else %APPDATA%\Python of the running account.
    options = []
    while args and args[0] in ("-s", "-S", "-E", "-u", "-B", "-I"):
        options.append(args[0])
        args = args[1:]
    model.use_options(options)
    if args[:1] == ["-m"] and len(args) >= 2:
        return _run_module(model, args[1], args[2:], cwd)
    if args[:1] == ["-c"] and len(args) >= 2:
        if args[1].strip() in ("import sys", "import sys;", "pass"):
            model.start("")
            return Result(0)
        return not_modelled(f"python -c {args[1]!r}")
    # A relative script name is opened from the working directory (CPython's main opens it as given).
    script = ntpath.join(cwd, args[0]) if args and cwd and not ntpath.isabs(args[0]) else (args or [""])[0]
    if args[:1] == ["-"]:
        source, script_args, script_dir = stdin or "", args[1:], ""
    elif args and host.is_file(script):
        source = _norm_text(host.node_bytes(host.node(script)))
        script_args, script_dir = args[1:], ntpath.dirname(H.norm_path(script))
    elif args:
        return Result(2, "", f"{exe}: can't open file '{args[0]}': [Errno 2] No such file or directory\n")
    else:
        return not_modelled("an interactive python")
    name = recognise(source)
    model.start(script_dir)
    stderr = "".join(e + "\n" for e in model.errors)
    if name == "arcgis_probe":
        packages = script_args or list(PROBE_DEFAULT)
        site = [model.site_packages]
        report = {
            "python": {
                "version": model.version,
                "executable": model.exe,
                "prefix": model.prefix,
                "bits": model.bits,
                "site_packages": site,
                "user_site": model.user_site,
                "user_site_enabled": True,
            },
            "packages": {p: model.package_version(p) for p in packages},
        }
        return Result(0, json.dumps(report, sort_keys=True) + "\n", stderr)
    if name == "arcgis_env_versions":
        report = {"python": model.version, "executable": model.exe, "packages": {}, "errors": {}}
        dll_error = model.unactivated_dll_error()
        for package in ("numpy", "matplotlib", "scipy"):
            version = model.package_version(package)
            report["packages"][package] = version
            if version is not None and dll_error and package in ("numpy", "scipy"):
                report["packages"][package] = None
                report["errors"][package] = dll_error
            elif version is None:
                report["errors"][package] = (
                    f"ImportError: No module named {package}"
                    if model.major_minor.startswith("2")
                    else f"ModuleNotFoundError: No module named '{package}'"
                )
        return Result(0, json.dumps(report, sort_keys=True) + "\n", stderr)
    if name == "bridge_verify":
        expect, want_arcpy = [], False
        rest = list(script_args)
        while rest:
            arg = rest.pop(0)
            if arg == "--arcpy":
                want_arcpy = True
            elif arg == "--expect" and rest:
                expect.append(rest.pop(0))
        keys = [H.key_of(p) if p else H.key_of(script_dir or "C:\\") for p in model.path]
        positions = []
        for folder in expect:
            index = keys.index(H.key_of(folder)) if H.key_of(folder) in keys else None
            positions.append(
                {"path": folder, "index": index, "from_end": None if index is None else len(keys) - index}
            )
        report = {
            "executable": model.exe,
            "prefix": model.prefix,
            "python": model.major_minor,
            "version": model.version,
            "bits": model.bits,
            "os_name": "nt",
            "path": list(model.path),
            "expect": positions,
            "conda_meta": host.is_dir(ntpath.join(model.prefix, "conda-meta")),
            "user_site": model.user_site,
            "user_site_enabled": True,
            "bridge": model.bridge,
            "arcpy": model.arcpy() if want_arcpy else None,
        }
        return Result(0, VERIFY_MARKER + json.dumps(report, sort_keys=True) + "\n", stderr)
    if name == "selftest_argv":
        return Result(0, json.dumps(list(script_args), ensure_ascii=True) + "\n", stderr)
    if name == "selftest_tree" and script_args:
        # It starts a copy of itself (which sleeps), writes both pids and sleeps: it never answers.
        parent = host.start_process(exe)
        child = host.start_process(exe, parent)
        pid_file = (
            ntpath.join(cwd, script_args[0]) if cwd and not ntpath.isabs(script_args[0]) else script_args[0]
        )
        host.write(pid_file, json.dumps({"parent": parent, "child": child}).encode(), actor)
        return Result(None, "", stderr, running=parent)
    return not_modelled(f"python script {args[0] if args else '-'} (not one of the repository's scripts)")


# --- conda -----------------------------------------------------------------------------------------------

_SPEC = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(==|=|>=|<=|<|>)?\s*([A-Za-z0-9_.*\-]*)$")


def _vt(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.\-_]", version))


def _satisfies(version: str, op: str | None, wanted: str) -> bool:
    if not op or not wanted:
        return True
    if op == "=":
        return version == wanted or version.startswith(wanted.rstrip("*").rstrip(".") + ".")
    if op == "==":
        return version == wanted
    left, right = _vt(version), _vt(wanted)
    return {">=": left >= right, "<=": left <= right, "<": left < right, ">": left > right}[op]


def _options(args: list[str]) -> tuple[dict[str, Any], list[str]]:
    opts: dict[str, Any] = {"channel": []}
    positional = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("--prefix", "-p", "--file", "--clone", "--name", "-n"):
            key = {"-p": "--prefix", "-n": "--name"}.get(arg, arg)[2:]
            if key == "file":
                opts.setdefault("file", []).append(rest.pop(0) if rest else None)
            else:
                opts[key] = rest.pop(0) if rest else None
        elif arg in ("--channel", "-c"):
            opts["channel"].append(rest.pop(0) if rest else None)
        elif arg.startswith("--"):
            opts[arg[2:]] = True
        elif arg in ("-y", "-q"):
            opts[{"-y": "yes", "-q": "quiet"}[arg]] = True
        else:
            positional.append(arg)
    return opts, positional


def _prefix_empty(host: H.Host, prefix: str) -> bool:
    return not host.exists(prefix) or not host.children(prefix)


def _make_env(
    host: H.Host, actor: H.Principal, prefix: str, records: list[tuple[str, str, str, str]], bits: int
) -> None:
    host.mkdir(prefix, actor, parents=True)
    host.mkdir(prefix + "\\Lib\\site-packages", actor, parents=True)
    for name, version, build, channel in records:
        write_conda_record(host, actor, prefix, name, version, build, channel, bits)
        if name == "python":
            py = {"program": "python", "version": version, "bits": bits}
            host.write(prefix + "\\python.exe", None, actor, synthetic=_synthetic(prefix + version, py))


def _catalog(host: H.Host, channels: list[str]) -> list[dict[str, Any]]:
    catalog = host.state.get("channels") or {}
    names = [c for c in channels if c] or ["defaults"]
    out = []
    for channel in names:
        keys = (
            [k for k in catalog if k.startswith("pkgs/")]
            if channel == "defaults"
            else [k for k in catalog if k == channel or channel.rstrip("/").endswith("/" + k)]
        )
        for key in keys:
            out += [{**item, "channel": key} for item in catalog[key]]
    return out


# Start-menu shortcuts (menuinst, run by conda for packages that ship menu/*.json): conda/core/path_actions.py
# MakeMenuAction (context.shortcuts; --no-shortcuts off) and RemoveMenuAction (always, on removal); menuinst
# 1.4 install(): mode 'system' (FOLDERID_CommonPrograms, all users) when the *root* prefix has no
# .nonadmin and the run is elevated, else 'user' (FOLDERID_Programs); win32.ShortCut names a non-root
# env's shortcut "<name> (<env>).lnk". Which packages ship a menu and the menu folder name
# ("Anaconda<major> (<bits>-bit)") are this model's choice (not verified per package build).
MENU_ITEMS = {"spyder": "Spyder", "notebook": "Jupyter Notebook"}
COMMON_PROGRAMS = "C:\\ProgramData\\Microsoft\\Windows\\Start Menu\\Programs"


def _menu_dir(host: H.Host, actor: H.Principal, root: str, python: str, bits: int) -> str:
    system = actor.admin and not host.exists(ntpath.join(root, ".nonadmin"))
    base = (
        COMMON_PROGRAMS
        if system
        else host.user_env(actor)["APPDATA"] + "\\Microsoft\\Windows\\Start Menu\\Programs"
    )
    return ntpath.join(base, f"Anaconda{python.split('.')[0]} ({bits}-bit)")


def _make_menus(
    host: H.Host, actor: H.Principal, root: str, prefix: str, names: list[str], bits: int
) -> None:
    records = conda_records(host, prefix)
    python = str((records.get("python") or {}).get("version") or "3")
    folder = _menu_dir(host, actor, root, python, bits)
    for name in names:
        if name not in MENU_ITEMS:
            continue
        host.mkdir(folder, actor, parents=True)
        link = ntpath.join(folder, f"{MENU_ITEMS[name]} ({ntpath.basename(prefix)}).lnk")
        attrs = {"program": "shortcut", "target_prefix": prefix, "package": name}
        host.write(link, None, actor, synthetic=_synthetic(link, attrs, 1024))


def _remove_menus(host: H.Host, actor: H.Principal, prefix: str) -> None:
    for node in list(host.fs().values()):
        if (node.get("attrs") or {}).get("program") == "shortcut" and H.key_of(
            str(node["attrs"].get("target_prefix"))
        ) == H.key_of(prefix):
            folder = H.parent_of(node["path"])
            host.delete(node["path"], actor)
            if folder and host.is_dir(folder) and not host.children(folder):
                host.delete(folder, actor)


def run_conda(
    host: H.Host,
    actor: H.Principal,
    attrs: dict[str, Any],
    args: list[str],
    env: dict[str, str] | None = None,
) -> Result:
    result = _run_conda(host, actor, attrs, args, env)
    if not args or result.rc != 0:
        return result
    opts, _ = _options(args[1:])
    prefix = getattr(result, "prefix", None) or opts.get("prefix")
    if args[0] in ("create", "install") and prefix and not opts.get("no-shortcuts"):
        names = [r["name"] for r in conda_records(host, prefix).values()]
        _make_menus(host, actor, str(attrs["root"]), prefix, names, int(attrs.get("bits", 64)))
    return result


def _run_conda(
    host: H.Host,
    actor: H.Principal,
    attrs: dict[str, Any],
    args: list[str],
    env: dict[str, str] | None = None,
) -> Result:
    from .conda_config import Config, NotWritable

    if not args:
        return not_modelled("conda without a command")
    command, rest = args[0], args[1:]
    if command in ("--version", "-V"):
        return _conda_version(attrs)
    opts, positional = _options(rest)
    config = Config(host, actor, str(attrs["root"]), env)
    if (command == "env" and positional[:1] == ["list"]) or (
        command == "info" and (opts.get("envs") or opts.get("e"))
    ):
        return Result(0, config.env_list())
    prefix = opts.get("prefix")
    bits = int(attrs.get("bits", 64))
    try:
        if opts.get("name") and not prefix:
            # conda's determine_target_prefix: the env of that name, else <first writable envs dir>\NAME
            prefix = config.locate(opts["name"])
            if prefix is None and command == "create":
                prefix = ntpath.join(config.first_writable_envs_dir(), opts["name"])
            elif prefix is None:
                return Result(
                    1,
                    "",
                    f"EnvironmentNameNotFound: Could not find conda environment: {opts['name']}\n"
                    "You can list all discoverable environments with `conda info --envs`.\n",
                )
        result = _conda_command(host, actor, config, command, opts, positional, prefix, bits)
    except NotWritable as err:
        return Result(1, "", f"{err}\n")
    except H.WinError as err:
        return Result(1, "", f"EnvironmentNotWritableError / OSError: {err}\n")
    result.prefix = prefix
    if command == "create" and result.rc == 0 and prefix:
        config.register(prefix)
    return result


def _conda_command(
    host: H.Host,
    actor: H.Principal,
    config: Any,
    command: str,
    opts: dict[str, Any],
    positional: list[str],
    prefix: str | None,
    bits: int,
) -> Result:
    if command == "create":
        if not prefix:
            return Result(1, "", "CondaValueError: either -n NAME or -p PREFIX option required\n")
        if not _prefix_empty(host, prefix):
            return Result(1, "", f"CondaValueError: prefix already exists: {prefix}\n")
        if opts.get("clone"):
            # conda/cli/install.py clone(): a name is located in envs_dirs, a path taken as given.
            source = opts["clone"]
            if not ntpath.isabs(source):
                source = config.locate(source) or ntpath.join(config.root, "envs", source)
            records = conda_records(host, source)
            if not records:
                return Result(
                    1, "", f"CondaEnvironmentNotFoundError: Could not find conda environment: {source}\n"
                )
            py = host.node(ntpath.join(source, "python.exe"))
            env_bits = int((py.get("attrs") or {}).get("bits", bits)) if py else bits
            listed = [(r["name"], r["version"], r["build"], r.get("channel", "")) for r in records.values()]
            config.download(listed)
            _make_env(host, actor, prefix, listed, env_bits)
            _clone_untracked(host, actor, source, prefix)
            if opts.get("pinned") and host.is_file(ntpath.join(source, "conda-meta", "pinned")):
                host.copy_file(
                    ntpath.join(source, "conda-meta", "pinned"),
                    ntpath.join(prefix, "conda-meta", "pinned"),
                    actor,
                )
            return Result(0, f"Source: {source}\nDestination: {prefix}\n", changed=True)
        if opts.get("file"):
            records = []
            for lock in opts["file"]:
                parsed = _explicit(host, actor, lock)
                if isinstance(parsed, Result):
                    return parsed
                records += parsed
            config.download(records)
            _make_env(host, actor, prefix, records, bits)
            return Result(0, "Preparing transaction: done\nExecuting transaction: done\n", changed=True)
        if not positional:
            return Result(
                1,
                "",
                "CondaValueError: too few arguments, must supply command line package specs or --file\n",
            )
        return _install(host, actor, prefix, positional, opts, bits, create=True, config=config)
    if command == "install":
        if not prefix or not host.is_dir(ntpath.join(prefix, "conda-meta")):
            return Result(1, "", f"EnvironmentLocationNotFound: Not a conda environment: {prefix}\n")
        explicit = _explicit_install(host, actor, prefix, positional, opts, bits, config)
        if explicit is not None:
            return explicit
        specs = list(positional)
        for path in opts.get("file") or []:
            specs += [
                line.strip()
                for line in _norm_text(host.read_bytes(path, actor)).splitlines()
                if line.strip() and not line.startswith("#")
            ]
        return _install(host, actor, prefix, specs, opts, bits, create=False, config=config)
    if command == "remove" and opts.get("all"):
        if not prefix or not host.exists(prefix):
            return Result(1, "", f"EnvironmentLocationNotFound: Not a conda environment: {prefix}\n")
        _remove_menus(host, actor, prefix)
        host.delete(prefix, actor)
        return Result(0, "Remove all packages in environment " + prefix + ":\n", changed=True)
    if command == "list" and opts.get("json"):
        records = conda_records(host, prefix or config.root)
        items = [
            {
                "name": r["name"],
                "version": r["version"],
                "build_string": r["build"],
                "channel": r.get("channel", ""),
            }
            for _, r in sorted(records.items())
        ]
        return Result(0, json.dumps(items, indent=2) + "\n")
    return not_modelled(f"conda {command} {' '.join(positional)}")


def _clone_untracked(host: H.Host, actor: H.Principal, source: str, prefix: str) -> None:
    """conda/misc.py clone_env: every file of the source no package owns (``untracked``: walk_prefix skips
    conda-meta) is copied, ``s.replace(prefix1, prefix2)`` applied to the ones that decode as UTF-8
    (case-sensitive, the plain path: a JSON-escaped ``C:\\\\...`` is not rewritten). simwin's records list
    no files, so "owned by a package" is "a synthetic file" (programs, package payloads): every real file
    outside conda-meta, e.g. the role's pip.ini, constraints, README and the bridge's files, is copied."""
    source = H.norm_path(source)
    for node in host.descendants(source):
        rel = node["path"][len(source) + 1 :]
        if rel.lower().split("\\")[0] == "conda-meta" or node.get("synthetic"):
            continue
        dest = ntpath.join(prefix, rel)
        if node["type"] == "dir":
            host.mkdir(dest, actor, parents=True)
            continue
        host.mkdir(H.parent_of(dest) or prefix, actor, parents=True)
        data = host.read_bytes(node["path"], actor)
        with contextlib.suppress(UnicodeDecodeError):  # binary: copied as is
            data = data.decode("utf-8").replace(source, prefix).encode("utf-8")
        host.write(dest, data, actor)


def _conda_version(attrs: dict[str, Any]) -> Result:
    """``conda --version``: conda declares it with argparse ``action='version'`` (conda 4.8.3
    conda/cli/conda_argparse.py, ``version='conda %s' % __version__``). CPython's argparse printed that
    to stderr before 3.4 and prints it to stdout since (https://bugs.python.org/issue18920, Lib/argparse.py
    ``_VersionAction.__call__``), so a conda on Python 2.7 (Miniconda2) answers on stderr, rc 0.
    Measured here with CPython 2.7.18's and 3.6's argparse. A conda root without a recorded Python
    (ArcGIS Pro's) runs on Python 3."""
    line = f"conda {attrs['version']}\n"
    if str(attrs.get("python") or "3").startswith("2."):
        return Result(0, "", line)
    return Result(0, line)


def _explicit_install(
    host: H.Host,
    actor: H.Principal,
    prefix: str,
    positional: list[str],
    opts: dict[str, Any],
    bits: int,
    config: Any,
) -> Result | None:
    """``conda install --file LOCK`` with an ``@EXPLICIT`` lock (None: not one, the solver runs). conda
    reads every ``--file`` and, when the specs are explicit package URLs and nothing else is requested,
    installs exactly those, with no solve and no pin check (conda/cli/install.py lines 320-322 at
    conda/conda@0f64223f: ``if len(env.explicit_packages) > 0 and len(env.requested_packages) == 0:
    return install_explicit_packages(...)``; conda 4.x: ``if '@EXPLICIT' in specs: explicit(...)``).
    ``install_explicit_packages`` (conda/misc.py lines 139-181): a package already in the prefix that
    matches the locked record is left as it is; one of that name that does not is unlinked and the locked
    one linked; packages the lock does not name stay."""
    files = list(opts.get("file") or [])
    if positional or not files:
        return None
    texts = []
    for path in files:
        try:
            texts.append(_norm_text(host.read_bytes(path, actor)))
        except H.WinError as err:
            return Result(1, "", f"CondaFileIOError: '{path}'. {err}\n")
    if not any("@EXPLICIT" in text for text in texts):
        return None
    records: list[tuple[str, str, str, str]] = []
    for path in files:
        parsed = _explicit(host, actor, path)
        if isinstance(parsed, Result):
            return parsed
        records += parsed
    existing = conda_records(host, prefix)
    changes = [
        r
        for r in records
        if (str((existing.get(r[0]) or {}).get("version")), str((existing.get(r[0]) or {}).get("build")))
        != (r[1], r[2])
    ]
    if config is not None and changes:
        config.download(changes)
    _replace_records(host, actor, prefix, existing, changes, bits)
    return Result(0, "Executing transaction: done\n", changed=bool(changes))


def _replace_records(
    host: H.Host,
    actor: H.Principal,
    prefix: str,
    existing: dict[str, Any],
    changes: list[tuple[str, str, str, str]],
    bits: int,
) -> None:
    """A conda transaction into an existing env: each changed package's old record goes, its new one is
    written (conda-meta/<name>-<version>-<build>.json)."""
    for name, version, build, channel in changes:
        old = existing.get(name)
        if old:
            host.delete(
                ntpath.join(prefix, "conda-meta", f"{name}-{old['version']}-{old['build']}.json"), actor
            )
        write_conda_record(host, actor, prefix, name, version, build, channel, bits)


def _explicit(host: H.Host, actor: H.Principal, path: str) -> list[tuple[str, str, str, str]] | Result:
    try:
        text = _norm_text(host.read_bytes(path, actor))
    except H.WinError as err:
        return Result(1, "", f"CondaFileIOError: '{path}'. {err}\n")
    if "@EXPLICIT" not in text:
        return not_modelled(f"conda create --file {path} without @EXPLICIT")
    records = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "@")):
            continue
        url = line.split("#", 1)[0]
        file = url.rsplit("/", 1)[-1]
        stem = re.sub(r"\.(tar\.bz2|conda)$", "", file)
        name, version, build = stem.rsplit("-", 2)
        channel = url.rsplit("/", 2)[0] if "/" in url else ""
        records.append((name, version, build, channel))
    return records


def _parse_spec(spec: str) -> tuple[str, str | None, str] | None:
    match = _SPEC.match(spec.replace(" ", ""))
    return (match.group(1), match.group(2), match.group(3)) if match else None


def _pins(host: H.Host, actor: H.Principal, prefix: str, config: Any) -> list[str]:
    """Pinned specs (conda/core/solve.py get_pinned_specs): context ``pinned_packages`` from the condarc
    files, then the env's ``conda-meta\\pinned`` lines (conda/base/constants.py PREFIX_PINNED_FILE)."""
    pins = list(config.sequence("pinned_packages")) if config is not None else []
    path = ntpath.join(prefix, "conda-meta", "pinned")
    if host.is_file(path):
        pins += [
            line.strip()
            for line in _norm_text(host.read_bytes(path, actor)).splitlines()
            if line.strip() and not line.startswith("#")
        ]
    return pins


def _install(
    host: H.Host,
    actor: H.Principal,
    prefix: str,
    specs: list[str],
    opts: dict[str, Any],
    bits: int,
    create: bool,
    config: Any = None,
) -> Result:
    """A solve over the scenario's channel catalogs: each requested spec's newest candidate whose
    ``depends`` (catalog items may list them) can be met by what the env has or another candidate,
    without breaking a pinned spec; an older candidate when the newest cannot (the solver's choice).
    None possible because of the pins: conda's SpecsConfigurationConflictError (conda/core/solve.py
    ``_add_specs``, conda/exceptions.py), naming the env's conda-meta\\pinned."""
    catalog = _catalog(host, opts.get("channel") or [])
    existing = {} if create else conda_records(host, prefix)
    pins = [] if create else _pins(host, actor, prefix, config)
    # A build for one Python (each real build depends on ``python >=X.Y,<X.Y+1``; the catalog's stand-in is
    # the ``pyXY`` tag of its build string) fits only an env of that Python.
    python = str((existing.get("python") or {}).get("version") or "")
    for spec in specs:
        parsed = _parse_spec(spec)
        if parsed and parsed[0] == "python" and parsed[2]:
            python = parsed[2]
    if python:
        tag = "py" + "".join(python.split(".")[:2])
        catalog = [
            c
            for c in catalog
            if not re.search(r"py\d\d+", str(c.get("build", "")))
            or re.search(r"py\d\d+", str(c["build"])).group(0) == tag
        ]
    pinned = [p for p in (_parse_spec(x) for x in pins) if p]

    def pin_ok(name: str, version: str) -> bool:
        return all(_satisfies(version, op, wanted) for n, op, wanted in pinned if n == name)

    def version_of(name: str, plan: dict[str, tuple[str, str, str, str]]) -> str | None:
        if name in plan:
            return plan[name][1]
        return str(existing[name]["version"]) if name in existing else None

    def take(item: dict[str, Any], plan: dict[str, tuple[str, str, str, str]]) -> bool:
        if not pin_ok(item["name"], str(item["version"])):
            return False
        plan[item["name"]] = (
            item["name"],
            str(item["version"]),
            str(item.get("build", "0")),
            item["channel"],
        )
        for dep in item.get("depends") or []:
            parsed = _parse_spec(dep)
            if not parsed:
                continue
            name, op, wanted = parsed
            have = version_of(name, plan)
            if have is not None and _satisfies(have, op, wanted):
                continue
            options = sorted(
                (c for c in catalog if c["name"] == name and _satisfies(str(c["version"]), op, wanted)),
                key=lambda c: _vt(str(c["version"])),
                reverse=True,
            )
            if not any(take(c, plan) for c in options):
                return False
        return True

    chosen: dict[str, tuple[str, str, str, str]] = {}
    missing, conflicts = [], []
    for spec in specs:
        parsed = _parse_spec(spec)
        if not parsed:
            missing.append(spec)
            continue
        name, op, wanted = parsed
        candidates = sorted(
            (c for c in catalog if c["name"] == name and _satisfies(str(c["version"]), op, wanted)),
            key=lambda c: _vt(str(c["version"])),
            reverse=True,
        )
        if not candidates:
            missing.append(spec)
            continue
        for candidate in candidates:
            plan = dict(chosen)
            if take(candidate, plan):
                chosen = plan
                break
        else:
            conflicts.append(spec)
    if missing:
        channels = "\n".join(
            f"  - {c}" for c in (opts.get("channel") or list(host.state.get("channels") or {}))
        )
        return Result(
            1,
            "",
            "PackagesNotFoundError: The following packages are not available from current channels:\n\n"
            + "".join(f"  - {m}\n" for m in missing)
            + f"\nCurrent channels:\n\n{channels}\n",
        )
    if conflicts and not pins:
        # No pin involved: the request cannot be met by the channels (conda/exceptions.py UnsatisfiableError).
        return Result(
            1,
            "",
            "UnsatisfiableError: The following specifications were found to be incompatible with each "
            "other:\n" + "".join(f"  - {c}\n" for c in sorted(conflicts)),
        )
    if conflicts:
        return Result(
            1,
            "",
            "SpecsConfigurationConflictError: Requested specs conflict with configured specs.\n"
            "  requested specs: \n"
            + "".join(f"    - {c}\n" for c in sorted(conflicts))
            + "  pinned specs: \n"
            + "".join(f"    - {p}\n" for p in sorted(pins))
            + "Use 'conda config --show-sources' to look for 'pinned_specs' and 'track_features'\n"
            "configuration parameters.  Pinned specs may also be defined in the file\n"
            f"{ntpath.join(prefix, 'conda-meta', 'pinned')}.\n",
        )
    changes = [r for r in chosen.values() if version_of(r[0], {}) != r[1]]
    history = host.node(ntpath.join(prefix, "conda-meta", "history"))
    if changes and history and not host.allowed(history, actor, H.WRITE_DATA):
        # conda/core/link.py "Verification 5. make sure conda-meta/history for each prefix is writable":
        # it is opened for append before any change; EnvironmentNotWritableError (conda/exceptions.py).
        return Result(
            1,
            "",
            "EnvironmentNotWritableError: The current user does not have write permissions to the target "
            f"environment.\n  environment location: {prefix}\n",
        )
    if config is not None and changes:
        config.download(changes)
    if create:
        _make_env(host, actor, prefix, list(chosen.values()), bits)
    else:
        _replace_records(host, actor, prefix, existing, changes, bits)
    return Result(0, "Executing transaction: done\n", changed=bool(changes))


# --- Miniconda installer and its uninstaller ---------------------------------------------------------------


def run_miniconda_installer(
    host: H.Host, actor: H.Principal, attrs: dict[str, Any], args: list[str]
) -> Result:
    dest = next((a[3:] for a in args if a.upper().startswith("/D=")), None)
    if "/S" not in [a.upper() for a in args] or not dest:
        return not_modelled("a Miniconda installer run without /S and /D=<prefix> (it would show its GUI)")
    if "/D=" not in args[-1].upper():
        return Result(1, "", "NSIS: /D= must be the last parameter\n")
    prefix = H.norm_path(dest)
    if host.exists(prefix) and host.children(prefix):
        # Anaconda's installers refuse a non-empty destination folder.
        return Result(1, "", f"Directory '{prefix}' is not empty, please choose a different location.\n")
    bits = 32 if attrs.get("arch") == "x86" else 64
    before = {k for k in host.fs()}
    host.mkdir(prefix, actor, parents=True)
    install_conda_base(
        host,
        actor,
        {
            "prefix": prefix,
            "python": attrs["python"],
            "bits": bits,
            "conda": attrs.get("conda", attrs["version"]),
            "packages": attrs.get("packages")
            or {"pip": "19.2.3", "setuptools": "41.4.0", "menuinst": "1.4.16"},
        },
    )
    flavour = attrs.get("flavour", "Miniconda")
    uninstaller = f"{prefix}\\Uninstall-{flavour}.exe"
    installed = sorted(k for k in host.fs() if k not in before)
    uninst = {
        "program": "nsis_uninstaller",
        "prefix": prefix,
        "flavour": flavour,
        "installed": [*installed, H.key_of(uninstaller)],
    }
    host.write(uninstaller, None, actor, synthetic=_synthetic(uninstaller, uninst))
    # constructor < 2.0 (Miniconda before 4.4) reads no command-line option but /S and /D: a silent install
    # takes the options page's defaults, AddToPath checked and RegisterPython checked unless a Python of
    # that version is already registered (conda/constructor 1.7.0 nsis/OptionsDialog.nsh
    # mui_AnaCustomOptions_InitDefaults; the options' parsing came in 2.0.0, commit 5baba7f1).
    old_constructor = _version_key(str(attrs["version"])) < (4, 4)
    if old_constructor:
        major_minor = ".".join(str(attrs["python"]).split(".")[:2])
        registered = host.reg_values(f"HKLM\\SOFTWARE\\Python\\PythonCore\\{major_minor}\\InstallPath")
        args = [a for a in args if not a.startswith(("/AddToPath=", "/RegisterPython="))]
        args += ["/AddToPath=1"] + ([] if registered else ["/RegisterPython=1"])
    if "/AddToPath=1" in args:
        host.set_machine_env("Path", (host.machine_env("Path") or "") + f";{prefix};{prefix}\\Scripts")
    if "/RegisterPython=1" in args:
        major_minor = ".".join(str(attrs["python"]).split(".")[:2])
        host.reg_set(f"HKLM\\SOFTWARE\\Python\\PythonCore\\{major_minor}\\InstallPath", "", prefix)
    view = "32" if bits == 32 else "64"
    key = f"HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{flavour}"
    host.reg_set(
        key, "DisplayName", f"{flavour} {attrs['version']} ({'32' if bits == 32 else '64'}-bit)", view=view
    )
    host.reg_set(key, "UninstallString", f'"{uninstaller}"', view=view)
    host.reg_set(key, "InstallLocation", prefix, view=view)
    return Result(0, changed=True)


def run_uninstaller(host: H.Host, actor: H.Principal, attrs: dict[str, Any], args: list[str]) -> Result:
    if "/S" not in [a.upper() for a in args]:
        return not_modelled("an NSIS uninstaller without /S")
    prefix = attrs["prefix"]
    given = next((a[3:] for a in args if a.startswith("_?=")), None)
    if given and H.key_of(given) != H.key_of(prefix):
        return Result(1, "", f"simwin: uninstaller of {prefix} run with _?={given}\n")
    installed = set(attrs.get("installed") or [])
    # Files it installed go (conda-meta records of later installs and user files stay), then the folders
    # it created when they are empty (NSIS RMDir without /r).
    for key in sorted(installed, key=len, reverse=True):
        node = host.fs().get(key)
        if node is None or (
            given
            and key == H.key_of(host.node(node["path"])["path"])
            and key.endswith(".exe")
            and "uninstall-" in key
        ):
            continue  # run with _?=, the uninstaller runs in place and cannot delete itself
        empty_subfolder = not host.children(node["path"]) and H.key_of(node["path"]) != H.key_of(prefix)
        if node["type"] == "file" or empty_subfolder:
            host.delete(node["path"], actor)
    flavour = attrs.get("flavour", "Miniconda")
    for view in ("32", "64"):
        host.reg_delete_key(f"HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{flavour}", view)
    if not given and not host.children(prefix):
        host.delete(prefix, actor)  # with _?= the uninstaller cannot remove its own folder (NSIS docs)
    return Result(0, changed=True)


# --- cmd.exe and reg.exe (what the selftest runs) -----------------------------------------------------------


def run_cmd(host: H.Host, actor: H.Principal, args: list[str]) -> Result:
    """``cmd.exe /d /c mklink /J <link> <target>`` and ``cmd.exe /d /c rmdir <junction>``.
    mklink /J creates a directory junction (the parent's create-folder right, no right on the target; an
    existing link name fails):
    https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/mklink ;
    rmdir of a junction removes the link, never the target's content, and refuses a folder that is not
    empty: https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/rmdir ,
    https://learn.microsoft.com/en-us/windows/win32/fileio/hard-links-and-junctions"""
    words = [a for a in args if a.lower() not in ("/d", "/c")]
    if len(words) == 4 and [w.lower() for w in words[:2]] == ["mklink", "/j"]:
        link, target = words[2], words[3]
        try:
            host.make_junction(link, target, actor)
        except H.WinError as err:
            message = str(err).split(" (")[0] if "already exists" in str(err) else str(err)
            return Result(1, "", message + "\n")
        return Result(0, f"Junction created for {link} <<===>> {target}\n")
    if len(words) == 2 and words[0].lower() == "rmdir":
        node = host.node(words[1])
        if node is None:
            return Result(2, "", "The system cannot find the file specified.\n")
        if not node.get("reparse") and host.children(words[1]):
            return Result(145, "", "The directory is not empty.\n")
        try:
            host.delete(words[1], actor)
        except H.WinError as err:
            return Result(5, "", f"{err}\n")
        return Result(0)
    return not_modelled(f"cmd.exe {' '.join(args)}")


REG_PRIVILEGE = "ERROR: A required privilege is not held by the client.\n"
REG_NO_KEY = "ERROR: The system was unable to find the specified registry key or value.\n"


def _hive_mounts(host: H.Host) -> dict[str, str]:
    return host.state.setdefault("loaded_hives", {})


def run_reg(host: H.Host, actor: H.Principal, args: list[str]) -> Result:
    """``reg save KEY FILE /y``, ``reg load HKU\\NAME FILE``, ``reg unload HKU\\NAME``.
    https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/reg-save ,
    https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/reg-load ,
    https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/reg-unload .
    Saving and loading need SeBackupPrivilege and SeRestorePrivilege, which only an elevated administrator
    holds (RegSaveKeyW, RegLoadKeyW: https://learn.microsoft.com/en-us/windows/win32/api/winreg/nf-winreg-regloadkeyw);
    a loaded hive's file is held open by the system until it is unloaded (the same page: RegUnLoadKey).
    The hive file is a synthetic file whose attrs hold the saved key's values."""
    verb = args[0].lower() if args else ""
    if verb in ("save", "load", "unload") and not actor.admin:
        return Result(1, "", REG_PRIVILEGE)
    if verb == "save" and len(args) >= 3:
        key, path = args[1], args[2]
        if host.reg_key(key) is None:
            return Result(1, "", REG_NO_KEY)
        if host.exists(path) and "/y" not in [a.lower() for a in args[3:]]:
            return Result(1, "", "ERROR: The file exists (simwin: reg save without /y would ask).\n")
        base = host.reg_norm(key).lower()
        saved = {
            k[len(base) :].lstrip("\\"): dict(v["values"])
            for k, v in host.registry().items()
            if k == base or k.startswith(base + "\\")
        }
        attrs = {"hive": saved}
        seed = json.dumps(saved, sort_keys=True)
        host.write(path, None, actor, synthetic=_synthetic(seed, attrs, 8192))
        return Result(0, "The operation completed successfully.\n")
    if verb == "load" and len(args) == 3:
        mount, path = host.reg_norm(args[1]), args[2]
        node = host.node(path)
        if node is None or node["type"] != "file":
            return Result(1, "", "ERROR: The system cannot find the file specified.\n")
        if mount.lower() in _hive_mounts(host) or host.reg_key(mount) is not None:
            return Result(1, "", "ERROR: Access is denied.\n")
        hive = (node.get("attrs") or {}).get("hive")
        if not isinstance(hive, dict):
            return Result(
                1, "", "ERROR: The system was unable to load the hive (simwin: not a saved hive).\n"
            )
        for sub, values in hive.items():
            host.reg_ensure(mount + ("\\" + sub if sub else ""))["values"].update(values)
        _hive_mounts(host)[mount.lower()] = node["path"]
        host.state.setdefault("processes", []).append(
            {"name": "System", "pid": 4, "image": "", "open_files": [node["path"]], "hive": mount.lower()}
        )
        return Result(0, "The operation completed successfully.\n")
    if verb == "unload" and len(args) == 2:
        mount = host.reg_norm(args[1])
        path = _hive_mounts(host).pop(mount.lower(), None)
        if path is None:
            return Result(1, "", "ERROR: The parameter is incorrect.\n")
        base = mount.lower()
        saved = {
            k[len(base) :].lstrip("\\"): dict(v["values"])
            for k, v in host.registry().items()
            if k == base or k.startswith(base + "\\")
        }
        host.reg_delete_key(mount)
        host.state["processes"] = [p for p in host.state.get("processes") or [] if p.get("hive") != base]
        node = host.node(path)
        if node is not None:
            node.setdefault("attrs", {})["hive"] = saved
        return Result(0, "The operation completed successfully.\n")
    return not_modelled(f"reg.exe {' '.join(args)}")
