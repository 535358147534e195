"""Solve each distinct ArcGIS stack once, on the controller, into an explicit conda lockfile.

py-rattler (a conda solver library) solves for win-32/win-64 from Linux. The lock is the file that
`conda list --explicit --md5` writes and `conda create --file` reads: `@EXPLICIT`, then one package
URL per line, dependencies first, each with `#<md5>`. MD5, not SHA256: conda only parses SHA256
anchors since 24.9 (conda/conda#14048) and Miniconda2's last conda (4.8) accepts `#` + 32 hex digits
only; MD5 is what every conda we target verifies.

A channel the controller cannot reach is not fatal: those stacks fall back to a per-host
`conda create` with the pins (the caller says so). Pins no channel can satisfy are fatal, with the
packages and ArcGIS releases named, before any host is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_spec import EnvSpec
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_lock import atomic_write
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.optional_lib import missing

try:
    from rattler import Channel, MatchSpec, PackageName, Subdir
    from rattler.exceptions import FetchRepoDataError, SolverError
    from rattler.networking import fetch_repo_data
    from rattler.repo_data import PackageFormatSelection, RepoDataRecord, SparseRepoData
    from rattler.solver import solve_with_sparse_repodata
except ImportError as _exc:  # optional: the feature that needs it fails, naming it
    RATTLER_IMPORT_ERROR: ImportError | None = _exc
    _why = "to solve the arcgis_env lockfiles on the controller"
    Channel = missing("Channel", "py-rattler", _why, _exc)
    MatchSpec = missing("MatchSpec", "py-rattler", _why, _exc)
    PackageName = missing("PackageName", "py-rattler", _why, _exc)
    Subdir = missing("Subdir", "py-rattler", _why, _exc)
    FetchRepoDataError = missing("FetchRepoDataError", "py-rattler", _why, _exc)
    SolverError = missing("SolverError", "py-rattler", _why, _exc)
    fetch_repo_data = missing("fetch_repo_data", "py-rattler", _why, _exc)
    PackageFormatSelection = missing("PackageFormatSelection", "py-rattler", _why, _exc)
    RepoDataRecord = missing("RepoDataRecord", "py-rattler", _why, _exc)
    SparseRepoData = missing("SparseRepoData", "py-rattler", _why, _exc)
    solve_with_sparse_repodata = missing("solve_with_sparse_repodata", "py-rattler", _why, _exc)
else:
    RATTLER_IMPORT_ERROR = None

LOCK_HEADER = "# arcgis-conda fleet lock"
_FORMATS = {
    "tar_bz2": PackageFormatSelection.ONLY_TAR_BZ2,
    "prefer_conda": PackageFormatSelection.PREFER_CONDA,
}
_FILENAME = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)-(?P<build>[^-]+)\.(?:tar\.bz2|conda)$")


class UnsatisfiableError(Exception):
    """The channels cannot satisfy a stack's pins: names the packages, releases and the fix."""


class ChannelUnreachable(Exception):
    """The controller cannot read a channel's repodata."""


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    build: str
    url: str
    md5: str

    @property
    def line(self) -> str:
        return f"{self.url}#{self.md5}" if self.md5 else self.url

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "build": self.build, "line": self.line}


@dataclass(frozen=True)
class Lock:
    key: str
    platform: str
    packages: tuple[LockedPackage, ...]

    def render(self, spec: EnvSpec | None = None) -> str:
        lines = [
            f"{LOCK_HEADER} {self.key}",
            "# This file may be used to create an environment using:",
            "# $ conda create --prefix <env> --file <this file>",
        ]
        if spec is not None:
            lines.append("# specs: " + " ".join(spec.match_specs))
            lines.append("# channels: " + " ".join(spec.channels))
        lines += [f"# platform: {self.platform}", "@EXPLICIT", *(p.line for p in self.packages)]
        return "\n".join(lines) + "\n"


@dataclass
class LockOutcome:
    """What the fleet gets for one spec key."""

    key: str
    status: str  # solved | reused | fallback
    path: str = ""
    packages: list[dict[str, str]] = field(default_factory=list)
    message: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "status": self.status,
            "path": self.path,
            "packages": self.packages,
            "message": self.message,
        }


def parse_filename(filename: str) -> tuple[str, str, str]:
    match = _FILENAME.match(filename)
    if not match:
        raise ValueError(f"not a conda package file name: {filename!r}")
    return match["name"], match["version"], match["build"]


def parse_explicit(text: str) -> tuple[str, list[LockedPackage]]:
    """(spec key or '', packages) of an explicit file; the reverse of ``Lock.render``."""
    key = ""
    packages: list[LockedPackage] = []
    explicit = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(LOCK_HEADER):
            key = line[len(LOCK_HEADER) :].strip()
        if not line or line.startswith("#"):
            continue
        if line == "@EXPLICIT":
            explicit = True
            continue
        if not explicit:
            raise ValueError("not an explicit conda file: a package line comes before @EXPLICIT")
        url, _sep, md5 = line.partition("#")
        name, version, build = parse_filename(url.rsplit("/", 1)[-1])
        packages.append(LockedPackage(name, version, build, url, md5))
    if not explicit:
        raise ValueError("not an explicit conda file: no @EXPLICIT line")
    return key, packages


def dependency_order(records: Sequence[RepoDataRecord]) -> list[RepoDataRecord]:
    """Dependencies before dependants (conda does not solve an explicit file); ties alphabetical."""
    by_name = {r.name.normalized: r for r in records}
    deps = {
        name: {d.split()[0].lower() for d in r.depends} & set(by_name) - {name} for name, r in by_name.items()
    }
    ordered: list[RepoDataRecord] = []
    done: set[str] = set()
    while len(done) < len(by_name):
        ready = sorted(n for n in by_name if n not in done and deps[n] <= done)
        if not ready:  # a dependency cycle: keep going alphabetically rather than fail
            ready = [min(n for n in by_name if n not in done)]
        for name in ready:
            ordered.append(by_name[name])
            done.add(name)
    return ordered


def _channel_probe(url: str, subdir: str, timeout: float) -> str | None:
    """Why the controller cannot read ``url/subdir/repodata.json`` (None when it can).

    Checked with ansible-core's ``open_url`` before py-rattler fetches: py-rattler 0.28 can crash the
    interpreter at exit when a fetch fails while its background tasks are still running.
    """
    target = f"{url.rstrip('/')}/{subdir}/repodata.json"
    parsed = urllib.parse.urlparse(target)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
        return None if path.is_file() else f"{path} does not exist"
    if parsed.scheme not in ("http", "https"):
        return f"unsupported channel URL scheme {parsed.scheme!r}"
    try:
        with open_url(target, method="HEAD", timeout=timeout, follow_redirects="safe"):
            return None
    except urllib.error.HTTPError as exc:
        if exc.code in (403, 405):  # some mirrors refuse HEAD; py-rattler's GET decides
            return None
        return f"HTTP {exc.code} for {target}"
    except (urllib.error.URLError, OSError, UrlsConnectionError) as exc:
        return f"{target}: {getattr(exc, 'reason', exc)}"


class Locker:
    """Fetches each channel/subdir once and solves each distinct spec once (``solves`` counts them)."""

    def __init__(
        self,
        cache_dir: str | os.PathLike[str],
        mirrors: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.mirrors = {k.rstrip("/"): v.rstrip("/") for k, v in (mirrors or {}).items()}
        self.timeout = timeout
        self.solves = 0
        self._repodata: dict[tuple[str, str], SparseRepoData] = {}
        self._locks: dict[str, Lock] = {}

    def close(self) -> None:
        for repodata in self._repodata.values():
            repodata.close()
        self._repodata.clear()

    def _source(self, channel: str) -> str:
        return self.mirrors.get(channel, channel)

    def repodata(self, channel: str, subdir: str) -> SparseRepoData:
        cached = self._repodata.get((channel, subdir))
        if cached is not None:
            return cached
        source = self._source(channel)
        problem = _channel_probe(source, subdir, self.timeout)
        if problem:
            raise ChannelUnreachable(f"cannot read channel {source} ({subdir}): {problem}")
        try:
            fetched = asyncio.run(
                fetch_repo_data(
                    channels=[Channel(source)],
                    platforms=[Subdir(subdir)],
                    cache_path=self.cache_dir,
                    callback=None,
                )
            )
        except FetchRepoDataError as exc:
            raise ChannelUnreachable(f"cannot read channel {source} ({subdir}): {exc}") from exc
        self._repodata[(channel, subdir)] = fetched[0]
        return fetched[0]

    def sources(self, spec: EnvSpec) -> list[SparseRepoData]:
        """Channel order is priority order (py-rattler's strict channel priority)."""
        return [self.repodata(c, s) for c in spec.channels for s in (spec.platform, "noarch")]

    def lock(self, spec: EnvSpec, who: str = "") -> Lock:
        cached = self._locks.get(spec.key)
        if cached is not None:
            return cached
        sources = self.sources(spec)
        self.solves += 1
        try:
            records = asyncio.run(
                solve_with_sparse_repodata(
                    specs=spec.match_specs,
                    sparse_repodata=sources,
                    package_format_selection=_FORMATS[spec.package_format],
                )
            )
        except SolverError as exc:
            raise UnsatisfiableError(self._explain(spec, sources, str(exc), who)) from exc
        packages = tuple(
            LockedPackage(
                name=r.name.normalized,
                version=str(r.version),
                build=str(r.build),
                url=self._host_url(r.url),
                md5=r.md5.hex() if r.md5 else "",
            )
            for r in dependency_order(records)
        )
        lock = Lock(key=spec.key, platform=spec.platform, packages=packages)
        self._locks[spec.key] = lock
        return lock

    def _host_url(self, url: str) -> str:
        for channel, mirror in self.mirrors.items():
            if url.startswith(mirror + "/"):
                return channel + url[len(mirror) :]
        return url

    @staticmethod
    def _explain(spec: EnvSpec, sources: Sequence[SparseRepoData], solver: str, who: str) -> str:
        missing = []
        for text in spec.match_specs:
            match = MatchSpec(text)
            name = PackageName(match.name.normalized)
            if not any(match.matches(r) for s in sources for r in s.load_records(name)):
                missing.append(text)
        if missing:
            problem = "no package in the channels satisfies " + ", ".join(missing)
        else:
            problem = "the pinned packages exist but cannot be installed together"
        first_line = solver.strip().splitlines()[0] if solver.strip() else solver
        return (
            f"cannot lock the Python stack of {who or 'an ArcGIS install'} for {spec.platform}: {problem} "
            f"(channels: {', '.join(spec.channels)}; solver: {first_line}). Fix: point arcgis_env_channels "
            f"(or arcgis_env_channel_base) at a channel or mirror that carries these {spec.platform} builds, "
            "or drop the conflicting arcgis_env_extra_packages."
        )


def read_lock(path: Path, key: str) -> Lock | None:
    """A lock written earlier for this exact spec key (a lock is only refreshed on request)."""
    try:
        found, packages = parse_explicit(path.read_text())
    except (OSError, ValueError):
        return None
    if found != key:
        return None
    platform = ""
    for line in path.read_text().splitlines():
        if line.startswith("# platform:"):
            platform = line.split(":", 1)[1].strip()
    return Lock(key=key, platform=platform, packages=tuple(packages))


def lock_fleet(
    specs: Mapping[str, EnvSpec],
    who: Mapping[str, Iterable[str]],
    lock_dir: str | os.PathLike[str],
    locker: Locker,
    refresh: bool = False,
    write: bool = True,
) -> dict[str, LockOutcome]:
    """Lock every distinct spec (solving each once), or mark it for fallback when its channel is unreachable.

    Raises UnsatisfiableError, naming every stack that cannot be solved, before anything is written.
    """
    directory = Path(lock_dir)
    with contextlib.ExitStack() as held:
        guarded = False

        def guard() -> None:
            # Two planners sharing the lock folder at once (the slices of one AWX sliced job) solve each
            # stack once: before its first solve, a planner waits for the other's, then reads its locks.
            # The guard file sits beside the folder: a stack nobody can solve leaves no lock folder behind.
            nonlocal guarded
            if guarded or not write:
                return
            guarded = True
            directory.parent.mkdir(parents=True, exist_ok=True)
            handle = held.enter_context(
                open(directory.parent / f".{directory.name}.solving", "a", encoding="utf-8")
            )
            fcntl.flock(handle, fcntl.LOCK_EX)

        return _lock_fleet(specs, who, directory, locker, refresh, write, guard)


def _lock_fleet(
    specs: Mapping[str, EnvSpec],
    who: Mapping[str, Iterable[str]],
    directory: Path,
    locker: Locker,
    refresh: bool,
    write: bool,
    guard: Callable[[], None],
) -> dict[str, LockOutcome]:
    outcomes: dict[str, LockOutcome] = {}
    errors: list[str] = []
    rendered: dict[str, str] = {}
    for key in sorted(specs):
        spec = specs[key]
        path = directory / f"{key}.txt"
        label = ", ".join(sorted(who.get(key, ()))) or key
        existing = None if refresh else read_lock(path, key)
        if existing is None and not refresh:
            guard()  # then another planner's lock for this key may have appeared
            existing = read_lock(path, key)
        elif refresh:
            guard()
        if existing is not None:
            outcomes[key] = LockOutcome(key, "reused", str(path), [p.to_dict() for p in existing.packages])
            continue
        try:
            lock = locker.lock(spec, label)
        except ChannelUnreachable as exc:
            outcomes[key] = LockOutcome(
                key,
                "fallback",
                message=(
                    f"{label}: {exc}. Hosts with this stack run `conda create` with the pins "
                    f"({' '.join(spec.match_specs)}) instead of installing a lock, "
                    "so they solve on the workstation."
                ),
            )
            continue
        except UnsatisfiableError as exc:
            errors.append(str(exc))
            continue
        rendered[key] = lock.render(spec)
        outcomes[key] = LockOutcome(key, "solved", str(path), [p.to_dict() for p in lock.packages])
    if errors:
        raise UnsatisfiableError(" | ".join(errors))
    if write and rendered:
        directory.mkdir(parents=True, exist_ok=True)
        for key, text in rendered.items():
            # A unique temporary name: two runs (or planners) writing one key never share it.
            atomic_write(directory / f"{key}.txt", text)
    return outcomes
