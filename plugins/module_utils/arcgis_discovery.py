"""Which ArcGIS installs a Windows host has, which Python each one runs, and the facts built from them.

The ``arcgis_facts`` action plugin makes two host calls and hands the raw results to these functions:

1. a registry dump (``parse_registry_dump``): the level-1 subkeys of ``SOFTWARE\\ESRI`` in both
   registry views, the Uninstall entries published by Esri, and the ``ArcGIS*`` folders (with or
   without ``python.exe``) under ``C:\\Python27`` and every ``PythonDir`` the ESRI keys name;
2. one run of ``arcgis_probe.py`` per interpreter ``find_installs`` chose (``build_facts``).

Registry layouts (recorded in tests/unit/data/arcgis_registry_*.json):
- ArcGIS Desktop 10.x is 32-bit: ``WOW6432Node\\ESRI\\Desktop<maj.min>`` (InstallDir, RealVersion),
  ``WOW6432Node\\ESRI\\Python<maj.min>`` (PythonDir, e.g. ``C:\\Python27\\``), Python in
  ``<PythonDir>\\ArcGIS<maj.min>``.
- 64-bit Background Geoprocessing installs ``<PythonDir>\\ArcGISx64<maj.min>`` (found on disk, confirmed
  by its Uninstall entry).
- ArcGIS Pro: ``ESRI\\ArcGISPro`` (RealVersion or Version, InstallDir, PythonCondaRoot, PythonCondaEnv).
  PythonCondaEnv is Pro's *active* env, a name under ``<PythonCondaRoot>\\envs`` or the full path of a
  clone; the pins are always measured in Esri's own ``<PythonCondaRoot>\\envs\\arcgispro-py3`` (the env
  every clone starts from, which Esri ships and updates), never in the active clone.
- Per-user Pro (the MSI run with ``ALLUSERS=2 MSIINSTALLPERUSER=1``; Esri's arcgis-pro cookbook
  ``node['arcgis']['pro']['allusers']`` "1 - per machine, 2 - per user",
  https://esri.github.io/arcgis-cookbook/cookbooks/arcgis-pro/4.2.0.html) writes its keys to that user's
  ``HKCU\\Software\\ESRI\\ArcGISPro`` (Windows Installer directs a per-user install's registry entries to
  per-user locations: https://learn.microsoft.com/en-us/windows/win32/msi/single-package-authoring).
  The dump reads each ProfileList account's hive (``user_keys``). A user key with ``InstallDir`` is a
  per-user install: it is reported as a host warning and never probed, because its files belong to
  that user, and the admin run must not start a Python a user can replace (the same rule as
  startup_bridge's ``secure_pythons``). A user key without ``InstallDir`` is that user's settings for a
  machine-wide Pro (e.g. their own PythonCondaEnv) and is kept in the dump only.
- ArcGIS Server: ``ESRI\\ArcGIS_SXS_Server`` (the key Esri's PowerShell DSC module reads); 10.x uses
  ``<PythonDir>\\ArcGISx64<maj.min>``, 11.x the Pro runtime under ``framework\\runtime\\ArcGIS``.
- Cross-check: the Uninstall entries whose Publisher is "Environmental Systems Research Institute,
  Inc." (the vendor test Esri's own DSC module uses).

Pure functions on plain data; paths are Windows paths handled with ``ntpath`` on the controller.
"""

from __future__ import annotations

import json
import ntpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_release

ESRI_PUBLISHER = "Environmental Systems Research Institute, Inc."
VIEW_64 = "64"
VIEW_32 = "32"
PRODUCT_ORDER = ("desktop", "desktop_bgp", "pro", "server")
PRODUCT_TITLES = {
    "desktop": "ArcGIS Desktop",
    "desktop_bgp": "ArcGIS Desktop Background Geoprocessing (64-bit)",
    "pro": "ArcGIS Pro",
    "server": "ArcGIS Server",
}
# Uninstall DisplayName per product (best knowledge of Esri's names; all anchored so that extensions
# such as "ArcGIS Data Interoperability for Desktop" do not count as Desktop itself).
UNINSTALL_NAMES = {
    "desktop": re.compile(r"^ArcGIS\s+(?:[\d.]+\s+for\s+Desktop|Desktop(?:\s+[\d.]+)?)\s*$", re.I),
    "desktop_bgp": re.compile(r"Background\s+Geoprocessing", re.I),
    "pro": re.compile(r"^ArcGIS\s+Pro(?:\s+[\d.]+)?\s*$", re.I),
    "server": re.compile(r"^ArcGIS\s+(?:[\d.]+\s+for\s+Server|(?:for\s+)?Server)(?:\s+[\d.]+)?\s*$", re.I),
}
DESKTOP_KEY = re.compile(r"^Desktop(\d+\.\d+)$", re.I)
PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SERVER_KEY = "ArcGIS_SXS_Server"
PRO_KEY = "ArcGISPro"
PRO_DEFAULT_ENV = "arcgispro-py3"
SERVER_11_PYTHON = ("framework", "runtime", "ArcGIS", "bin", "Python", "envs", PRO_DEFAULT_ENV, "python.exe")
STDERR_TAIL = 800


class DumpError(ValueError):
    """The registry dump does not have the shape the registry script produces."""


@dataclass(frozen=True)
class RegistryKey:
    view: str
    name: str
    values: Mapping[str, str]

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    @property
    def path(self) -> str:
        prefix = "HKLM\\SOFTWARE\\WOW6432Node\\ESRI" if self.view == VIEW_32 else "HKLM\\SOFTWARE\\ESRI"
        return f"{prefix}\\{self.name}"


@dataclass(frozen=True)
class UninstallEntry:
    view: str
    key: str
    name: str
    version: str
    location: str | None


@dataclass(frozen=True)
class PythonDir:
    root: str
    name: str
    has_python: bool
    # host_read entries (owner, ACL) of the folder above, the folder and what it was asked to read there.
    security: tuple[Mapping[str, Any], ...] = ()

    @property
    def path(self) -> str:
        return ntpath.join(self.root, self.name)


@dataclass(frozen=True)
class UserKey:
    """``Software\\ESRI\\ArcGISPro`` of one account's hive (HKEY_USERS\\<sid>, or its NTUSER.DAT)."""

    sid: str
    profile: str
    loaded: bool
    values: Mapping[str, str]
    error: str | None = None

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    @property
    def path(self) -> str:
        return f"HKU\\{self.sid}\\Software\\ESRI\\ArcGISPro"


@dataclass(frozen=True)
class RegistryDump:
    os_64bit: bool
    esri_keys: tuple[RegistryKey, ...]
    uninstall: tuple[UninstallEntry, ...]
    python_dirs: tuple[PythonDir, ...]
    user_keys: tuple[UserKey, ...] = ()

    def key(self, name: str, view: str) -> RegistryKey | None:
        for key in self.esri_keys:
            if key.view == view and key.name.lower() == name.lower():
                return key
        return None

    def folder(self, name: str, roots: Iterable[str | None] = ()) -> PythonDir | None:
        """The ArcGIS* folder called name, preferring one under the given roots."""
        wanted = [_norm(root) for root in roots if root]
        matches = [d for d in self.python_dirs if d.name.lower() == name.lower()]
        matches.sort(key=lambda d: (_norm(d.root) not in wanted, not d.has_python))
        return matches[0] if matches else None


@dataclass
class Install:
    """One ArcGIS Python the host has, as the registry describes it (before running the probe)."""

    product: str
    version: str
    bits: int
    install_dir: str | None
    python_exe: str | None
    pro_conda_root: str | None = None
    pro_conda_env: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.product}-{self.version}-{self.bits}"

    @property
    def title(self) -> str:
        return f"{PRODUCT_TITLES[self.product]} {self.version}"


@dataclass(frozen=True)
class ProbeRun:
    """What the host reported for one interpreter: exit code and output, or why it could not run."""

    python: str
    rc: int | None
    stdout: str
    stderr: str
    error: str | None


def _norm(path: str | None) -> str:
    return ntpath.normcase(ntpath.normpath(path)) if path else ""


def _major_minor(version: str | None) -> str | None:
    match = re.match(r"^\s*(\d+)\.(\d+)", version or "")
    return f"{int(match.group(1))}.{int(match.group(2))}" if match else None


def _release_version(raw: str | None, fallback: str) -> str:
    """'10.4.1' stays; Pro's 'Version' value '3.4.0.55405' becomes '3.4.0'."""
    parts = (raw or "").strip().split(".")
    if len(parts) >= 2 and all(part.isdigit() for part in parts):
        return ".".join(parts[:3])
    return fallback


def _as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [value]  # PowerShell unrolls a one-element list on some paths
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    raise DumpError(f"{what} should be a list, got {type(value).__name__}")


def _values(raw: Any, what: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise DumpError(f"{what} should be a mapping of value names to strings")
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def parse_registry_dump(raw: Any) -> RegistryDump:
    """Validate and normalise what the registry script returned (``win_powershell``'s ``result``)."""
    if not isinstance(raw, Mapping):
        raise DumpError(f"the registry dump should be a mapping, got {type(raw).__name__}")
    keys = []
    for item in _as_list(raw.get("esri_keys"), "esri_keys"):
        if not isinstance(item, Mapping) or "name" not in item:
            raise DumpError(f"esri_keys item without a name: {item!r}")
        keys.append(
            RegistryKey(
                str(item.get("view", VIEW_64)), str(item["name"]), _values(item.get("values"), "values")
            )
        )
    uninstall = []
    for item in _as_list(raw.get("uninstall"), "uninstall"):
        values = _values(item.get("values") if isinstance(item, Mapping) else None, "uninstall values")
        if values.get("Publisher", ESRI_PUBLISHER) != ESRI_PUBLISHER or not values.get("DisplayName"):
            continue
        uninstall.append(
            UninstallEntry(
                str(item.get("view", VIEW_64)),
                str(item.get("key", "")),
                values["DisplayName"].strip(),
                values.get("DisplayVersion", "").strip(),
                values.get("InstallLocation") or None,
            )
        )
    dirs = []
    for item in _as_list(raw.get("python_dirs"), "python_dirs"):
        if not isinstance(item, Mapping) or not item.get("root") or not item.get("name"):
            raise DumpError(f"python_dirs item needs root and name: {item!r}")
        security = tuple(e for e in item.get("security") or [] if isinstance(e, Mapping))
        dirs.append(PythonDir(str(item["root"]), str(item["name"]), bool(item.get("has_python")), security))
    users = []
    for item in _as_list(raw.get("user_keys"), "user_keys"):
        if not isinstance(item, Mapping) or not item.get("sid"):
            raise DumpError(f"user_keys item without a sid: {item!r}")
        users.append(
            UserKey(
                str(item["sid"]),
                str(item.get("profile") or ""),
                bool(item.get("loaded", True)),
                _values(item.get("values"), "user_keys values"),
                str(item["error"]) if item.get("error") else None,
            )
        )
    return RegistryDump(
        bool(raw.get("os_64bit", True)), tuple(keys), tuple(uninstall), tuple(dirs), tuple(users)
    )


def _uninstall_match(dump: RegistryDump, product: str, version: str) -> UninstallEntry | None:
    wanted = _major_minor(version)
    for entry in dump.uninstall:
        if (
            UNINSTALL_NAMES[product].search(entry.name)
            and _major_minor(entry.version or entry.name) == wanted
        ):
            return entry
    return None


def _desktop_installs(dump: RegistryDump) -> list[Install]:
    installs: list[Install] = []
    view = VIEW_32  # ArcMap is 32-bit: WOW6432Node on 64-bit Windows, the only view on 32-bit Windows
    arcgis_key = dump.key("ArcGIS", view)
    for key in sorted(dump.esri_keys, key=lambda k: k.name):
        match = DESKTOP_KEY.match(key.name)
        if key.view != view or not match:
            continue
        major_minor = match.group(1)
        version = key.get("RealVersion")
        if not version and arcgis_key and _major_minor(arcgis_key.get("RealVersion")) == major_minor:
            version = arcgis_key.get("RealVersion")
        desktop = Install("desktop", _release_version(version, major_minor), 32, key.get("InstallDir"), None)
        python_key = dump.key(f"Python{major_minor}", view)
        python_root = python_key.get("PythonDir") if python_key else None
        folder = dump.folder(f"ArcGIS{major_minor}", [python_root])
        if python_root:
            desktop.python_exe = ntpath.join(python_root, f"ArcGIS{major_minor}", "python.exe")
        elif folder and folder.has_python:
            desktop.python_exe = ntpath.join(folder.path, "python.exe")
            desktop.problems.append(
                f"registry key {view}-bit SOFTWARE\\ESRI\\Python{major_minor} is missing; using the "
                f"Python found at {folder.path}"
            )
        else:
            desktop.problems.append(
                f"no Python for {desktop.title}: registry key SOFTWARE\\ESRI\\Python{major_minor} is missing "
                f"and no ArcGIS{major_minor} folder with python.exe was found; repair the ArcGIS install"
            )
        installs.append(desktop)
        installs.extend(_bgp_install(dump, desktop, major_minor, python_root))
    return installs


def _bgp_install(
    dump: RegistryDump, desktop: Install, major_minor: str, python_root: str | None
) -> list[Install]:
    key64 = dump.key(f"Python{major_minor}", VIEW_64) if dump.os_64bit else None
    roots = [python_root, key64.get("PythonDir") if key64 else None]
    folder = dump.folder(f"ArcGISx64{major_minor}", roots)
    entry = _uninstall_match(dump, "desktop_bgp", desktop.version)
    server_key = dump.key(SERVER_KEY, VIEW_64)
    server_same_release = bool(
        server_key and _major_minor(server_key.get("RealVersion")) == major_minor and not entry
    )
    if server_same_release or not (entry or (folder and folder.has_python)):
        return []
    bgp = Install("desktop_bgp", desktop.version, 64, entry.location if entry else None, None)
    if folder and folder.has_python:
        bgp.python_exe = ntpath.join(folder.path, "python.exe")
        if not entry:
            bgp.problems.append(
                f"{folder.path} holds a 64-bit Python but Windows lists no Background Geoprocessing install "
                f"from Esri (a folder left behind by an uninstall?)"
            )
    else:
        bgp.problems.append(
            f"Windows lists '{entry.name if entry else ''}' but no ArcGISx64{major_minor} folder with "
            f"python.exe was found; repair the Background Geoprocessing install"
        )
    return [bgp]


def _pro_install(dump: RegistryDump) -> list[Install]:
    key = dump.key(PRO_KEY, VIEW_64) or (None if dump.os_64bit else dump.key(PRO_KEY, VIEW_32))
    if key is None:
        return []
    version = _release_version(key.get("RealVersion") or key.get("Version"), "unknown")
    install_dir = key.get("InstallDir")
    root = key.get("PythonCondaRoot") or (ntpath.join(install_dir, "bin", "Python") if install_dir else None)
    env = key.get("PythonCondaEnv") or PRO_DEFAULT_ENV
    pro = Install("pro", version, 64, install_dir, None, pro_conda_root=root, pro_conda_env=env)
    if root:
        # Whatever env is active (a name under envs\ or a clone's full path), Esri's own env holds the pins.
        pro.python_exe = ntpath.join(root, "envs", PRO_DEFAULT_ENV, "python.exe")
    else:
        pro.problems.append(f"{key.path} has neither PythonCondaRoot nor InstallDir; repair ArcGIS Pro")
    if version == "unknown":
        pro.problems.append(f"{key.path} has no RealVersion or Version value")
    return [pro]


def _profile_name(user: UserKey) -> str:
    return ntpath.basename(user.profile.rstrip("\\")) or user.sid


def user_install_warnings(dump: RegistryDump) -> list[str]:
    """Per-user Pro installs (found, never probed: see the module docstring) and unreadable hives."""
    warnings = []
    for user in dump.user_keys:
        if user.error:
            warnings.append(
                f"could not read the registry hive of {_profile_name(user)} ({user.sid}, {user.profile}) to "
                f"look for a per-user ArcGIS Pro: {user.error}"
            )
        if not user.get("InstallDir"):
            continue
        version = _release_version(user.get("RealVersion") or user.get("Version"), "unknown")
        warnings.append(
            f"{PRODUCT_TITLES['pro']} {version} is installed for {_profile_name(user)} only ({user.path}, "
            f"InstallDir {user.get('InstallDir')}): its files are that user's, so the fleet never runs its "
            "Python as administrator and manages nothing for it. Fix: uninstall it and install Pro per "
            "machine (ALLUSERS=1), as a lab workstation needs"
        )
    return warnings


def _server_install(dump: RegistryDump) -> list[Install]:
    key = dump.key(SERVER_KEY, VIEW_64)
    if key is None:
        return []
    version = _release_version(key.get("RealVersion"), "unknown")
    install_dir = key.get("InstallDir")
    server = Install("server", version, 64, install_dir, None)
    major_minor = _major_minor(version)
    if major_minor and int(major_minor.split(".", maxsplit=1)[0]) >= 11:
        root, env = key.get("PythonCondaRoot"), key.get("PythonCondaEnv") or PRO_DEFAULT_ENV
        if root:
            server.python_exe = ntpath.join(root, "envs", env, "python.exe")
        elif install_dir:
            server.python_exe = ntpath.join(install_dir, *SERVER_11_PYTHON)
    elif major_minor:
        python_key = dump.key(f"Python{major_minor}", VIEW_64)
        root = python_key.get("PythonDir") if python_key else None
        folder = dump.folder(f"ArcGISx64{major_minor}", [root])
        if root:
            server.python_exe = ntpath.join(root, f"ArcGISx64{major_minor}", "python.exe")
        elif folder and folder.has_python:
            server.python_exe = ntpath.join(folder.path, "python.exe")
    if server.python_exe is None:
        server.problems.append(f"no Python found for {server.title} ({key.path}); repair ArcGIS Server")
    return [server]


def find_installs(dump: RegistryDump) -> tuple[list[Install], list[str]]:
    """Every ArcGIS Python the registry describes, plus host-level warnings (orphan Uninstall entries)."""
    candidates = _desktop_installs(dump) + _pro_install(dump) + _server_install(dump)
    installs: list[Install] = []
    by_python: dict[str, Install] = {}
    for install in sorted(candidates, key=lambda i: PRODUCT_ORDER.index(i.product)):
        entry = _uninstall_match(dump, install.product, install.version)
        if entry is None and install.product != "desktop_bgp":
            install.problems.append(
                f"the registry says {install.title} is installed but Windows lists no matching uninstall "
                f"entry from {ESRI_PUBLISHER} (keys left behind by an uninstall?)"
            )
        if install.install_dir is None and entry and entry.location:
            install.install_dir = entry.location
        seen = by_python.get(_norm(install.python_exe)) if install.python_exe else None
        if seen is not None:
            seen.problems.append(f"{install.python_exe} also serves {install.title}")
            continue
        if install.python_exe:
            by_python[_norm(install.python_exe)] = install
        installs.append(install)
    warnings = []
    for entry in dump.uninstall:
        product = next((p for p in PRODUCT_ORDER if UNINSTALL_NAMES[p].search(entry.name)), None)
        if product is None:
            continue  # extensions, License Manager, tutorials: not a Python of their own
        if not any(
            i.product == product and _major_minor(i.version) == _major_minor(entry.version)
            for i in candidates
        ):
            warnings.append(
                f"Windows lists '{entry.name}' {entry.version} from {ESRI_PUBLISHER} as installed, but "
                f"its SOFTWARE\\ESRI registry keys are missing, so its Python cannot be found; repair it"
            )
    return installs, warnings + user_install_warnings(dump)


def probe_targets(installs: Iterable[Install]) -> list[str]:
    """The interpreters to run the probe with, once each."""
    targets: dict[str, str] = {}
    for install in installs:
        if install.python_exe:
            targets.setdefault(_norm(install.python_exe), install.python_exe)
    return list(targets.values())


def validate_packages(packages: Iterable[str]) -> list[str]:
    """Package names safe to pass on a command line; raises ValueError naming the bad one."""
    result = []
    for name in packages:
        if not isinstance(name, str) or not PACKAGE_NAME.match(name):
            raise ValueError(f"{name!r} is not a package name (letters, digits, '.', '_', '-')")
        if name not in result:
            result.append(name)
    return result


def parse_runs(raw: Any) -> dict[str, ProbeRun]:
    """The probe runner's result, keyed by normalised interpreter path."""
    runs = {}
    items = raw.get("runs") if isinstance(raw, Mapping) else raw
    for item in _as_list(items, "runs"):
        if not isinstance(item, Mapping) or not item.get("python"):
            raise DumpError(f"probe run without a python path: {item!r}")
        rc = item.get("rc")
        runs[_norm(str(item["python"]))] = ProbeRun(
            str(item["python"]),
            int(rc) if rc is not None else None,
            str(item.get("stdout") or ""),
            str(item.get("stderr") or ""),
            str(item["error"]) if item.get("error") else None,
        )
    return runs


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= STDERR_TAIL else "..." + text[-STDERR_TAIL:]


def parse_probe_output(run: ProbeRun | None) -> tuple[dict[str, Any] | None, str | None]:
    """(report, None) for a good run, (None, why it is broken) otherwise."""
    if run is None:
        return None, "the probe was not run for this interpreter"
    if run.error:
        return None, f"could not run {run.python}: {run.error}"
    if run.rc != 0:
        detail = _tail(run.stderr) or _tail(run.stdout) or "no output"
        return None, f"{run.python} exited with code {run.rc}: {detail}"
    # A sitecustomize/usercustomize may print first: the report is the last JSON object line.
    for line in reversed(run.stdout.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            report = json.loads(line)
        except ValueError:
            continue
        if isinstance(report, dict) and isinstance(report.get("python"), dict):
            return report, None
    return None, f"{run.python} did not print the probe's JSON report: {_tail(run.stdout) or 'no output'}"


def drift_problems(
    install: Install, measured: Mapping[str, str | None], python_major_minor: str | None
) -> list[str]:
    """Where the measured stack differs from what the release shipped (never fatal; see arcgis_release)."""
    if install.product == "server":
        return []
    try:
        release = arcgis_release.lookup_release(install.version, install.product)
    except arcgis_release.UnknownRelease as exc:
        return [f"no drift check: {exc}"]
    shipped = release.as_dict(install.product)
    unverified = set(release.unverified)
    problems = []
    pairs = [("python", python_major_minor)] + [
        (name, measured[name]) for name in arcgis_release.STACK_PACKAGES if name in measured
    ]
    for name, value in pairs:
        expected = shipped[name]
        if expected is None or value == expected:
            continue
        note = " (table value from a community source, unverified)" if name in unverified else ""
        found = f"{name} {value}" if value else f"{name} is missing"
        problems.append(f"drift: {found}, but {install.title} shipped {name} {expected}{note}")
    return problems


def build_facts(
    installs: Iterable[Install],
    runs: Mapping[str, ProbeRun],
    packages: Sequence[str],
    not_run: Mapping[str, tuple[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """The ``ansible_facts.arcgis`` list (see the facts contract in the README). ``not_run``: the Pythons
    the guard kept from running (python.exe -> (status ``unsafe`` or ``unsecured``, why))."""
    facts = []
    held_back = {_norm(path): value for path, value in (not_run or {}).items()}
    for install in installs:
        problems = list(install.problems)
        held = held_back.get(_norm(install.python_exe)) if install.python_exe else None
        report, broken = (
            (None, "no python.exe to run")
            if not install.python_exe
            else (None, held[1])
            if held
            else parse_probe_output(runs.get(_norm(install.python_exe)))
        )
        python: dict[str, Any] = report.get("python", {}) if report else {}
        measured_raw = report.get("packages") if report and isinstance(report.get("packages"), dict) else {}
        measured = {name: measured_raw.get(name) for name in packages}
        version = python.get("version")
        major_minor = _major_minor(version)
        if broken:
            problems.append(broken)
        else:
            bits = python.get("bits")
            if bits and bits != install.bits:
                problems.append(
                    f"{install.python_exe} is {bits}-bit, {install.title} should be {install.bits}-bit"
                )
            executable = python.get("executable")
            if executable and _norm(executable) != _norm(install.python_exe):
                problems.append(f"{install.python_exe} reports sys.executable {executable}")
            problems.extend(drift_problems(install, measured, major_minor))
        facts.append(
            {
                "id": install.id,
                "product": install.product,
                "version": install.version,
                "install_dir": install.install_dir,
                "python_exe": install.python_exe,
                "python_version": version,
                "python_major_minor": major_minor,
                "bits": python.get("bits") or install.bits,
                "prefix": python.get("prefix"),
                "site_packages": list(python.get("site_packages") or []),
                "user_site": python.get("user_site"),
                "user_site_enabled": bool(python.get("user_site_enabled")) if python else None,
                "packages": measured,
                "pro_conda_root": install.pro_conda_root,
                "pro_conda_env": install.pro_conda_env,
                "status": held[0] if held else "broken" if broken else "ok",
                "problems": problems,
            }
        )
    return facts
