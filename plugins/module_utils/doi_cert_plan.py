"""Decide what the doi_cert role writes, imports, sets and removes on one host.

Pure functions, no Ansible imports: settings, the bundle built on the controller and the host's current
state (:class:`HostState`, made from observe's snapshot by ``doi_cert_role``) in; a plan of plain data
out, which ``doi_cert_role`` turns into changes.

Facts from conda's and pip's sources that shape the plan (see the role's README section):

- conda reads, in order, ``C:/ProgramData/conda/{.condarc,condarc,condarc.d/*.yml}`` (hard-coded drive,
  conda >= 4.6.9, conda/conda#8272), then the install root's ``{.condarc,condarc,condarc.d/}``
  (every conda since 4.3), then the user's ``~/.config/conda/..``, ``~/.conda/..`` and ``~/.condarc``.
  For a scalar such as ``ssl_verify`` the last file wins, unless a file flags the key ``#!final``: then
  the first such file wins (``ParameterFlag.final``). Which files a conda reads depends on its version
  (:func:`reads_programdata`, :func:`user_condarc_files`, :func:`condarc_d_suffixes`, from conda's git
  history): ``condarc.d/*.yaml`` beside ``*.yml`` since 4.3.13 (conda/conda commit 9fc427e5,
  2017-02-16), ``C:/ProgramData/conda`` since 4.6.9, ``~/.config/conda`` (and ``$XDG_CONFIG_HOME``) since
  4.11.0 (conda/conda#10982). A reader whose version observe did not see is taken to read them all.
- ArcGIS Pro's own conda (``<PythonCondaRoot>\\Scripts\\conda.exe``, root ``<PythonCondaRoot>``) reads the
  same search path with ``$CONDA_ROOT`` = its root: ProgramData's file reaches it; when it cannot (an old
  conda, or ``doi_cert_condarc_locations`` without ``programdata``), our file goes into its root's
  ``condarc.d`` too (never into an env). Verify judges every reader's machine-scope result.
- conda validates ``ssl_verify``: a string must be ``truststore`` (conda >= 23.9 on Python >= 3.10) or
  an existing path. So the bundle is copied before any file points at it, and removed after.
- pip reads ``C:\\ProgramData\\pip\\pip.ini`` (global), then the user's files, later ones overriding.
"""

from __future__ import annotations

import configparser
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_changes import (
    certificate_thumbprints,
    sha256,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import PROGRAMDATA_CONDA
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import PlanError
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.optional_lib import missing

try:
    import yaml
except ImportError as _exc:  # optional: the feature that needs it fails, naming it
    PYYAML_IMPORT_ERROR: ImportError | None = _exc
    _why = "to read the condarc files doi_cert plans against"
    yaml = missing("yaml", "PyYAML", _why, _exc)
else:
    PYYAML_IMPORT_ERROR = None

SSL_KEYS = ("ssl_verify", "verify_ssl")  # verify_ssl is conda's alias
ENV_VARS = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
# Machine variables that silently override conda's ssl_verify or pip's cert (requests/curl semantics).
WATCHED_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "CONDA_SSL_VERIFY", "PIP_CERT")
USER_CONDARC_FILES = (  # conda's user-scope search path, in order, relative to the profile
    ".config\\conda\\.condarc",
    ".config\\conda\\condarc",
    ".config\\conda\\condarc.d",
    ".conda\\.condarc",
    ".conda\\condarc",
    ".conda\\condarc.d",
    ".condarc",
)
USER_PIP_FILES = ("pip\\pip.ini", "AppData\\Roaming\\pip\\pip.ini")  # legacy, then current
STORE_FILE_RE = re.compile(r"^doi-root-[0-9A-F]{40}\.crt$", re.IGNORECASE)
WIN_ABS_RE = re.compile(r"^[A-Za-z]:\\")
BAD_NAME_RE = re.compile(r'[\\/:*?"<>|]')
MANIFEST_VERSION = 1


# --------------------------------------------------------------------------------------------------
# Settings and host state


@dataclass(frozen=True)
class CondaReader:
    """A conda that reads our condarc: a Miniconda install root, or ArcGIS Pro's conda (its root is
    ``PythonCondaRoot``). ``conda_version``: as observed (its ``conda-meta\\conda-<v>-<b>.json``), or None."""

    label: str
    prefix: str | None
    python_major_minor: str | None
    conda_version: str | None = None


def _conda_at_least(reader: CondaReader | None, wanted: tuple[int, ...]) -> bool:
    """Unknown versions count as new: the reader then reads every file a current conda reads."""
    if reader is None or not reader.conda_version:
        return True
    parts = tuple(int(x) for x in re.findall(r"\d+", reader.conda_version)[: len(wanted)])
    return parts >= wanted


def reads_programdata(reader: CondaReader | None) -> bool:
    """conda >= 4.6.9 reads C:/ProgramData/conda (conda/conda#8272)."""
    return _conda_at_least(reader, (4, 6, 9))


def user_condarc_files(reader: CondaReader | None) -> tuple[str, ...]:
    """The user-scope search path of that conda: ``~/.config/conda`` only from conda 4.11.0."""
    if _conda_at_least(reader, (4, 11)):
        return USER_CONDARC_FILES
    return tuple(f for f in USER_CONDARC_FILES if not f.startswith(".config\\"))


def condarc_d_suffixes(reader: CondaReader | None) -> tuple[str, ...]:
    """What a condarc.d folder contributes: ``*.yml``, and ``*.yaml`` from conda 4.3.13."""
    return (".yml", ".yaml") if _conda_at_least(reader, (4, 3, 13)) else (".yml",)


def with_conda_versions(s: PlanSettings, versions: Mapping[str, str | None]) -> PlanSettings:
    """The settings with each reader's observed conda version (``versions``: lower-case root -> version)."""
    from dataclasses import replace

    def fill(readers: tuple[CondaReader, ...]) -> tuple[CondaReader, ...]:
        return tuple(
            replace(r, conda_version=versions.get((r.prefix or "").lower()) or r.conda_version)
            for r in readers
        )

    return replace(s, conda_installs=fill(s.conda_installs), other_conda_readers=fill(s.other_conda_readers))


@dataclass(frozen=True)
class PlanSettings:
    host: str
    state: str = "present"
    cert_dir: str = "C:\\ProgramData\\arcgis-conda\\certs"
    bundle_filename: str = "ca-bundle.pem"
    roots_filename: str = "doi-roots.pem"
    manifest_path: str = "C:\\ProgramData\\arcgis-conda\\doi_cert-state.json"
    users: tuple[str, ...] = ()
    user_dirname: str = ".certificates"
    conda: bool = True
    condarc_locations: tuple[str, ...] = ("programdata", "install_root")
    conda_installs: tuple[CondaReader, ...] = ()
    other_conda_readers: tuple[CondaReader, ...] = ()
    condarc_filename: str = "doi_cert.yml"
    ssl_verify: str = "bundle"
    condarc_final: bool = True
    manage_user_condarc: bool = False
    pip: bool = True
    pip_ini: str = "C:\\ProgramData\\pip\\pip.ini"
    env_vars: tuple[str, ...] = ()
    windows_store: bool = False

    @property
    def bundle_path(self) -> str:
        return win_join(self.cert_dir, self.bundle_filename)

    @property
    def roots_path(self) -> str:
        return win_join(self.cert_dir, self.roots_filename)

    @property
    def ssl_verify_value(self) -> str:
        return "truststore" if self.ssl_verify == "truststore" else self.bundle_path


class HostState:
    """What the plan knows of the host (files' text, folders' names, the listed users' profiles, machine
    environment variables, Root-store presence), looked up case-insensitively as Windows does."""

    def __init__(self, raw: Mapping[str, Any] | None) -> None:
        raw = raw or {}
        self.files = {k.lower(): v for k, v in (raw.get("files") or {}).items()}
        self.dirs = {k.lower(): v for k, v in (raw.get("dirs") or {}).items()}
        self.profiles = {k.lower(): v or [] for k, v in (raw.get("profiles") or {}).items()}
        self.env = {k.upper(): v for k, v in (raw.get("env") or {}).items()}
        self.store = {k.upper(): bool(v) for k, v in (raw.get("store") or {}).items()}
        self.problems = list(raw.get("problems") or [])

    def text(self, path: str) -> str | None:
        return self.files.get(path.lower())

    def listing(self, path: str) -> list[str] | None:
        names = self.dirs.get(path.lower())
        if names is None:
            return None
        return [names] if isinstance(names, str) else list(names)


@dataclass
class Manifest:
    """What the role added on the host: the record that makes state=absent exact."""

    bundle_path: str = ""
    ssl_verify: str = ""
    files: set[str] = field(default_factory=set)
    dirs: set[str] = field(default_factory=set)
    store: set[str] = field(default_factory=set)
    env: dict[str, str] = field(default_factory=dict)
    env_previous: dict[str, str] = field(default_factory=dict)
    pip_ini: dict[str, Any] | None = None
    user_condarc: dict[str, list[str]] = field(default_factory=dict)
    # SHA-256 of each PEM file the role wrote -> its certificates' thumbprints (fleet_changes): observe reads
    # only the hash of those files, and --diff still shows which certificates change.
    certificates: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> tuple[Manifest, str | None]:
        if not text:
            return cls(), None
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return (
                cls(
                    bundle_path=str(data.get("bundle_path") or ""),
                    ssl_verify=str(data.get("ssl_verify") or ""),
                    files={str(p) for p in data.get("files") or []},
                    dirs={str(p) for p in data.get("dirs") or []},
                    store={str(t).upper() for t in data.get("store") or []},
                    env={str(k): str(v) for k, v in (data.get("env") or {}).items()},
                    env_previous={str(k): str(v) for k, v in (data.get("env_previous") or {}).items()},
                    pip_ini=data.get("pip_ini") or None,
                    user_condarc={
                        str(k): [str(line) for line in v] for k, v in (data.get("user_condarc") or {}).items()
                    },
                    certificates={
                        str(k).lower(): [str(t) for t in v]
                        for k, v in (data.get("certificates") or {}).items()
                        if isinstance(v, list)
                    },
                ),
                None,
            )
        except ValueError as exc:
            return cls(), f"the previous run's record is unreadable ({exc}); it is rewritten"

    def owned(self) -> tuple[Any, ...]:
        """What the record says the role added on the host (its certificate thumbprints aside)."""
        return (
            {f.lower() for f in self.files},
            {d.lower() for d in self.dirs},
            self.store,
            self.env,
            self.pip_ini,
            self.user_condarc,
        )

    def render(self) -> str:
        data = {
            "comment": "What arcgis-conda fleet's doi_cert role added; doi_cert_state=absent removes it.",
            "version": MANIFEST_VERSION,
            "bundle_path": self.bundle_path,
            "ssl_verify": self.ssl_verify,
            "files": sorted(self.files, key=str.lower),
            "dirs": sorted(self.dirs, key=str.lower),
            "store": sorted(self.store),
            "env": dict(sorted(self.env.items())),
            "env_previous": dict(sorted(self.env_previous.items())),
            "pip_ini": self.pip_ini,
            "user_condarc": dict(sorted(self.user_condarc.items(), key=lambda kv: kv[0].lower())),
            "certificates": dict(sorted(self.certificates.items())),
        }
        return json.dumps(data, indent=2, sort_keys=False) + "\n"


def intended(prev: Manifest, new: Manifest) -> Manifest:
    """The record to keep while a run adds ``new`` over ``prev``: everything either names."""
    return Manifest(
        bundle_path=new.bundle_path or prev.bundle_path,
        ssl_verify=new.ssl_verify or prev.ssl_verify,
        files=prev.files | new.files,
        dirs=prev.dirs | new.dirs,
        store=prev.store | new.store,
        env={**prev.env, **new.env},
        env_previous={**new.env_previous, **prev.env_previous},
        pip_ini=new.pip_ini or prev.pip_ini,
        user_condarc={**prev.user_condarc, **new.user_condarc},
        certificates={**prev.certificates, **new.certificates},
    )


# --------------------------------------------------------------------------------------------------
# Small helpers


def win_join(base: str, *parts: str) -> str:
    """Join Windows path parts with one backslash, whatever the base ends with."""
    path = base.rstrip("\\/")
    for part in parts:
        path = path + "\\" + part.strip("\\/")
    return path


def win_parent(path: str) -> str:
    return path.rstrip("\\").rsplit("\\", 1)[0]


def _ci_in(path: str, paths: Iterable[str]) -> bool:
    lower = path.lower()
    return any(lower == p.lower() for p in paths)


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _python_at_least(major_minor: str | None, wanted: tuple[int, int]) -> bool:
    if not major_minor:
        return False
    match = re.match(r"^(\d+)\.(\d+)", str(major_minor))
    return bool(match) and (int(match.group(1)), int(match.group(2))) >= wanted


# --------------------------------------------------------------------------------------------------
# condarc: render ours, read anybody's


def render_condarc(ssl_verify: str, final: bool) -> str:
    """Our condarc.d file. CRLF like every other Windows config file; the value single-quoted for YAML."""
    value = "truststore" if ssl_verify == "truststore" else "'" + ssl_verify.replace("'", "''") + "'"
    flag = "  #!final" if final else ""
    lines = [
        "# Written by arcgis-conda fleet (role doi_cert): conda's TLS trust only. Do not edit; the next",
        "# run rewrites it and doi_cert_state=absent removes it. Channels live in the miniconda role's",
        "# C:\\ProgramData\\conda\\.condarc. '#!final' stops later files (~\\.condarc) from overriding it.",
        f"ssl_verify: {value}{flag}",
        "",
    ]
    return "\r\n".join(lines)


def _comment_after_value(line: str) -> str | None:
    """The end-of-line comment of a ``key: value`` line, skipping '#' inside quotes (YAML rules)."""
    _key, _sep, rest = line.partition(":")
    quote = ""
    prev = " "
    for index, char in enumerate(rest):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"" and prev.isspace():
            quote = char
        elif char == "#" and prev.isspace():
            return rest[index:].strip()
        prev = char
    return None


@dataclass(frozen=True)
class CondarcSetting:
    path: str
    value: Any  # bool or str, as conda would see it
    final: bool


@functools.lru_cache(maxsize=1024)  # the same few files on every host of a lab: parsed once
def read_ssl_verify(path: str, text: str) -> tuple[CondarcSetting | None, str | None]:
    """The ssl_verify (or verify_ssl) a condarc sets, with conda's ``#!final`` flag; or a problem."""
    try:
        data = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        return None, f"{path} is not valid YAML, so conda stops with an error when it reads it ({exc})"
    if not isinstance(data, dict):
        return None, None
    key = next((k for k in SSL_KEYS if k in data), None)
    if key is None:
        return None, None
    value = data[key]
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        value = value.strip().lower() == "true"  # conda typifies these strings
    final = False
    for line in text.splitlines():
        if re.match(rf"^{key}\s*:", line):
            final = _comment_after_value(line) == "#!final"
            break
    return CondarcSetting(path=path, value=value, final=final), None


def effective_ssl_verify(settings: Sequence[CondarcSetting]) -> CondarcSetting | None:
    """conda's merge for a primitive parameter: the first ``#!final`` match, else the last match."""
    for setting in settings:
        if setting.final:
            return setting
    return settings[-1] if settings else None


def remove_yaml_keys(text: str, keys: Sequence[str]) -> tuple[str, list[str]]:
    """Drop top-level ``key:`` lines (with any indented continuation); return new text and removed lines."""
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    removed: list[str] = []
    dropping = False
    for line in lines:
        if dropping and line[:1] in (" ", "\t") and line.strip():
            removed.append(line.rstrip("\r\n"))
            continue
        dropping = False
        if any(re.match(rf"^{re.escape(k)}\s*:", line) for k in keys):
            removed.append(line.rstrip("\r\n"))
            dropping = True
            continue
        kept.append(line)
    return "".join(kept), removed


def restore_yaml_lines(text: str, lines: Sequence[str]) -> str:
    """Append lines the role removed earlier, unless the file set the key again meanwhile."""
    if any(re.match(rf"^{k}\s*:", line) for k in SSL_KEYS for line in text.splitlines()):
        return text
    newline = _newline(text) if text else "\r\n"
    if text and not text.endswith(("\n", "\r")):
        text += newline
    return text + newline.join(lines) + newline


# --------------------------------------------------------------------------------------------------
# pip.ini: manage our one key, keep the rest of the file as it is


def ini_get(text: str, section: str, key: str) -> str | None:
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return parser.get(section, key, fallback=None)


def _ini_sections(lines: Sequence[str]) -> list[tuple[str, int]]:
    return [
        (m.group(1).strip(), i) for i, line in enumerate(lines) if (m := re.match(r"^\s*\[([^\]]+)\]", line))
    ]


def ini_set(text: str, section: str, key: str, value: str) -> str:
    """Set ``key = value`` in ``[section]``, creating either; other lines, comments and order kept."""
    newline = _newline(text) if text else "\r\n"
    lines = text.splitlines()
    sections = _ini_sections(lines)
    start = next((i for name, i in sections if name == section), None)
    if start is None:
        block = [f"[{section}]", f"{key} = {value}"]
        if lines and lines[-1].strip():
            block.insert(0, "")
        return newline.join([*lines, *block]) + newline
    end = next((i for _name, i in sections if i > start), len(lines))
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*[=:]", re.IGNORECASE)
    for i in range(start + 1, end):
        if key_re.match(lines[i]):
            j = i + 1
            while j < end and lines[j][:1] in (" ", "\t") and lines[j].strip():
                j += 1  # continuation lines of the old value
            lines[i:j] = [f"{key} = {value}"]
            return newline.join(lines) + newline
    insert_at = end
    while insert_at > start + 1 and not lines[insert_at - 1].strip():
        insert_at -= 1
    lines.insert(insert_at, f"{key} = {value}")
    return newline.join(lines) + newline


def ini_remove(text: str, section: str, key: str) -> str:
    """Remove ``key`` from ``[section]``, and the section when nothing but blank lines remain in it."""
    newline = _newline(text)
    lines = text.splitlines()
    sections = _ini_sections(lines)
    start = next((i for name, i in sections if name == section), None)
    if start is None:
        return text
    end = next((i for _name, i in sections if i > start), len(lines))
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*[=:]", re.IGNORECASE)
    kept = lines[: start + 1]
    i = start + 1
    while i < end:
        if key_re.match(lines[i]):
            i += 1
            while i < end and lines[i][:1] in (" ", "\t") and lines[i].strip():
                i += 1
            continue
        kept.append(lines[i])
        i += 1
    body = kept[start + 1 :]
    if not any(line.strip() and not line.lstrip().startswith(("#", ";")) for line in body):
        kept = kept[:start]  # drop the empty section (and our own comment lines in it)
        while kept and not kept[-1].strip():
            kept.pop()
    result = [*kept, *lines[end:]]
    return newline.join(result) + newline if result else ""


PIP_COMMENT = "; cert set by arcgis-conda fleet (role doi_cert); doi_cert_state=absent removes it."


def ini_is_empty(text: str) -> bool:
    return not any(line.strip() and not line.lstrip().startswith(("#", ";")) for line in text.splitlines())


# --------------------------------------------------------------------------------------------------
# Validation before any change


def validate_settings(s: PlanSettings) -> list[str]:
    """Raise PlanError for settings that cannot work on this host; return warnings."""
    where = f"host {s.host}"
    warnings_out: list[str] = []
    if s.state not in ("present", "absent"):
        raise PlanError(f"{where}: doi_cert_state is {s.state!r}. Fix: use present or absent.")
    for name, path in (("doi_cert_dir", s.cert_dir), ("doi_cert_pip_ini", s.pip_ini)):
        if not WIN_ABS_RE.match(path) or len(path.rstrip("\\")) <= 2:
            raise PlanError(
                f"{where}: {name} is {path!r}, not an absolute Windows folder path. "
                f"Fix: use a path such as C:\\ProgramData\\arcgis-conda\\certs."
            )
    if not s.cert_dir.isascii():
        raise PlanError(
            f"{where}: doi_cert_dir {s.cert_dir!r} has non-ASCII characters; Miniconda2's conda (Python "
            "2.7) cannot open such a path from its condarc. Fix: choose an ASCII-only folder."
        )
    for name, value in (
        ("doi_cert_bundle_filename", s.bundle_filename),
        ("doi_cert_roots_filename", s.roots_filename),
        ("doi_cert_condarc_filename", s.condarc_filename),
        ("doi_cert_user_dirname", s.user_dirname),
    ):
        if not value or BAD_NAME_RE.search(value) or not value.isascii():
            raise PlanError(f"{where}: {name} is {value!r}. Fix: use a plain ASCII file name, no folders.")
    if s.bundle_filename.lower() == s.roots_filename.lower():
        raise PlanError(
            f"{where}: doi_cert_bundle_filename and doi_cert_roots_filename are both {s.bundle_filename!r}. "
            "Fix: give them different names."
        )
    if not s.condarc_filename.endswith(".yml"):
        raise PlanError(
            f"{where}: doi_cert_condarc_filename is {s.condarc_filename!r}; conda before 4.9 reads only "
            "condarc.d\\*.yml. Fix: end the name with .yml."
        )
    unknown = sorted(set(s.condarc_locations) - {"programdata", "install_root"})
    if unknown:
        raise PlanError(f"{where}: doi_cert_condarc_locations has {unknown}. Fix: programdata, install_root.")
    bad_env = sorted(set(s.env_vars) - set(ENV_VARS))
    if bad_env:
        raise PlanError(f"{where}: doi_cert_env_vars has {bad_env}. Fix: choose from {list(ENV_VARS)}.")
    for user in s.users:
        if not str(user).strip():
            raise PlanError(f"{where}: doi_cert_users has an empty name. Fix: remove it.")
    if s.state == "present" and s.conda:
        if not s.condarc_locations:
            raise PlanError(
                f"{where}: doi_cert_conda is true but doi_cert_condarc_locations is empty. "
                "Fix: list programdata and/or install_root, or set doi_cert_conda: false."
            )
        if s.condarc_locations == ("install_root",) and not s.conda_installs:
            raise PlanError(
                f"{where}: doi_cert_condarc_locations is [install_root] but no conda install is known "
                "(miniconda_installs is empty and doi_cert_conda_installs is unset). Fix: run the miniconda "
                "role first, set doi_cert_conda_installs, or add programdata."
            )
        if s.ssl_verify == "truststore":
            readers = list(s.conda_installs)
            if "programdata" in s.condarc_locations:
                readers += list(s.other_conda_readers)
            too_old = [r for r in readers if not _python_at_least(r.python_major_minor, (3, 10))]
            if too_old:
                names = ", ".join(f"{r.label} (Python {r.python_major_minor or 'unknown'})" for r in too_old)
                raise PlanError(
                    f"{where}: doi_cert_ssl_verify is truststore, but {names} reads this setting and "
                    "truststore needs conda >= 23.9 on Python >= 3.10; a Miniconda2 base (Python 2.7) can "
                    "never use it. Fix: keep doi_cert_ssl_verify: bundle (the default)."
                )
            if not s.windows_store:
                warnings_out.append(
                    f"{where}: doi_cert_ssl_verify is truststore and doi_cert_windows_store is false: conda "
                    "then trusts the DOI root only if Group Policy already put it in the Root store."
                )
            warnings_out.append(
                f"{where}: ssl_verify truststore is honoured by conda >= 23.9 only; older conda reports "
                "'ssl_verify value truststore must be ... a path'. Keep bundle unless every conda is newer."
            )
    return warnings_out


# --------------------------------------------------------------------------------------------------
# The plan


@dataclass
class DoiCertPlan:
    create_dirs: list[str] = field(default_factory=list)
    harden_dirs: list[dict[str, Any]] = field(default_factory=list)
    write_files: list[dict[str, Any]] = field(default_factory=list)
    store_import: list[dict[str, Any]] = field(default_factory=list)
    store_remove: list[str] = field(default_factory=list)
    env_set: list[dict[str, str]] = field(default_factory=list)
    env_remove: list[str] = field(default_factory=list)
    remove_files: list[str] = field(default_factory=list)
    remove_dirs: list[str] = field(default_factory=list)
    manifest_text: str | None = None
    # The record written first, when this run adds something the previous record does not name.
    intent_text: str | None = None
    remove_manifest: bool = False
    report: list[str] = field(default_factory=list)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)
    condarc_files: list[str] = field(default_factory=list)
    # The previous run's record of its PEM files: SHA-256 -> thumbprints (the diff's "before").
    known_certificates: dict[str, list[str]] = field(default_factory=dict)
    # Every conda reader's machine-scope files in its read order, for verify: [{label, files}].
    reader_files: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def resolve_users(s: PlanSettings, host: HostState) -> tuple[dict[str, str], list[str]]:
    """Map each listed user to the single matching profile folder; ambiguity is an error."""
    resolved: dict[str, str] = {}
    notes: list[str] = []
    for user in s.users:
        found = host.profiles.get(user.lower(), [])
        if len(found) > 1:
            accounts = ", ".join(f"{p.get('account')} ({p.get('path')})" for p in found)
            raise PlanError(
                f"host {s.host}: doi_cert_users entry {user!r} matches {len(found)} profiles: {accounts}. "
                "Fix: write the account as DOMAIN\\name."
            )
        if not found:
            notes.append(
                f"user {user}: no profile on this host yet (never logged on), so no per-user copy; the "
                "role never creates a profile folder (Windows would then give the user a USER.HOST one)."
            )
            continue
        resolved[user] = str(found[0]["path"])
    return resolved, notes


def _condarc_paths(s: PlanSettings) -> list[tuple[str, str]]:
    """(label, path) of each condarc.d file of ours the settings call for."""
    out = []
    if "programdata" in s.condarc_locations:
        out.append(("ProgramData", win_join(PROGRAMDATA_CONDA, "condarc.d", s.condarc_filename)))
    if "install_root" in s.condarc_locations:
        for install in s.conda_installs:
            if install.prefix:
                out.append((install.label, win_join(install.prefix, "condarc.d", s.condarc_filename)))
        # Pro's conda: its root too, only when ProgramData's file does not reach it.
        for reader in s.other_conda_readers:
            if reader.prefix and not ("programdata" in s.condarc_locations and reads_programdata(reader)):
                path = win_join(reader.prefix, "condarc.d", s.condarc_filename)
                if not _ci_in(path, [p for _key, p in out]):
                    out.append((reader.label, path))
    return out


def _readers_all(s: PlanSettings) -> list[CondaReader]:
    """Every conda that reads condarc files here, once per root (Miniconda's, then Pro's)."""
    seen: set[str] = set()
    out = []
    for reader in (*s.conda_installs, *s.other_conda_readers):
        k = (reader.prefix or reader.label).lower()
        if k not in seen:
            seen.add(k)
            out.append(reader)
    return out


def _scope_sources(
    host: HostState,
    root: str,
    names: Sequence[str],
    ours: Mapping[str, str | None],
    suffixes: tuple[str, ...] = (".yml", ".yaml"),
) -> list[str]:
    """A scope's condarc paths in conda's order; ``condarc.d`` expands sorted, with our files merged in."""
    out: list[str] = []
    for name in names:
        path = win_join(root, name)
        if not name.endswith("condarc.d"):
            out.append(path)
            continue
        entries = {n.lower(): n for n in host.listing(path) or []}
        prefix = path.lower() + "\\"
        for our in ours:
            if our.startswith(prefix) and "\\" not in our[len(prefix) :]:
                entries.setdefault(our[len(prefix) :], our[len(prefix) :])
        for key in sorted(entries):
            if key.endswith(suffixes):
                out.append(win_join(path, entries[key]))
    return out


SCOPE_NAMES = (".condarc", "condarc", "condarc.d")


def machine_sources(host: HostState, reader: CondaReader | None, ours: Mapping[str, str | None]) -> list[str]:
    """That conda's machine-scope condarc files in its read order: ProgramData (when it reads it), then
    its install root (``$CONDA_ROOT``)."""
    suffixes = condarc_d_suffixes(reader)
    paths = (
        _scope_sources(host, PROGRAMDATA_CONDA, SCOPE_NAMES, ours, suffixes)
        if reads_programdata(reader)
        else []
    )
    if reader and reader.prefix:
        paths += _scope_sources(host, reader.prefix, SCOPE_NAMES, ours, suffixes)
    return paths


def _user_sources(host: HostState, profile: str, reader: CondaReader | None) -> list[str]:
    return _scope_sources(host, profile, user_condarc_files(reader), {}, condarc_d_suffixes(reader))


@dataclass(frozen=True)
class ObservedPaths:
    """What the plan looks at on a host for these settings: machine files and folders, and per listed
    user the files and folders relative to their profile; each conda root's version decides which files
    that conda reads (observe reads ``<root>\\conda-meta\\conda-*.json``)."""

    files: tuple[str, ...]
    dirs: tuple[str, ...]
    users: tuple[str, ...]
    user_files: tuple[str, ...]
    user_dirs: tuple[str, ...]
    conda_roots: tuple[str, ...]


def observed_paths(s: PlanSettings) -> ObservedPaths:
    files = [s.pip_ini, win_join(PROGRAMDATA_CONDA, ".condarc"), win_join(PROGRAMDATA_CONDA, "condarc")]
    dirs = [
        s.cert_dir,
        win_parent(s.manifest_path),
        win_join(PROGRAMDATA_CONDA, "condarc.d"),
        win_parent(s.pip_ini),
    ]
    for install in _readers_all(s):
        if install.prefix:
            files += [win_join(install.prefix, ".condarc"), win_join(install.prefix, "condarc")]
            dirs.append(win_join(install.prefix, "condarc.d"))
    return ObservedPaths(
        files=tuple(files),
        dirs=tuple(dirs),
        users=tuple(s.users),
        user_files=tuple(f for f in USER_CONDARC_FILES if not f.endswith("condarc.d")) + USER_PIP_FILES,
        user_dirs=(s.user_dirname, *(f for f in USER_CONDARC_FILES if f.endswith("condarc.d"))),
        conda_roots=tuple(r.prefix for r in _readers_all(s) if r.prefix),
    )


def plan_doi_cert(s: PlanSettings, host: HostState, bundle: Mapping[str, Any] | None = None) -> DoiCertPlan:
    """Everything the role does on one host, in the order its changes are applied."""
    plan = DoiCertPlan()
    plan.warnings.extend(validate_settings(s))
    plan.warnings.extend(f"host {s.host}: {p}" for p in host.problems)
    prev, manifest_problem = Manifest.parse(host.text(s.manifest_path))
    if manifest_problem:
        plan.warnings.append(f"host {s.host}: {s.manifest_path}: {manifest_problem}")
    present = s.state == "present"
    if present and not bundle:
        raise PlanError(
            f"host {s.host}: no bundle was built. Fix: set doi_cert_certificates (the plan builds it)."
        )
    users, notes = resolve_users(s, host)
    plan.users = users
    plan.report.extend(notes)
    plan.known_certificates = dict(prev.certificates)

    new = Manifest(bundle_path=s.bundle_path if present else "", ssl_verify=s.ssl_verify_value)
    ours_values = {v.lower() for v in (s.bundle_path, prev.bundle_path) if v}
    wanted: dict[str, str] = {}  # lower path -> path, files this run owns
    writes_before: list[dict[str, Any]] = []  # data files: written before anything points at them
    writes_config: list[dict[str, Any]] = []  # config files: written after the data files

    def own(path: str, content: str, why: str) -> dict[str, Any]:
        wanted[path.lower()] = path
        return {"path": path, "content": content, "backup": False, "why": why}

    # --- data files: the bundle, the roots, the per-certificate files for the Root store
    needed_dirs: list[str] = []
    certificates = list((bundle or {}).get("certificates") or [])
    if present:
        if bundle is None:  # present implies a validated bundle
            raise AssertionError("doi_cert: state=present without a validated bundle")
        needed_dirs += [win_parent(s.manifest_path), s.cert_dir]
        writes_before.append(own(s.bundle_path, str(bundle["bundle_pem"]), why="CA bundle"))
        writes_before.append(own(s.roots_path, str(bundle["roots_pem"]), why="organisation roots"))
        for pem in (str(bundle["bundle_pem"]), str(bundle["roots_pem"])):
            new.certificates[sha256(pem)] = certificate_thumbprints(pem.encode("utf-8"))
        plan.harden_dirs.append({"path": s.cert_dir, "exists": host.listing(s.cert_dir) is not None})
        if s.windows_store:
            listing = {n.lower() for n in host.listing(s.cert_dir) or []}
            for cert in certificates:
                name = f"doi-root-{str(cert['sha1']).upper()}.crt"
                path = win_join(s.cert_dir, name)
                writes_before.append(own(path, str(cert["pem"]), why="certificate for the Root store"))
                plan.store_import.append(
                    {
                        "path": path,
                        "thumbprint": str(cert["sha1"]).upper(),
                        "subject": cert.get("subject", ""),
                        "file_exists": name.lower() in listing,
                    }
                )

    # --- per-user copies (the seed's %USERPROFILE%\.certificates layout)
    if present:
        for user, profile in sorted(users.items()):
            user_dir = win_join(profile, s.user_dirname)
            needed_dirs.append(user_dir)
            copies = ((s.bundle_filename, bundle["bundle_pem"]), (s.roots_filename, bundle["roots_pem"]))
            for name, content in copies:
                writes_before.append(own(win_join(user_dir, name), str(content), why=f"copy for {user}"))

    # --- conda: our condarc.d files
    condarc_text = render_condarc(s.ssl_verify_value, s.condarc_final)
    our_condarcs: dict[str, str | None] = {}  # lower path -> text after this run (None: removed)
    if present and s.conda:
        for _label, path in _condarc_paths(s):
            needed_dirs.append(win_parent(path))
            writes_config.append(own(path, condarc_text, why="conda ssl_verify"))
            our_condarcs[path.lower()] = condarc_text
    for path in prev.files:
        if path.lower().endswith(".yml") and path.lower() not in our_condarcs:
            our_condarcs[path.lower()] = None  # ours from an earlier run, removed by this one
    plan.condarc_files = [w["path"] for w in writes_config]

    # --- pip: [global] cert in the machine-wide pip.ini
    pip_write, pip_remove = _plan_pip(s, host, prev, new, present, ours_values, plan)
    if present and s.pip:
        needed_dirs.append(win_parent(s.pip_ini))
    if pip_write:
        writes_config.append(pip_write)

    # --- environment variables (off by default: they override conda's ssl_verify, conda/conda#11006)
    _plan_env(s, host, prev, new, present, ours_values, plan)

    # --- Root store
    _plan_store(s, host, prev, new, present, certificates, plan)

    # --- conda precedence: report (or fix) user files that undo the machine setting
    user_edits = _plan_user_condarc(s, host, prev, new, present, users, our_condarcs, plan)
    writes_config.extend(user_edits)
    if present and s.conda:
        plan.reader_files = [
            {"label": r.label, "files": machine_sources(host, r, our_condarcs)} for r in _readers_all(s)
        ]

    # --- stale or absent: files we wrote before and do not own now
    removals: list[str] = []
    for path in sorted(prev.files, key=str.lower):
        if path.lower() not in wanted:
            removals.append(path)
    if present:
        for name in host.listing(s.cert_dir) or []:
            path = win_join(s.cert_dir, name)
            if STORE_FILE_RE.match(name) and path.lower() not in wanted and not _ci_in(path, removals):
                removals.append(path)
    else:
        # Without a record (lost, or a first run with state=absent) remove what the settings name as ours.
        for path in [s.bundle_path, s.roots_path] + [p for _key, p in _condarc_paths(s)]:
            if not _ci_in(path, removals):
                removals.append(path)
        for user_profile in users.values():
            for name in (s.bundle_filename, s.roots_filename):
                path = win_join(user_profile, s.user_dirname, name)
                if not _ci_in(path, removals):
                    removals.append(path)
    if pip_remove:
        removals.append(pip_remove)
    # Configuration first, data last: conda must never read a path that is already gone.
    removals.sort(key=lambda p: (0 if p.lower().endswith((".yml", ".ini")) else 1, p.lower()))
    plan.remove_files = removals

    # --- folders: create what is needed; remove the ones we created once nothing else is in them
    for d in needed_dirs:
        if not _ci_in(d, plan.create_dirs):
            plan.create_dirs.append(d)
    plan.create_dirs.sort(key=lambda p: (p.count("\\"), p.lower()))
    new.dirs = {d for d in prev.dirs if _ci_in(d, plan.create_dirs)}
    new.dirs |= {d for d in plan.create_dirs if host.listing(d) is None}
    gone = {p.lower() for p in removals}
    if not present:
        gone.add(s.manifest_path.lower())
    for d in sorted(prev.dirs, key=lambda p: (-p.count("\\"), p.lower())):
        if _ci_in(d, plan.create_dirs):
            continue
        listing = host.listing(d)
        if listing is None:
            continue
        # Removed when empty once the whole run's deletions are done (fleet_changes.Changes.rmdir_empty):
        # another role of the same run may delete what else is in it (arcgis_env's condarc.d file).
        plan.remove_dirs.append(d)
        if not all(win_join(d, n).lower() in gone for n in listing):
            plan.report.append(f"{d}: removed only if nothing the role did not write is left in it")
        gone.add(d.lower())

    plan.write_files = writes_before + writes_config
    new.files = set(wanted.values())
    if present:
        plan.manifest_text = new.render()
        intent = intended(prev, new)
        if intent.owned() != prev.owned():
            # Written before anything is added: a run stopped half-way (a dropped connection, a killed
            # controller) still leaves a record naming every folder it may have made, so the next run
            # neither adopts them as pre-existing nor forgets them when state=absent.
            plan.intent_text = intent.render()
    else:
        plan.remove_manifest = True
        if not any((prev.files, prev.store, prev.env, prev.pip_ini, prev.user_condarc)):
            plan.report.append("no record of an earlier run: removed what the current settings name as ours")
    return plan


def _plan_pip(
    s: PlanSettings,
    host: HostState,
    prev: Manifest,
    new: Manifest,
    present: bool,
    ours_values: set[str],
    plan: DoiCertPlan,
) -> tuple[dict[str, Any] | None, str | None]:
    """The pip.ini write (or removal) and the manifest entry; only our ``cert`` key is ever touched."""
    pip_path = s.pip_ini
    old_path = (prev.pip_ini or {}).get("path")
    if old_path and str(old_path).lower() != pip_path.lower():
        plan.report.append(
            f"{old_path}: doi_cert_pip_ini moved; the old file's cert is not restored by the role"
        )
    current = host.text(pip_path)
    current_cert = ini_get(current, "global", "cert") if current is not None else None
    if present and s.pip:
        created = bool((prev.pip_ini or {}).get("created")) if prev.pip_ini else current is None
        previous = (prev.pip_ini or {}).get("previous_cert") if prev.pip_ini else None
        if not prev.pip_ini and current_cert and current_cert.lower() not in ours_values:
            previous = current_cert
        new.pip_ini = {"path": s.pip_ini, "created": created, "previous_cert": previous}
        base = current if current is not None else PIP_COMMENT + "\r\n"
        text = ini_set(base, "global", "cert", s.bundle_path)
        if current is not None and text == current:
            return None, None
        return {
            "path": s.pip_ini,
            "content": text,
            "backup": current is not None and not created,
            "why": "pip",
        }, None
    # absent, or pip management switched off: undo only what is still ours
    if current is None or current_cert is None or current_cert.lower() not in ours_values:
        if prev.pip_ini and current_cert and current_cert.lower() not in ours_values:
            plan.report.append(f"{pip_path}: cert is now {current_cert}, not ours; left as it is")
        return None, None
    previous = (prev.pip_ini or {}).get("previous_cert")
    created = bool((prev.pip_ini or {}).get("created"))
    if previous:
        text = ini_set(current, "global", "cert", str(previous))
    else:
        text = ini_remove(current, "global", "cert")
        text = "\r\n".join(line for line in text.splitlines() if line.strip() != PIP_COMMENT)
        text = text + "\r\n" if text.strip() else ""
    if created and ini_is_empty(text):
        return None, pip_path
    return {"path": pip_path, "content": text, "backup": not created, "why": "pip cert restored"}, None


def _plan_env(
    s: PlanSettings,
    host: HostState,
    prev: Manifest,
    new: Manifest,
    present: bool,
    ours_values: set[str],
    plan: DoiCertPlan,
) -> None:
    for name in WATCHED_ENV:
        value = host.env.get(name)
        if value and value.lower() not in ours_values and not (present and name in s.env_vars):
            if name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "CONDA_SSL_VERIFY"):
                plan.report.append(
                    f"machine variable {name}={value} overrides conda's ssl_verify for every user "
                    "(requests reads it first; conda/conda#11006): remove it unless that file is intended"
                )
            elif name == "PIP_CERT":
                plan.report.append(f"machine variable PIP_CERT={value} overrides the pip.ini cert")
    for name in ENV_VARS:
        value = host.env.get(name)
        if present and name in s.env_vars:
            if prev.env.get(name) is None and value and value.lower() not in ours_values:
                new.env_previous[name] = value
            elif name in prev.env_previous:
                new.env_previous[name] = prev.env_previous[name]
            new.env[name] = s.bundle_path
            if (value or "").lower() != s.bundle_path.lower():
                plan.env_set.append({"name": name, "value": s.bundle_path})
        elif name in prev.env:
            if value is None or value.lower() not in ours_values:
                if value:
                    plan.report.append(f"machine variable {name} is now {value}, not ours; left as it is")
                continue
            previous = prev.env_previous.get(name)
            if previous:
                plan.env_set.append({"name": name, "value": previous})
            else:
                plan.env_remove.append(name)


def _plan_store(
    s: PlanSettings,
    host: HostState,
    prev: Manifest,
    new: Manifest,
    present: bool,
    certificates: Sequence[Mapping[str, Any]],
    plan: DoiCertPlan,
) -> None:
    wanted = {str(c["sha1"]).upper() for c in certificates} if present and s.windows_store else set()
    imports = []
    for item in plan.store_import:
        if host.store.get(item["thumbprint"]) and item["thumbprint"] not in prev.store:
            plan.report.append(
                f"Root store already trusts {item['subject']} ({item['thumbprint']}); recorded as not ours, "
                "so state=absent leaves it"
            )
            continue
        imports.append(item)
    plan.store_import = [i for i in imports if not host.store.get(i["thumbprint"])]
    new.store = {i["thumbprint"] for i in imports}
    for thumb in sorted(prev.store - wanted):
        if host.store.get(thumb, True):
            plan.store_remove.append(thumb)


def _plan_user_condarc(
    s: PlanSettings,
    host: HostState,
    prev: Manifest,
    new: Manifest,
    present: bool,
    users: Mapping[str, str],
    our_condarcs: Mapping[str, str | None],
    plan: DoiCertPlan,
) -> list[dict[str, Any]]:
    """Report who ends up with another ssl_verify (conda's precedence); edit user files when asked."""
    edits: list[dict[str, Any]] = []
    if not present:
        for path, lines in sorted(prev.user_condarc.items()):
            current = host.text(path)
            if current is None:
                continue
            restored = restore_yaml_lines(current, lines)
            if restored != current:
                edits.append(
                    {"path": path, "content": restored, "backup": True, "why": "user condarc restored"}
                )
        return edits
    if not s.conda:
        return edits
    ours = s.ssl_verify_value
    readers: list[CondaReader | None] = list(_readers_all(s)) or [None]

    def same(value: Any) -> bool:
        return isinstance(value, str) and value.lower() == ours.lower()

    def settings_of(paths: Sequence[str]) -> list[CondarcSetting]:
        found = []
        for path in paths:
            text = our_condarcs[path.lower()] if path.lower() in our_condarcs else host.text(path)
            if text is None:
                continue
            setting, problem = read_ssl_verify(path, text)
            if problem and problem not in plan.report:
                plan.report.append(problem)
            if setting:
                found.append(setting)
        return found

    carried = dict(prev.user_condarc)
    for user in [None, *sorted(users)]:
        # What any reader reads of the user's files (the edits below); each reader's own share decides.
        user_paths: list[str] = []
        for reader in readers if user else []:
            for path in _user_sources(host, users[user], reader):
                if not _ci_in(path, user_paths):
                    user_paths.append(path)
        user_settings = settings_of(user_paths)
        for reader in readers:
            machine = settings_of(machine_sources(host, reader, our_condarcs))
            mine = settings_of(_user_sources(host, users[user], reader)) if user else []
            winner = effective_ssl_verify([*machine, *mine])
            value = winner.value if winner else True
            if same(value):
                continue
            entry = {
                "user": user,
                "conda": reader.label if reader else "conda",
                "effective": value,
                "decided_by": winner.path if winner else "(conda's default: True)",
                "ours": ours,
            }
            if entry in plan.overrides:
                continue
            plan.overrides.append(entry)
            fixed = user and s.manage_user_condarc and winner and _ci_in(winner.path, user_paths)
            if not fixed:
                who = f"user {user}" if user else "every user"
                plan.report.append(
                    f"{who} gets ssl_verify={value!r} for {entry['conda']} from {entry['decided_by']}, "
                    f"not {ours!r}" + ("" if s.condarc_final else " (doi_cert_condarc_final is false)")
                )
        if not (user and s.manage_user_condarc):
            continue
        for setting in user_settings:
            if same(setting.value):
                continue
            new_text, removed = remove_yaml_keys(host.text(setting.path) or "", SSL_KEYS)
            if not removed:
                continue
            edits.append({"path": setting.path, "content": new_text, "backup": True, "why": f"user {user}"})
            carried[setting.path] = carried.get(setting.path, []) + removed
            plan.report.append(f"user {user}: removed {'; '.join(removed)} from {setting.path} (backed up)")
    new.user_condarc = carried
    return edits


# --- from the role's planner arguments (roles/doi_cert/vars/plan.yml) ---------------------------------


def _readers(items: list[dict[str, Any]], kind: str) -> tuple[CondaReader, ...]:
    """CondaReaders from miniconda_installs entries (prefix, flavour), ansible_facts.arcgis entries (id,
    pro_conda_root) or plain {prefix, python_major_minor, label} dicts."""
    readers = []
    for index, item in enumerate(items, 1):
        # An ArcGIS fact's prefix is the arcgispro-py3 env; the conda that reads condarc lives at its root.
        prefix = item.get("pro_conda_root") or item.get("prefix")
        label = item.get("label") or item.get("flavour") or item.get("id") or prefix or f"{kind} #{index}"
        python = item.get("python_major_minor")
        version = item.get("conda_version")
        readers.append(
            CondaReader(
                label=str(label),
                prefix=prefix,
                python_major_minor=str(python) if python else None,
                conda_version=str(version) if version else None,
            )
        )
    return tuple(readers)


def settings_from_args(args: dict[str, Any], host: str) -> PlanSettings:
    return PlanSettings(
        host=host,
        state=args["state"],
        cert_dir=args["cert_dir"],
        bundle_filename=args["bundle_filename"],
        roots_filename=args["roots_filename"],
        manifest_path=args["manifest_path"],
        users=tuple(args["users"]),
        user_dirname=args["user_dirname"],
        conda=args["conda"],
        condarc_locations=tuple(args["condarc_locations"]),
        conda_installs=_readers(args["conda_installs"], "conda install"),
        other_conda_readers=_readers(args["other_conda_readers"], "conda"),
        condarc_filename=args["condarc_filename"],
        ssl_verify=args["ssl_verify"],
        condarc_final=args["condarc_final"],
        manage_user_condarc=args["manage_user_condarc"],
        pip=args["pip"],
        pip_ini=args["pip_ini"],
        env_vars=tuple(args["env_vars"]),
        windows_store=args["windows_store"],
    )
