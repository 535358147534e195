"""conda's configuration as each account's conda sees it: envs_dirs, pkgs_dirs, and where envs go.

Every rule below is read in conda's source (conda/conda at 0f64223f, 2026-08-21; the same logic since
conda 4.4 for the parts the lab's Miniconda2 4.8.3 and Pro's 23.7.4 use):

- Search path (conda/base/constants.py ``SEARCH_PATH``, Windows): ``C:/ProgramData/conda/.condarc``,
  ``condarc``, ``condarc.d/``, then ``$CONDA_ROOT/{.condarc,condarc,condarc.d/}``,
  ``$XDG_CONFIG_HOME/conda/...`` (when set), ``~/.config/conda/...``,
  ``~/.conda/{.condarc,condarc,condarc.d/}``,
  ``~/.condarc``, ``$CONDA_PREFIX/...`` (when set), ``$CONDARC``. A ``condarc.d`` folder contributes its
  ``*.yml``/``*.yaml`` files (conda/common/configuration.py ``YAML_EXTENSIONS``) in name order.
- Lists merge with the files later in the search path first, duplicates dropped
  (conda/common/configuration.py ``SequenceParameter``: "reverse because elements closer to the end of
  search path take precedence"): a student's own ``~\\.condarc`` entries come before the machine's.
- Environment variables ``CONDA_<KEY>`` are a source after every file of the search path
  (conda/common/configuration.py ``Configuration._set_env_vars`` after ``_set_search_path``;
  ``EnvRawParameter`` splits a sequence's value on ``,``, its ``string_delimiter``), so with the merge above
  ``CONDA_PKGS_DIRS`` entries come before every condarc's pkgs_dirs (4.8.3 as today).
- ``expand`` = ``abspath(expanduser(expandvars(path)))`` (conda/common/path ``expand``): ``~`` and
  ``%VAR%`` are the *running account's* (``%USERPROFILE%``, ...), so one machine file means a folder per user.
- envs_dirs (conda/base/context.py ``mockable_context_envs_dirs``): the configured folders, then
  ``<root>\\envs`` and ``~\\.conda\\envs`` (root first only when ``root_writable``: conda can open
  ``<root>\\conda-meta\\history`` for append, context ``root_writable``), then
  ``user_data_dir("conda", "conda")\\envs`` = ``%LOCALAPPDATA%\\conda\\conda\\envs`` (platformdirs,
  roaming=False), deduplicated.
- pkgs_dirs (context ``pkgs_dirs``): the configured folders when any, else ``<root>\\pkgs``,
  ``~\\.conda\\pkgs``, ``%LOCALAPPDATA%\\conda\\conda\\pkgs``.
- ``conda create -n NAME`` goes to the first *writable* envs dir (conda/gateways/disk/create.py
  ``first_writable_envs_dir``: an existing ``.conda_envs_dir_test`` opened for append, else
  ``create_envs_directory`` creates the folder and that file; EACCES/EPERM skip to the next;
  NoWritableEnvsDirError when none).
- Downloads go to the first writable package cache (conda/core/package_cache_data.py
  ``PackageCacheData.first_writable``: ``urls.txt`` writable, or the cache created with it; NotWritableError
  skips); packages already in any cache of pkgs_dirs are not downloaded again (the caches are read).
- ``-n NAME`` of an existing env (``--clone NAME``, ``install -n``) is the first ``<envs_dir>\\NAME`` folder
  (conda/base/context.py ``locate_prefix_by_name``; EnvironmentNameNotFound otherwise).
- ``conda env list`` (conda/core/envs_manager.py ``list_all_known_prefixes``): the prefixes in the
  account's ``~\\.conda\\environments.txt`` (an administrator's conda reads every profile's), every conda
  env in each existing envs dir, and the root. A new env is appended to the creator's environments.txt
  (``register_env``).
"""

from __future__ import annotations

import ntpath
import re
from typing import Any

import yaml

from . import host as H

SEARCH_PATH = (
    "C:\\ProgramData\\conda\\.condarc",
    "C:\\ProgramData\\conda\\condarc",
    "C:\\ProgramData\\conda\\condarc.d",
    "$CONDA_ROOT\\.condarc",
    "$CONDA_ROOT\\condarc",
    "$CONDA_ROOT\\condarc.d",
    "$XDG_CONFIG_HOME\\conda\\.condarc",
    "$XDG_CONFIG_HOME\\conda\\condarc",
    "$XDG_CONFIG_HOME\\conda\\condarc.d",
    "~\\.config\\conda\\.condarc",
    "~\\.config\\conda\\condarc",
    "~\\.config\\conda\\condarc.d",
    "~\\.conda\\.condarc",
    "~\\.conda\\condarc",
    "~\\.conda\\condarc.d",
    "~\\.condarc",
    "$CONDA_PREFIX\\.condarc",
    "$CONDA_PREFIX\\condarc",
    "$CONDA_PREFIX\\condarc.d",
    "$CONDARC",
)
ENVS_MAGIC = ".conda_envs_dir_test"
PKGS_MAGIC = "urls.txt"
ENVIRONMENTS_TXT = "~\\.conda\\environments.txt"


class NotWritable(Exception):
    """conda's NoWritableEnvsDirError / NoWritablePkgsDirError: the message conda prints."""


class Config:
    """One account's conda (root ``root``) configuration, read from the simulated host as that account."""

    def __init__(
        self, host: H.Host, actor: H.Principal, root: str, env: dict[str, str] | None = None
    ) -> None:
        self.host, self.actor, self.root = host, actor, H.norm_path(root)
        self.env = {k.upper(): v for k, v in host.user_env(actor).items()}
        self.env.update({k.upper(): str(v) for k, v in (env or {}).items()})
        self.env["CONDA_ROOT"] = self.root
        self.files = self._files()
        self.data = [self._load(path) for path in self.files]

    # -- reading --
    def expand(self, path: str) -> str:
        """conda's expand: %VAR% / $VAR, then ~, then abspath, for this account."""
        text = re.sub(r"%([^%]+)%", lambda m: self.env.get(m.group(1).upper(), m.group(0)), str(path))
        text = re.sub(r"\$(\w+)", lambda m: self.env.get(m.group(1).upper(), m.group(0)), text)
        if text == "~" or text.startswith(("~\\", "~/")):
            text = self.env["USERPROFILE"] + text[1:]
        return H.norm_path(text)

    def _files(self) -> list[str]:
        found: list[str] = []
        for entry in SEARCH_PATH:
            var = re.match(r"^\$(\w+)", entry)
            if var and var.group(1) not in self.env:
                continue
            path = self.expand(entry)
            node = self.host.node(path)
            if node is None:
                continue
            if node["type"] == "dir":
                found += [
                    c["path"]
                    for c in self.host.children(path)
                    if c["type"] == "file" and c["path"].lower().endswith((".yml", ".yaml"))
                ]
            else:
                found.append(node["path"])
        return found

    def _load(self, path: str) -> dict[str, Any]:
        try:
            data = yaml.safe_load(self.host.read_bytes(path, self.actor).decode("utf-8-sig"))
        except (H.WinError, yaml.YAMLError):
            return {}
        return data if isinstance(data, dict) else {}

    def sequence(self, key: str) -> list[str]:
        """A list parameter merged as conda's SequenceParameter does: later sources first (the environment
        variable CONDA_<KEY>, then the files from last to first), no duplicates."""
        merged: list[str] = []
        for item in (self.env.get(f"CONDA_{key.upper()}") or "").split(","):
            if item.strip() and item.strip() not in merged:
                merged.append(item.strip())
        for data in reversed(self.data):
            for item in data.get(key) or []:
                if item not in merged:
                    merged.append(item)
        return merged

    # -- the derived folders --
    @property
    def root_writable(self) -> bool:
        node = self.host.node(ntpath.join(self.root, "conda-meta", "history"))
        return bool(node) and self.host.allowed(node, self.actor, H.WRITE_DATA)

    @property
    def user_data_dir(self) -> str:
        return ntpath.join(self.env["LOCALAPPDATA"], "conda", "conda")

    @property
    def envs_dirs(self) -> list[str]:
        root_envs, user_envs = ntpath.join(self.root, "envs"), "~\\.conda\\envs"
        fixed = [root_envs, user_envs] if self.root_writable else [user_envs, root_envs]
        fixed.append(ntpath.join(self.user_data_dir, "envs"))
        return _unique(self.expand(p) for p in [*self.sequence("envs_dirs"), *fixed])

    @property
    def pkgs_dirs(self) -> list[str]:
        configured = self.sequence("pkgs_dirs")
        if configured:
            return _unique(self.expand(p) for p in configured)
        fixed = [self.root, "~\\.conda", self.user_data_dir]
        return _unique(self.expand(ntpath.join(p, "pkgs")) for p in fixed)

    # -- writing: first writable --
    def _touch(self, folder: str, magic: str) -> bool:
        """Open folder\\magic for append, creating both when missing; False on access denied."""
        path = ntpath.join(folder, magic)
        try:
            if self.host.is_file(path):
                node = self.host.node(path)
                return self.host.allowed(node, self.actor, H.WRITE_DATA | H.APPEND_DATA)
            self.host.mkdir(folder, self.actor, parents=True)
            self.host.write(path, b"", self.actor)
        except H.WinError as err:
            if err.kind in ("denied", "missing_parent"):
                return False
            raise
        return True

    def first_writable_envs_dir(self) -> str:
        for folder in self.envs_dirs:
            if self._touch(folder, ENVS_MAGIC):
                return folder
        raise NotWritable(
            "NoWritableEnvsDirError: No writeable envs directories configured.\n"
            + "".join(f"  - {d}\n" for d in self.envs_dirs)
        )

    def first_writable_pkgs_dir(self) -> str:
        for folder in self.pkgs_dirs:
            if self._touch(folder, PKGS_MAGIC):
                return folder
        raise NotWritable(
            "NoWritablePkgsDirError: No writeable pkgs directories configured.\n"
            + "".join(f"  - {d}\n" for d in self.pkgs_dirs)
        )

    def cached(self, name: str, version: str, build: str) -> str | None:
        """The cache of pkgs_dirs this account can read that holds the package (extracted), or None."""
        for folder in self.pkgs_dirs:
            node = self.host.node(folder)
            readable = node is not None and self.host.allowed(node, self.actor, H.READ_DATA)
            if readable and self.host.is_dir(ntpath.join(folder, f"{name}-{version}-{build}")):
                return folder
        return None

    def download(self, records: list[tuple[str, str, str, str]]) -> list[str]:
        """Fetch the packages no cache holds into the first writable cache; the folders written."""
        written = []
        missing = [r for r in records if not self.cached(r[0], r[1], r[2])]
        if not missing:
            return written
        cache = self.first_writable_pkgs_dir()
        urls = ntpath.join(cache, PKGS_MAGIC)
        lines = self.host.read_bytes(urls, self.actor) if self.host.is_file(urls) else b""
        for name, version, build, channel in missing:
            folder = ntpath.join(cache, f"{name}-{version}-{build}")
            self.host.mkdir(ntpath.join(folder, "info"), self.actor, parents=True)
            lines += f"{channel}/{name}-{version}-{build}.conda\n".encode()
            written.append(folder)
        self.host.write(urls, lines, self.actor)
        return written

    # -- names --
    def locate(self, name: str) -> str | None:
        if name in ("base", "root"):
            return self.root
        for folder in self.envs_dirs:
            prefix = ntpath.join(folder, name)
            if self.host.is_dir(folder) and self.host.is_dir(prefix):
                return prefix
        return None

    def register(self, prefix: str) -> None:
        path = self.expand(ENVIRONMENTS_TXT)
        try:
            old = self.host.read_bytes(path, self.actor).decode() if self.host.is_file(path) else ""
            if H.key_of(prefix) not in {H.key_of(p) for p in old.splitlines() if p.strip()}:
                self.host.mkdir(H.parent_of(path) or path, self.actor, parents=True)
                self.host.write(path, (old + H.norm_path(prefix) + "\n").encode(), self.actor)
        except H.WinError:
            return  # conda ignores a profile it cannot write here (register_env's try/except)

    def known_prefixes(self) -> list[str]:
        homes = [self.env["USERPROFILE"]]
        if self.actor.admin:
            homes = [c["path"] for c in self.host.children(H.parent_of(homes[0]) or "C:\\Users")]
        found: dict[str, str] = {}
        for home in homes:
            txt = ntpath.join(home, ".conda", "environments.txt")
            try:
                text = self.host.read_bytes(txt, self.actor).decode() if self.host.is_file(txt) else ""
            except H.WinError:
                continue  # PermissionError: skipped with a warning
            for line in text.splitlines():
                if line.strip() and self.host.is_dir(ntpath.join(line.strip(), "conda-meta")):
                    found.setdefault(H.key_of(line), H.norm_path(line.strip()))
        for folder in self.envs_dirs:
            for child in self.host.children(folder) if self.host.is_dir(folder) else []:
                if child["type"] == "dir" and self.host.is_file(
                    ntpath.join(child["path"], "conda-meta", "history")
                ):
                    found.setdefault(H.key_of(child["path"]), child["path"])
        found.setdefault(H.key_of(self.root), self.root)
        return sorted(found.values(), key=str.lower)

    def env_list(self, active: str | None = None) -> str:
        """``conda env list``'s text: name (when the prefix is in an envs dir, else blank), *, prefix."""
        lines = ["# conda environments:", "#"]
        envs = {H.key_of(d) for d in self.envs_dirs}
        for prefix in self.known_prefixes():
            if H.key_of(prefix) == H.key_of(self.root):
                name = "base"
            elif H.key_of(H.parent_of(prefix) or "") in envs:
                name = ntpath.basename(prefix)
            else:
                name = ""
            star = "*" if active and H.key_of(active) == H.key_of(prefix) else " "
            lines.append(f"{name:<25} {star}  {prefix}")
        return "\n".join(lines) + "\n\n"


def _unique(paths: Any) -> list[str]:
    out: list[str] = []
    for path in paths:
        if H.key_of(path) not in {H.key_of(p) for p in out}:
            out.append(path)
    return out
