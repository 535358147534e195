"""Every decision of the miniconda role, as pure functions: plain data in, plain data out.

Which Miniconda each ArcGIS Python gets (flavour), where it goes (prefix), which installer file and
SHA-256 verify it, the installer's command line, where the installer comes from, what the system-wide
``C:\\ProgramData\\conda\\.condarc`` says, and, after the run, whether an install is complete.

Called by the fleet's plan step (``arcgis_conda.fleet.fleet_plan``, through ``fleet_flow``) and its verify
judge (``judge_install``). No Ansible imports: unit-tested as plain Python. Errors are :class:`PlanError`
with a message naming the variable, the bad value and the fix; the plan prefixes the host name.
"""

from __future__ import annotations

import ntpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import package_sources as ps
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import PlanError

# --- Flavours ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flavour:
    """One kind of Miniconda: Python major version of its base, and its bitness."""

    name: str
    major: int
    bits: int

    @property
    def product(self) -> str:
        """Installer product name; also names the uninstaller ``Uninstall-<product>.exe``."""
        return f"Miniconda{self.major}"

    @property
    def arch(self) -> str:
        return "x86" if self.bits == 32 else "x64"

    @property
    def label(self) -> str:
        return f"{self.product} {self.arch}"

    @property
    def file_suffix(self) -> str:
        """How this flavour's installer file names end in the official archive."""
        return "-Windows-x86.exe" if self.bits == 32 else "-Windows-x86_64.exe"


FLAVOURS: dict[str, Flavour] = {
    f.name: f
    for f in (
        Flavour("miniconda2-x86", 2, 32),
        Flavour("miniconda2-x64", 2, 64),
        Flavour("miniconda3-x86", 3, 32),
        Flavour("miniconda3-x64", 3, 64),
    )
}
NO_FLAVOUR = "none"

# When an ArcGIS Python is broken (no python_major_minor), the flavour follows the product:
# Desktop 10.x is 32-bit Python 2.7; its Background Geoprocessing and Server 10.x are 64-bit Python 2.7;
# Pro, and Server from 10.9 on, run 64-bit Python 3.
_PRODUCT_PYTHON: dict[str, tuple[int, int]] = {
    "desktop": (2, 32),
    "desktop_bgp": (2, 64),
    "pro": (3, 64),
}

DEFAULT_PREFIXES: dict[str, str] = {
    "miniconda2-x86": "C:\\Miniconda2",
    "miniconda2-x64": "C:\\Miniconda2x64",
    "miniconda3-x86": "C:\\Miniconda3x86",
    "miniconda3-x64": "C:\\Miniconda3",
}

# --- Installers ----------------------------------------------------------------------------------------

OFFICIAL_ARCHIVE = "https://repo.anaconda.com/miniconda/"
_HASHES_RST = "conda/conda-docs docs/source/miniconda_hashes.rst"
_MINICONDA_RST = "conda/conda-docs docs/source/miniconda.rst"


@dataclass(frozen=True)
class Installer:
    """A known installer file in the official archive and the SHA-256 published for it (None: unverified)."""

    flavour: str
    version: str
    file: str
    sha256: str | None
    python_major_minor: str
    source: str


# SHA-256 values copied from Anaconda's own published tables (the `source` of each row); never guessed.
# 32-bit Miniconda3 stops at 4.12.0; Miniconda2's last release is py27_4.8.3 (it is what
# Miniconda2-latest-Windows-*.exe carries: same SHA-256 in both tables).
INSTALLERS: tuple[Installer, ...] = (
    Installer(
        "miniconda2-x86",
        "4.8.3",
        "Miniconda2-py27_4.8.3-Windows-x86.exe",
        "c8049d26f8b6b954b57bcd4e99ad72d1ffa13f4a6b218e64e641504437b2617b",
        "2.7",
        _HASHES_RST,
    ),
    Installer(
        "miniconda2-x64",
        "4.8.3",
        "Miniconda2-py27_4.8.3-Windows-x86_64.exe",
        "6973025404832944e074bf02bda8c4594980eeed4707bb51baa8fbdba4bf326c",
        "2.7",
        _HASHES_RST,
    ),
    Installer(
        "miniconda2-x86",
        "4.7.12.1",
        "Miniconda2-4.7.12.1-Windows-x86.exe",
        "0d106228d6a4610b599df965dd6d9bb659329a17e3d693e3274b20291a7c6f94",
        "2.7",
        _HASHES_RST,
    ),
    Installer(
        "miniconda2-x64",
        "4.7.12.1",
        "Miniconda2-4.7.12.1-Windows-x86_64.exe",
        "8647c54058f11842c37854edeff4d20bc1fbdad8b88d9d34d76fda1630e64846",
        "2.7",
        _HASHES_RST,
    ),
    Installer(
        "miniconda3-x86",
        "4.12.0",
        "Miniconda3-py39_4.12.0-Windows-x86.exe",
        "4fb64e6c9c28b88beab16994bfba4829110ea3145baa60bda5344174ab65d462",
        "3.9",
        _MINICONDA_RST,
    ),
    Installer(
        "miniconda3-x64",
        "4.12.0",
        "Miniconda3-py39_4.12.0-Windows-x86_64.exe",
        "1acbc2e8277ddd54a5f724896c7edee112d068529588d944702966c867e7e9cc",
        "3.9",
        _MINICONDA_RST,
    ),
    Installer(
        "miniconda3-x64",
        "23.5.2-0",
        "Miniconda3-py311_23.5.2-0-Windows-x86_64.exe",
        "00e8370542836862d4c790aa8966f1d7344a8addd4b766004febcb23f40e2914",
        "3.11",
        _MINICONDA_RST,
    ),
    # The file name is in Anaconda's install docs; its SHA-256 was not found in a source we could read:
    # usable only with the checksum given in miniconda_checksums.
    Installer(
        "miniconda3-x64",
        "24.5.0-0",
        "Miniconda3-py312_24.5.0-0-Windows-x86_64.exe",
        None,
        "3.12",
        "unverified: no published SHA-256 found",
    ),
)

# Before the Anaconda ToS plugin (2025) and with conda-libmamba-solver available; 32-bit and Python 2.7
# flavours are the last releases there are.
DEFAULT_VERSIONS: dict[str, str] = {
    "miniconda2-x86": "4.8.3",
    "miniconda2-x64": "4.8.3",
    "miniconda3-x86": "4.12.0",
    "miniconda3-x64": "23.5.2-0",
}

# --- Paths ---------------------------------------------------------------------------------------------

# Upstream: a prefix of about 118 characters or more gives an incomplete install with exit code 0
# (conda/conda#10501); we keep a margin below it.
MAX_PREFIX_CHARS = 100
# The installer's own interactive check when Windows long paths are disabled (constructor main.nsi.tmpl).
INSTALLER_WARN_CHARS = 46
# Characters the installer refuses anywhere in the destination (constructor main.nsi.tmpl).
_INSTALLER_BAD_CHARS = "^%!=,"
_OTHER_BAD_CHARS = "\"'<>|?*;&()[]{}`$#@~"
_DRIVE_PATH = re.compile(r"^[A-Za-z]:\\[^\\]")
_DRIVE_ANY = re.compile(r"^[A-Za-z]:[\\/]")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_CONDARC_KEY = re.compile(r"^[a-z][a-z0-9_]*$")

CONDARC_PATH = "C:\\ProgramData\\conda\\.condarc"
# A condarc found before this role first wrote one is kept here (conda does not read this name) and put
# back by state=absent.
CONDARC_ORIGINAL = CONDARC_PATH + ".before-arcgis-conda-fleet"
CONDARC_MARKER = "# Managed by arcgis_conda.fleet (role miniconda)."
INSTALL_MARKER_NAME = ".arcgis-conda-fleet"
# Written into the (admin-only) installer folder before the installer runs: the evidence that this fleet
# started the install, so a run that lost the connection after the installer (no marker) is finished later.
STARTED_SUFFIX = ".install-started.json"


def started_record(download_dir: str, flavour: str) -> str:
    return ntpath.join(download_dir, f"{flavour}{STARTED_SUFFIX}")


DEFAULT_DOWNLOAD_DIR = "C:\\ProgramData\\arcgis-conda\\installers"
# SSL settings belong to the doi_cert role (its own file in C:\ProgramData\conda\condarc.d).
_DOI_CERT_KEYS = ("ssl_verify", "client_ssl_cert", "client_ssl_cert_key")
_MANAGED_CONDARC_KEYS = (
    "channels",
    "default_channels",
    "proxy_servers",
    "remote_max_retries",
    "remote_connect_timeout_secs",
    "remote_read_timeout_secs",
)


# --- Flavour choice ------------------------------------------------------------------------------------


def flavour_name(major: int, bits: int) -> str:
    return f"miniconda{major}-{'x86' if bits == 32 else 'x64'}"


def check_flavour(value: object, where: str) -> Flavour:
    """Return the flavour called ``value`` or raise naming ``where`` it came from."""
    if isinstance(value, str) and value in FLAVOURS:
        return FLAVOURS[value]
    raise PlanError(f"{where} = {value!r} is not a Miniconda flavour. Fix: use one of {', '.join(FLAVOURS)}.")


def _major_of(python_major_minor: object) -> int | None:
    if not isinstance(python_major_minor, str):
        return None
    match = re.match(r"^(\d+)\.\d+", python_major_minor)
    return int(match.group(1)) if match else None


def natural_flavour(install: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The flavour whose Python matches one ArcGIS install, and any warnings about how it was decided.

    The env made later must load into ArcGIS's own interpreter (the startup bridge), so its Python major
    version and bitness must match: 64-bit Background Geoprocessing needs a 64-bit Python 2.7.
    """
    ident = install.get("id", "?")
    warnings: list[str] = []
    bits = install.get("bits")
    major = _major_of(install.get("python_major_minor"))
    product = install.get("product")
    if major is None:
        fallback = _PRODUCT_PYTHON.get(str(product))
        if product == "server":
            version = str(install.get("version") or "")
            fallback = (2, 64) if _version_tuple(version) < (10, 9) else (3, 64)
        if fallback is None:
            raise PlanError(
                f"ArcGIS install {ident!r} has no Python version (status "
                f"{install.get('status')!r}) and an unknown product {product!r}, so no flavour can be "
                "chosen. Fix: repair that ArcGIS Python, or set miniconda_flavour_overrides "
                f"{{{ident!r}: <flavour or none>}}."
            )
        major = fallback[0]
        if bits not in (32, 64):
            bits = fallback[1]
        warnings.append(
            f"ArcGIS install {ident!r}: its Python did not answer; flavour "
            f"{flavour_name(major, int(bits))} chosen from its product {product!r}."
        )
    if major not in (2, 3):
        raise PlanError(
            f"ArcGIS install {ident!r} reports Python {install.get('python_major_minor')!r}; only Python 2 "
            "and 3 have a Miniconda. Fix: set miniconda_flavour_overrides "
            f"{{{ident!r}: none}} to leave it out."
        )
    if bits not in (32, 64):
        raise PlanError(
            f"ArcGIS install {ident!r} reports bits = {bits!r}; expected 32 or 64. Fix: re-run the probe "
            f"(arcgis_conda.fleet.arcgis_facts) or set miniconda_flavour_overrides {{{ident!r}: <flavour>}}."
        )
    if major == 2 and install.get("python_major_minor") not in (None, "2.7"):
        warnings.append(
            f"ArcGIS install {ident!r} runs Python {install.get('python_major_minor')}; Miniconda2 "
            "serves it, but its env will need the old `free` channel."
        )
    return flavour_name(major, int(bits)), warnings


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = re.findall(r"\d+", version)
    return tuple(int(p) for p in parts[:3]) if parts else (0,)


@dataclass
class Assignment:
    """One Miniconda flavour to install, and the ArcGIS installs (ids) it serves."""

    flavour: str
    arcgis_ids: list[str] = field(default_factory=list)


def choose_flavours(
    arcgis: Sequence[Mapping[str, Any]] | None,
    explicit: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
) -> tuple[list[Assignment], list[str]]:
    """Decide which flavours a host gets, in flavour order, and which ArcGIS ids each serves.

    ``arcgis`` is ``ansible_facts.arcgis`` (None when no probe ran). ``explicit`` (miniconda_flavours)
    replaces the automatic choice; ``overrides`` (miniconda_flavour_overrides) maps an ArcGIS id or
    product to a flavour or ``none``; an id wins over a product.
    """
    overrides = dict(overrides or {})
    warnings: list[str] = []
    for key, value in overrides.items():
        if value != NO_FLAVOUR:
            check_flavour(value, f"miniconda_flavour_overrides[{key!r}]")
    chosen_explicit = [check_flavour(v, "miniconda_flavours").name for v in explicit]

    if arcgis is None:
        if not chosen_explicit:
            raise PlanError(
                "no ArcGIS probe ran (ansible_facts.arcgis is undefined) and miniconda_flavours is empty, "
                "so there is nothing to decide from. Fix: run arcgis_conda.fleet.arcgis_facts first "
                "(site.yml does), or set miniconda_flavours, e.g. [miniconda2-x86]."
            )
        if overrides:
            warnings.append("miniconda_flavour_overrides ignored: no ArcGIS probe ran on this host.")
        return [Assignment(name) for name in _ordered(chosen_explicit)], warnings

    if not isinstance(arcgis, Sequence) or isinstance(arcgis, str):
        raise PlanError(
            f"ansible_facts.arcgis = {arcgis!r} is not a list. Fix: re-run arcgis_conda.fleet.arcgis_facts."
        )
    served: dict[str, list[str]] = {}
    known_keys: set[str] = set()
    for install in arcgis:
        ident = str(install.get("id"))
        product = str(install.get("product"))
        known_keys.update((ident, product))
        if ident in overrides:
            wanted = overrides[ident]
        elif product in overrides:
            wanted = overrides[product]
        else:
            wanted = None
        natural: str | None
        try:
            natural, notes = natural_flavour(install)
        except PlanError:
            if wanted is None:
                raise
            natural, notes = None, []
        if wanted == NO_FLAVOUR:
            warnings.append(f"ArcGIS install {ident!r} left without Miniconda (miniconda_flavour_overrides).")
            continue
        if wanted is not None and natural is not None and wanted != natural and _python_known(install):
            raise PlanError(
                f"miniconda_flavour_overrides gives ArcGIS install {ident!r} flavour {wanted!r}, but its "
                f"Python is {install.get('python_major_minor')} {install.get('bits')}-bit, which needs "
                f"{natural!r}: an env of another Python or bitness cannot load into it. Fix: use {natural!r} "
                f"or none for {ident!r}."
            )
        flavour = wanted or natural
        if flavour is None:  # natural is None only when wanted is set
            raise AssertionError(f"miniconda: no flavour for ArcGIS install {ident!r}")
        warnings.extend(notes)
        if chosen_explicit and flavour not in chosen_explicit:
            warnings.append(
                f"ArcGIS install {ident!r} needs {flavour}, which miniconda_flavours leaves out; "
                "it gets no Miniconda."
            )
            continue
        served.setdefault(flavour, []).append(ident)
    for key in overrides:
        if key not in known_keys:
            warnings.append(f"miniconda_flavour_overrides key {key!r} matches no ArcGIS install here.")
    names = _ordered(set(served) | set(chosen_explicit))
    return [Assignment(name, served.get(name, [])) for name in names], warnings


def _python_known(install: Mapping[str, Any]) -> bool:
    return _major_of(install.get("python_major_minor")) is not None and install.get("bits") in (32, 64)


def _ordered(names: Sequence[str] | set[str]) -> list[str]:
    return [name for name in FLAVOURS if name in set(names)]


def check_os_bits(flavours: Sequence[str], os_bits: int) -> None:
    """A 64-bit Miniconda cannot run on 32-bit Windows (its installer refuses, in a dialog nobody sees)."""
    for name in flavours:
        if FLAVOURS[name].bits == 64 and os_bits == 32:
            raise PlanError(
                f"flavour {name} is 64-bit but this Windows is 32-bit. Fix: use "
                f"{flavour_name(FLAVOURS[name].major, 32)} (set miniconda_flavours or "
                "miniconda_flavour_overrides), or leave that ArcGIS install out with none."
            )


def os_bits_from(architecture: object) -> int:
    """Bits of Windows from ansible_architecture2 (x86_64, i386, arm64) or PROCESSOR_ARCHITECTURE."""
    value = str(architecture or "").strip().lower()
    if value in ("x86_64", "amd64", "arm64", "64-bit", "ia64"):
        return 64
    if value in ("i386", "x86", "32-bit"):
        return 32
    raise PlanError(
        f"cannot tell whether Windows is 32- or 64-bit from {architecture!r}. Fix: check the registry value "
        "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment\\PROCESSOR_ARCHITECTURE."
    )


# --- Paths ---------------------------------------------------------------------------------------------


def normalize_windows_path(raw: str) -> str:
    """Forward slashes to backslashes, doubled ones (a YAML plain scalar keeps ``C:\\\\x`` as typed) made
    single except a UNC path's leading pair, trailing ones dropped (``/D=`` with one exits 2)."""
    path = raw.strip().replace("/", "\\")
    lead = "\\\\" if path.startswith("\\\\") else ""
    path = lead + re.sub(r"\\{2,}", r"\\", path[len(lead) :])
    while path.endswith("\\") and len(path) > 3:
        path = path[:-1]
    return path


def check_prefix(raw: object, where: str) -> tuple[str, list[str]]:
    """Validate one install prefix; return it normalized, plus warnings."""
    if not isinstance(raw, str) or not raw.strip():
        raise PlanError(f"{where} = {raw!r} is empty. Fix: give an absolute path such as C:\\Miniconda3.")
    path = normalize_windows_path(raw)
    fix = "Fix: use a short absolute path on a local drive, e.g. C:\\Miniconda2."
    if not _DRIVE_PATH.match(path):
        raise PlanError(
            f"{where} = {raw!r} is not an absolute path on a drive (the installer does not expand "
            f"%UserProfile% or relative paths, and network paths do not work). {fix}"
        )
    if " " in path:
        raise PlanError(
            f"{where} = {raw!r} contains a space: the silent installer then leaves an incomplete install and "
            f"still exits 0 (ContinuumIO/anaconda-issues#225). {fix}"
        )
    if len(path) > MAX_PREFIX_CHARS:
        raise PlanError(
            f"{where} = {raw!r} is {len(path)} characters long; from about 118 the installer leaves an "
            f"incomplete install and still exits 0 (conda/conda#10501); this role allows at most "
            f"{MAX_PREFIX_CHARS}. {fix}"
        )
    bad = sorted({ch for ch in path if ch in _INSTALLER_BAD_CHARS or ch in _OTHER_BAD_CHARS})
    if bad:
        raise PlanError(f"{where} = {raw!r} contains {''.join(bad)!r}, which the installer refuses. {fix}")
    if not path.isascii():
        raise PlanError(f"{where} = {raw!r} is not plain ASCII; Python 2.7 cannot live there. {fix}")
    warnings = []
    if len(path) > INSTALLER_WARN_CHARS:
        warnings.append(
            f"{where} = {path} is longer than {INSTALLER_WARN_CHARS} characters: deep package paths may pass "
            "Windows' 260-character limit unless long paths are enabled."
        )
    return path, warnings


def _inside(child: str, parent: str) -> bool:
    child_l, parent_l = child.lower().rstrip("\\"), parent.lower().rstrip("\\")
    return child_l == parent_l or child_l.startswith(parent_l + "\\")


def check_prefix_conflicts(prefixes: Mapping[str, str], arcgis: Sequence[Mapping[str, Any]] | None) -> None:
    """Prefixes must not share or nest in each other, nor overlap an ArcGIS folder or Python."""
    items = list(prefixes.items())
    for i, (name_a, path_a) in enumerate(items):
        for name_b, path_b in items[i + 1 :]:
            if _inside(path_a, path_b) or _inside(path_b, path_a):
                raise PlanError(
                    f"miniconda_prefixes puts {name_a} at {path_a} and {name_b} at {path_b}: one inside the "
                    "other. Fix: give each flavour its own folder, e.g. C:\\Miniconda2 and C:\\Miniconda3."
                )
    for install in arcgis or ():
        for key in ("prefix", "install_dir", "pro_conda_root"):
            folder = install.get(key)
            if not isinstance(folder, str) or not folder.strip():
                continue
            folder = normalize_windows_path(folder)
            for name, path in items:
                if _inside(path, folder) or _inside(folder, path):
                    raise PlanError(
                        f"miniconda_prefixes[{name!r}] = {path} overlaps ArcGIS install "
                        f"{install.get('id')!r} ({key} {folder}); Esri's Python must stay untouched. "
                        "Fix: choose a folder outside ArcGIS, e.g. C:\\Miniconda2."
                    )


def check_download_dir(raw: object) -> str:
    """The host folder for installers; the role owns it (state absent deletes it), so it must be specific."""
    if not isinstance(raw, str) or not raw.strip():
        raise PlanError(f"miniconda_download_dir = {raw!r} is empty. Fix: e.g. {DEFAULT_DOWNLOAD_DIR}.")
    path = normalize_windows_path(raw)
    parts = [p for p in path.split("\\") if p]
    if not _DRIVE_PATH.match(path) or len(parts) < 3:
        raise PlanError(
            f"miniconda_download_dir = {raw!r} must be an absolute folder at least two levels below a drive "
            f"root, owned by this role (state=absent deletes it). Fix: e.g. {DEFAULT_DOWNLOAD_DIR}."
        )
    return path


# --- Installer choice ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChosenInstaller:
    """The installer file for one flavour and the SHA-256 that must match before it runs."""

    file: str
    version: str
    sha256: str
    checksum_source: str
    python_major_minor: str | None
    product: str = ""  # Miniconda3, or Miniforge3 for conda-forge's installer (installer_product)


# conda-forge's installer (https://github.com/conda-forge/miniforge), licence-free, built with the same
# constructor/NSIS as Miniconda (same silent options); 64-bit only. Given by file name and SHA-256 only:
# the role's table has no Miniforge row, since no published SHA-256 was found to copy.
MINIFORGE_PRODUCT = "Miniforge3"
MINIFORGE_RELEASES = "https://github.com/conda-forge/miniforge/releases/download/"


def installer_product(flavour: str, installer_file: str | None = None) -> str:
    """The installer's product (names its ``Uninstall-<product>.exe``): Miniforge3 for a Miniforge file."""
    spec = FLAVOURS[flavour]
    if (
        installer_file
        and installer_file.startswith(MINIFORGE_PRODUCT + "-")
        and (spec.major, spec.bits) == (3, 64)
    ):
        return MINIFORGE_PRODUCT
    return spec.product


def known_versions(flavour: str) -> list[str]:
    return [i.version for i in INSTALLERS if i.flavour == flavour]


def lookup_installer(flavour: str, version: str) -> Installer | None:
    for installer in INSTALLERS:
        if installer.flavour == flavour and installer.version == version:
            return installer
    return None


def _lookup_file(file: str) -> Installer | None:
    for installer in INSTALLERS:
        if installer.file.lower() == file.lower():
            return installer
    return None


def _python_from_file(file: str) -> str | None:
    if file.startswith("Miniconda2"):
        return "2.7"
    match = re.match(r"^Miniconda3-py(\d)(\d+)_", file)
    return f"{match.group(1)}.{match.group(2)}" if match else None


# Miniconda's silent options /InstallationType, /AddToPath and /RegisterPython are parsed by the NSIS
# template of constructor 2.0.0 (2017-11-01, "Add support for command line installation for Windows",
# conda/constructor commit 5baba7f1, CHANGELOG.txt). constructor 1.x reads only /S and /D: a silent run
# takes the options page's defaults, AddToPath checked and RegisterPython checked unless a Python of that
# version is registered (constructor 1.7.0 nsis/OptionsDialog.nsh, mui_AnaCustomOptions_InitDefaults).
# Miniconda 4.4 (conda 4.4, December 2017) is the first release after it; older installers would put
# themselves on the system PATH and register as the system's Python, in front of Esri's.
SILENT_OPTIONS_SINCE = (4, 4)
_MINICONDA_FILE_VERSION = re.compile(r"^Miniconda[23]?-(?:py\d+_)?(\d+(?:\.\d+)+)", re.I)


def _refuse_old_constructor(flavour: str, installer_file: str) -> None:
    match = _MINICONDA_FILE_VERSION.match(installer_file)
    if match is None:  # "latest" and unknown names: no version to judge
        return
    version = match.group(1)
    if _version_tuple(version) < SILENT_OPTIONS_SINCE:
        raise PlanError(
            f"miniconda_installer_files[{flavour!r}] = {installer_file!r} is Miniconda {version}, made with "
            "constructor < 2.0 (before Miniconda 4.4): its silent install ignores /InstallationType, "
            "/AddToPath=0 and /RegisterPython=0, so it would add itself to the system PATH and register as "
            "the system's Python in front of Esri's. Fix: remove the entry to use the role's installer "
            f"(Miniconda {DEFAULT_VERSIONS[flavour]}), or name a Miniconda 4.4 or later file."
        )


def _check_sha256(value: object, where: str) -> str:
    if not isinstance(value, str) or not _SHA256.match(value.strip()):
        raise PlanError(
            f"{where} = {value!r} is not a SHA-256 (64 hexadecimal characters). Fix: copy the value "
            "published next to the file in https://repo.anaconda.com/miniconda/."
        )
    return value.strip().lower()


def choose_installer(
    flavour: str,
    version: str | None = None,
    installer_file: str | None = None,
    checksum: str | None = None,
) -> ChosenInstaller:
    """Pick the installer file and the SHA-256 it must have.

    Known, verified files use the table's SHA-256 (a different ``checksum`` is an error: the official
    file cannot change). Files the table marks unverified, and files not in the table, need ``checksum``.
    """
    spec = FLAVOURS[flavour]
    given = _check_sha256(checksum, f"miniconda_checksums[{flavour!r}]") if checksum else None
    if installer_file:
        if ntpath.basename(installer_file) != installer_file or not installer_file.lower().endswith(".exe"):
            raise PlanError(
                f"miniconda_installer_files[{flavour!r}] = {installer_file!r} must be a bare .exe file name. "
                "Fix: put the folder or URL in miniconda_source and only the file name here."
            )
        product = installer_product(flavour, installer_file)
        if not (installer_file.startswith(product + "-") and installer_file.endswith(spec.file_suffix)):
            also = f" or {MINIFORGE_PRODUCT}-..." if (spec.major, spec.bits) == (3, 64) else ""
            raise PlanError(
                f"miniconda_installer_files[{flavour!r}] = {installer_file!r} is not a {spec.label} "
                f"installer (expected {spec.product}-...{spec.file_suffix}{also}). Fix: give the file of "
                "that flavour, or change the flavour."
            )
        _refuse_old_constructor(flavour, installer_file)
        entry = _lookup_file(installer_file)
        version_label = entry.version if entry else "custom"
    else:
        version_label = version or DEFAULT_VERSIONS[flavour]
        entry = lookup_installer(flavour, version_label)
        if entry is None:
            raise PlanError(
                f"miniconda_versions[{flavour!r}] = {version_label!r} is not in the role's table of known "
                f"installers (known: {', '.join(known_versions(flavour))}). Fix: pick a known version, or "
                f"set miniconda_installer_files[{flavour!r}] and miniconda_checksums[{flavour!r}]."
            )
    if entry is not None and entry.sha256 is not None:
        if given and given != entry.sha256:
            raise PlanError(
                f"miniconda_checksums[{flavour!r}] = {given} differs from the SHA-256 Anaconda publishes for "
                f"{entry.file} ({entry.sha256}). Fix: remove miniconda_checksums[{flavour!r}]; a mirror must "
                "serve the identical file."
            )
        return ChosenInstaller(entry.file, entry.version, entry.sha256, "table", entry.python_major_minor)
    file = entry.file if entry else str(installer_file)
    if given is None:
        why = "its SHA-256 is unverified in the role's table" if entry else "it is not in the role's table"
        raise PlanError(
            f"installer {file} for {flavour} cannot be verified: {why}. Fix: set "
            f"miniconda_checksums[{flavour!r}] to the SHA-256 listed for it at "
            "https://repo.anaconda.com/miniconda/ (never a value computed from an unchecked download)."
        )
    python = entry.python_major_minor if entry else _python_from_file(file)
    return ChosenInstaller(file, version_label, given, "variable", python, installer_product(flavour, file))


def installer_arguments(prefix: str) -> list[str]:
    """The silent install command line, every default spelled out; ``/D=`` last and unquoted.

    conda's and constructor's docs disagree on defaults (RegisterPython defaults to 1 for AllUsers), and
    registering Miniconda as the system Python or adding it to PATH would displace Esri's Python.
    """
    return [
        "/InstallationType=AllUsers",
        "/RegisterPython=0",
        "/AddToPath=0",
        "/S",
        f"/D={prefix}",
    ]


# --- Sources -------------------------------------------------------------------------------------------


def classify_source(raw: object) -> tuple[str, str]:
    """Tell where installers come from: ``url`` (archive or mirror), ``host_path`` (a folder or UNC share
    seen by the workstation) or ``controller`` (a folder on the Ansible controller)."""
    if not isinstance(raw, str) or not raw.strip():
        raise PlanError(f"miniconda_source = {raw!r} is empty. Fix: e.g. {OFFICIAL_ARCHIVE}.")
    source = raw.strip()
    lowered = source.lower()
    if lowered.startswith(("http://", "https://")):
        return "url", source.rstrip("/") + "/"
    if source.startswith("\\\\") or _DRIVE_ANY.match(source):
        return "host_path", normalize_windows_path(source)
    if source.startswith("/"):
        return "controller", source.rstrip("/")
    raise PlanError(
        f"miniconda_source = {raw!r} is neither a URL, a Windows folder or UNC share, nor an absolute "
        f"controller folder. Fix: e.g. {OFFICIAL_ARCHIVE}, \\\\fileserver\\software\\miniconda or "
        "/srv/installers/miniconda."
    )


def installer_location(kind: str, base: str, file: str) -> str:
    if kind == "url":
        return base + file
    if kind == "host_path":
        return ntpath.join(base, file)
    return f"{base}/{file}"


def check_fetch_url(raw: object, kind: str) -> str | None:
    if not raw:
        return None
    if kind != "controller":
        raise PlanError(
            f"miniconda_controller_fetch_url = {raw!r} only applies when miniconda_source is a controller "
            "folder. Fix: empty it, or set miniconda_source to a controller folder."
        )
    if not isinstance(raw, str) or not raw.lower().startswith(("http://", "https://")):
        raise PlanError(
            f"miniconda_controller_fetch_url = {raw!r} is not a URL. Fix: e.g. {OFFICIAL_ARCHIVE}."
        )
    return raw.rstrip("/") + "/"


# --- Condarc -------------------------------------------------------------------------------------------


def _check_url(value: object, where: str, schemes: tuple[str, ...] = ("http://", "https://")) -> str:
    if not isinstance(value, str) or not value.lower().startswith(schemes):
        raise PlanError(f"{where} = {value!r} is not a URL ({', '.join(schemes)}). Fix: e.g. https://...")
    return value.rstrip("/")


def condarc_default_channels(mirror: str | None, free_channel: bool) -> list[str]:
    """conda's Windows defaults (main, r, msys2) on the official host or a mirror of it, with ``free``
    restored after ``main`` as conda's own ``restore_free_channel`` does: Python 2.7-era builds live there."""
    base = _check_url(mirror, "miniconda_channel_mirror") if mirror else "https://repo.anaconda.com"
    names = ["main", "free", "r", "msys2"] if free_channel else ["main", "r", "msys2"]
    return [f"{base}/pkgs/{name}" for name in names]


def condarc_settings(
    channels: Sequence[str] = ("defaults",),
    mirror: str | None = None,
    free_channel: bool = True,
    explicit_default_channels: Sequence[str] = (),
    proxy: str | None = None,
    remote_max_retries: int = 5,
    remote_connect_timeout_secs: float = 30.0,
    remote_read_timeout_secs: float = 120.0,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of C:\\ProgramData\\conda\\.condarc, as data (the template writes it as YAML)."""
    if not channels or not all(isinstance(c, str) and c.strip() for c in channels):
        raise PlanError(f"miniconda_channels = {list(channels)!r} must list channel names or URLs.")
    if explicit_default_channels:
        defaults = [
            _check_url(c, "miniconda_default_channels[]", ("http://", "https://", "file://"))
            for c in explicit_default_channels
        ]
    else:
        defaults = condarc_default_channels(mirror, free_channel)
    if remote_max_retries < 0:
        raise PlanError(f"miniconda_remote_max_retries = {remote_max_retries} must be 0 or more.")
    for name, value in (
        ("miniconda_remote_connect_timeout_secs", remote_connect_timeout_secs),
        ("miniconda_remote_read_timeout_secs", remote_read_timeout_secs),
    ):
        if value <= 0:
            raise PlanError(f"{name} = {value} must be more than 0 seconds.")
    settings: dict[str, Any] = {
        "channels": [c.strip() for c in channels],
        "default_channels": defaults,
        "remote_max_retries": int(remote_max_retries),
        "remote_connect_timeout_secs": float(remote_connect_timeout_secs),
        "remote_read_timeout_secs": float(remote_read_timeout_secs),
    }
    if proxy:
        url = _check_url(proxy, "miniconda_proxy")
        settings["proxy_servers"] = {"http": url, "https": url}
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or not _CONDARC_KEY.match(key):
            raise PlanError(
                f"miniconda_condarc_extra key {key!r} is not a conda setting name. Fix: use the names "
                "`conda config --describe` lists, e.g. channel_alias."
            )
        if key in _DOI_CERT_KEYS:
            raise PlanError(
                f"miniconda_condarc_extra sets {key!r}: SSL settings belong to the doi_cert role, in its own "
                "file under C:\\ProgramData\\conda\\condarc.d. Fix: remove it here and configure doi_cert."
            )
        if key in _MANAGED_CONDARC_KEYS:
            raise PlanError(
                f"miniconda_condarc_extra sets {key!r}, which the role manages. Fix: use the role's "
                "variable for it (see roles/miniconda/defaults/main.yml)."
            )
        settings[key] = value
    return settings


def condarc_is_managed(text: object) -> bool:
    """True when a condarc was written by this role (its first line starts with the marker)."""
    if not isinstance(text, str):
        return False
    first = text.lstrip("\ufeff").splitlines()[:1]
    return bool(first) and first[0].startswith(CONDARC_MARKER)


def proxy_has_credentials(proxy: str | None) -> bool:
    return bool(proxy) and "@" in str(proxy).split("//", 1)[-1]


def check_proxy_secret(inputs: PlanInputs) -> None:
    """A proxy password would sit in C:\\ProgramData\\conda\\.condarc, which every account may read (conda
    reads it as the user who runs it): refused unless the admin accepts exactly that."""
    if inputs.state != "present" or not inputs.manage_condarc or not proxy_has_credentials(inputs.proxy):
        return
    if inputs.proxy_password_readable_by_users:
        return
    shown = re.sub(r"//[^@/]*@", "//<user>:<password>@", str(inputs.proxy))
    raise PlanError(
        f"miniconda_proxy = {shown!r} carries a user name and password, and the system-wide condarc that "
        "holds it is readable by every account on the workstation (each student's conda reads it). Fix: use "
        "a proxy that needs no password (e.g. one that authenticates the machine), or leave miniconda_proxy "
        "empty and let each user set proxy_servers in their own ~/.condarc; or, accepting that every lab "
        "user can read the password, set miniconda_proxy_password_readable_by_users: true."
    )


# --- The plan ------------------------------------------------------------------------------------------


@dataclass
class PlanInputs:
    """Everything the role's variables and facts say; see roles/miniconda/defaults/main.yml."""

    state: str = "present"
    arcgis: Sequence[Mapping[str, Any]] | None = None
    flavours: Sequence[str] = ()
    overrides: Mapping[str, str] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    installer_files: Mapping[str, str] = field(default_factory=dict)
    checksums: Mapping[str, str] = field(default_factory=dict)
    prefixes: Mapping[str, str] = field(default_factory=dict)
    source: str = OFFICIAL_ARCHIVE
    controller_fetch_url: str | None = None
    download_dir: str = DEFAULT_DOWNLOAD_DIR
    manage_condarc: bool = True
    channels: Sequence[str] = ("defaults",)
    channel_mirror: str | None = None
    free_channel: bool = True
    default_channels: Sequence[str] = ()
    proxy: str | None = None
    # The admin's explicit acceptance that a proxy password in the system condarc is readable by every user.
    proxy_password_readable_by_users: bool = False
    remote_max_retries: int = 5
    remote_connect_timeout_secs: float = 30.0
    remote_read_timeout_secs: float = 120.0
    condarc_extra: Mapping[str, Any] = field(default_factory=dict)
    # The source policy (module_utils/package_sources.py): fleet_anaconda_channels, fleet_package_mirror.
    # fleet_anaconda_channels has no default (the plan stops without it); this one serves direct callers.
    anaconda: str = "licensed"
    mirror: str = ""
    conda_forge_channel: str = ps.CONDA_FORGE


def inputs_from_args(args: Mapping[str, Any]) -> PlanInputs:
    """PlanInputs from the ``miniconda_plan`` action's validated arguments (empty strings mean unset)."""
    return PlanInputs(
        state=args["state"],
        arcgis=args["arcgis"],
        flavours=args["flavours"],
        overrides=args["flavour_overrides"],
        versions=args["versions"],
        installer_files=args["installer_files"],
        checksums=args["checksums"],
        prefixes=args["prefixes"],
        source=args["source"],
        controller_fetch_url=args["controller_fetch_url"] or None,
        download_dir=args["download_dir"],
        manage_condarc=args["manage_condarc"],
        channels=args["channels"],
        channel_mirror=args["channel_mirror"] or None,
        free_channel=args["free_channel"],
        default_channels=args["default_channels"],
        proxy=args["proxy"] or None,
        proxy_password_readable_by_users=bool(args.get("proxy_password_readable_by_users")),
        remote_max_retries=args["remote_max_retries"],
        remote_connect_timeout_secs=args["remote_connect_timeout_secs"],
        remote_read_timeout_secs=args["remote_read_timeout_secs"],
        condarc_extra=args["condarc_extra"],
        anaconda=args.get("anaconda") or "",
        mirror=args.get("mirror") or "",
        conda_forge_channel=args.get("conda_forge_channel") or ps.CONDA_FORGE,
    )


def policy_of(inputs: PlanInputs) -> ps.Policy:
    try:
        return ps.Policy.from_args(inputs.anaconda, inputs.mirror)
    except ps.SourceError as exc:
        raise PlanError(str(exc)) from None


def _check_keys(mapping: Mapping[str, Any], where: str) -> None:
    for key in mapping:
        check_flavour(key, f"{where} key")


def resolve_prefixes(given: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    _check_keys(given, "miniconda_prefixes")
    prefixes: dict[str, str] = {}
    warnings: list[str] = []
    for name in FLAVOURS:
        path, notes = check_prefix(given.get(name, DEFAULT_PREFIXES[name]), f"miniconda_prefixes[{name!r}]")
        prefixes[name] = path
        warnings.extend(notes)
    return prefixes, warnings


def expected_files(flavour: str, prefix: str, product: str | None = None) -> list[str]:
    """Files a complete install has; an incomplete one (conda/conda#10501) lacks python.exe and Scripts."""
    spec = FLAVOURS[flavour]
    return [
        ntpath.join(prefix, "python.exe"),
        ntpath.join(prefix, "Scripts", "conda.exe"),
        ntpath.join(prefix, "condabin", "conda.bat"),
        ntpath.join(prefix, "conda-meta", "history"),
        ntpath.join(prefix, f"Uninstall-{product or spec.product}.exe"),
    ]


def _arcgis_pythons(arcgis: Sequence[Mapping[str, Any]] | None) -> list[dict[str, str]]:
    return [
        {"id": str(i.get("id")), "python_exe": str(i["python_exe"])}
        for i in arcgis or ()
        if i.get("status") == "ok" and i.get("python_exe")
    ]


def _published_for_removal(inputs: PlanInputs, prefixes: Mapping[str, str]) -> list[dict[str, Any]]:
    """``miniconda_installs`` records for every flavour's prefix: where a Miniconda of ours may be."""
    records = []
    for name, prefix in prefixes.items():
        try:
            chosen = choose_installer(
                name,
                inputs.versions.get(name),
                inputs.installer_files.get(name),
                inputs.checksums.get(name),
            )
            python = chosen.python_major_minor
        except PlanError:
            python = None
        records.append(
            {
                "flavour": name,
                "prefix": prefix,
                "conda_exe": ntpath.join(prefix, "Scripts", "conda.exe"),
                "python_major_minor": python,
                "bits": FLAVOURS[name].bits,
                "arcgis_ids": [],
            }
        )
    return records


def plan_miniconda(inputs: PlanInputs, os_bits: int | None) -> dict[str, Any]:
    """The whole plan for one host, as plain data for the role's tasks. Raises PlanError on bad input."""
    if inputs.state not in ("present", "absent"):
        raise PlanError(f"miniconda_state = {inputs.state!r}. Fix: present or absent.")
    for where, mapping in (
        ("miniconda_versions", inputs.versions),
        ("miniconda_installer_files", inputs.installer_files),
        ("miniconda_checksums", inputs.checksums),
    ):
        _check_keys(mapping, where)
    check_proxy_secret(inputs)
    prefixes, warnings = resolve_prefixes(inputs.prefixes)
    check_prefix_conflicts(prefixes, inputs.arcgis)
    download_dir = check_download_dir(inputs.download_dir)
    plan: dict[str, Any] = {
        "state": inputs.state,
        "download_dir": download_dir,
        "condarc": {
            "path": CONDARC_PATH,
            "dir": ntpath.dirname(CONDARC_PATH),
            "original": CONDARC_ORIGINAL,
            "manage": bool(inputs.manage_condarc),
            "marker": CONDARC_MARKER,
            "secret": proxy_has_credentials(inputs.proxy),
        },
        "arcgis_pythons": _arcgis_pythons(inputs.arcgis),
    }
    if inputs.state == "absent":
        # Every flavour's prefix is looked at; only those carrying this role's marker are removed.
        plan["removals"] = [
            {
                "flavour": name,
                "label": f"{FLAVOURS[name].label} from {prefix}",
                "prefix": prefix,
                "marker": ntpath.join(prefix, INSTALL_MARKER_NAME),
                "started": started_record(download_dir, name),
                "uninstaller": ntpath.join(
                    prefix, f"Uninstall-{installer_product(name, inputs.installer_files.get(name))}.exe"
                ),
                "uninstall_arguments": f"/S _?={prefix}",
            }
            for name, prefix in prefixes.items()
        ]
        # Published all the same, so the roles removed before this one (arcgis_env) find each conda.exe.
        plan.update(installs=[], published=_published_for_removal(inputs, prefixes), warnings=warnings)
        return plan

    assignments, notes = choose_flavours(inputs.arcgis, inputs.flavours, inputs.overrides)
    warnings.extend(notes)
    if os_bits is not None:
        check_os_bits([a.flavour for a in assignments], os_bits)
    kind, base = classify_source(inputs.source)
    fetch_url = check_fetch_url(inputs.controller_fetch_url, kind)
    policy = policy_of(inputs)
    plan["sources"] = policy.label
    installs = []
    for assignment in assignments:
        name = assignment.flavour
        spec = FLAVOURS[name]
        prefix = prefixes[name]
        chosen = choose_installer(
            name,
            inputs.versions.get(name),
            inputs.installer_files.get(name),
            inputs.checksums.get(name),
        )
        arguments = installer_arguments(prefix)
        try:
            where = ps.installer_source(
                policy,
                name,
                kind,
                base,
                inputs.mirror,
                who=f"{spec.label} for {', '.join(assignment.arcgis_ids) or 'this host'}",
            )
        except ps.SourceError as exc:
            raise PlanError(str(exc)) from None
        installs.append(
            {
                "flavour": name,
                "label": f"{chosen.product or spec.product} {spec.arch} {chosen.version} into {prefix}",
                "version": chosen.version,
                "bits": spec.bits,
                "python_major_minor": chosen.python_major_minor,
                "prefix": prefix,
                "conda_exe": ntpath.join(prefix, "Scripts", "conda.exe"),
                "python_exe": ntpath.join(prefix, "python.exe"),
                "marker": ntpath.join(prefix, INSTALL_MARKER_NAME),
                "started": started_record(download_dir, name),
                "expected_files": expected_files(name, prefix, chosen.product or None),
                "arcgis_ids": assignment.arcgis_ids,
                "installer": {
                    "file": chosen.file,
                    "sha256": chosen.sha256,
                    "checksum_source": chosen.checksum_source,
                    "source_kind": where.kind,
                    "source": installer_location(where.kind, where.base, chosen.file),
                    "source_label": where.label,
                    # Where playbooks/mirror.yml fetches it from, when the mirror serves it.
                    "upstream": where.upstream + chosen.file if where.upstream else None,
                    "fetch_url": fetch_url + chosen.file if fetch_url and where.kind == kind else None,
                    "dest": ntpath.join(download_dir, chosen.file),
                },
                "arguments": arguments,
                "arguments_string": " ".join(arguments),
            }
        )
    if inputs.manage_condarc:
        plan["condarc"]["settings"] = condarc_settings(
            channels=inputs.channels,
            mirror=inputs.channel_mirror,
            free_channel=inputs.free_channel,
            explicit_default_channels=inputs.default_channels,
            proxy=inputs.proxy,
            remote_max_retries=inputs.remote_max_retries,
            remote_connect_timeout_secs=inputs.remote_connect_timeout_secs,
            remote_read_timeout_secs=inputs.remote_read_timeout_secs,
            extra=inputs.condarc_extra,
        )
        chosen_channels = ps.condarc_channels(
            policy,
            plan["condarc"]["settings"]["channels"],
            plan["condarc"]["settings"]["default_channels"],
            inputs.conda_forge_channel,
        )
        if chosen_channels is not None:
            plan["condarc"]["settings"].update(
                channels=chosen_channels.channels, default_channels=chosen_channels.default_channels
            )
            for key, value in chosen_channels.extra.items():
                plan["condarc"]["settings"].setdefault(key, value)
    if not installs:
        # No Miniconda here, so no condarc either: ArcGIS Pro's own conda would read it.
        plan["condarc"]["manage"] = False
        warnings.append("no ArcGIS Python on this host needs a Miniconda: nothing to install.")
    plain_proxy = inputs.proxy and not proxy_has_credentials(inputs.proxy)
    plan["download_proxy"] = inputs.proxy if plain_proxy else None
    plan["installs"] = installs
    plan["published"] = [
        {
            "flavour": i["flavour"],
            "prefix": i["prefix"],
            "conda_exe": i["conda_exe"],
            "python_major_minor": i["python_major_minor"],
            "bits": i["bits"],
            "arcgis_ids": i["arcgis_ids"],
        }
        for i in installs
    ]
    plan["warnings"] = warnings
    return plan


# --- Judging results on the host -----------------------------------------------------------------------


def checksum_problem(install: Mapping[str, Any], actual: object, host: str) -> str:
    """'' when the installer file's SHA-256 is the planned one, else the message to fail with."""
    expected = str(install["installer"]["sha256"]).lower()
    if isinstance(actual, str) and actual.lower() == expected:
        return ""
    where = install["installer"]["dest"]
    return (
        f"{host}: installer {where} (from {install['installer']['source']}) has SHA-256 {actual}, "
        f"expected {expected} ({install['installer']['checksum_source']}); nothing was installed. Fix: "
        f"replace the file at the source with the official {install['installer']['file']}, delete {where} "
        "on the workstation, and run again."
    )


_CONDA_VERSION = re.compile(r"\bconda\s+(\d+\.\d+[\w.+-]*)")


def judge_install(
    install: Mapping[str, Any],
    present: Mapping[str, bool],
    version_rc: int | None,
    version_output: str,
    host: str,
) -> dict[str, Any]:
    """Whether an install is complete: every expected file there and ``conda --version`` answering.

    ``present`` maps each expected file to whether it exists; ``version_rc`` is None when conda.exe was
    not run (missing). The exit code of the installer is not trusted (it is 0 for incomplete installs).
    """
    missing = [path for path in install["expected_files"] if not present.get(path, False)]
    match = _CONDA_VERSION.search(version_output or "")
    answered = version_rc == 0 and match is not None
    ok = not missing and answered
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    if version_rc is None:
        problems.append(f"{install['conda_exe']} was not run")
    elif not answered:
        output = (version_output or "").strip()[:200]
        problems.append(f"`{install['conda_exe']} --version` exited {version_rc} with {output!r}")
    message = ""
    if not ok:
        message = (
            f"{host}: {install['label']} is incomplete: {'; '.join(problems)}. The installer's exit code "
            "cannot be trusted for this (it is 0 for paths with spaces or over about 118 characters). "
            f"Fix: run the role with miniconda_state=absent (or delete {install['prefix']}), check free disk "
            "space and antivirus logs, then run again."
        )
    return {
        "ok": ok,
        "flavour": install["flavour"],
        "prefix": install["prefix"],
        "conda_version": match.group(1) if match else None,
        "missing": missing,
        "message": message,
    }
