"""Build the fleet's exact-subset conda mirror on the controller (playbooks/mirror.yml).

Input: the fleet's locks (their lines are ``<mirror>/<channel path>/<subdir>/<file>#<md5>``, see
package_sources.py) and the installers the plan chose. Each package file is downloaded once from its
upstream channel, checked against the lock's MD5 and the upstream repodata's SHA-256 and size, and
written into ``<dest>/<channel path>/<subdir>/``; then each channel is indexed by py-rattler's indexer
(``rattler.index.index_fs``), which reads every package file and writes its ``repodata.json``. A file
already in the mirror with the right hashes is not fetched again, so a re-run fetches nothing; a file
whose bytes do not match is refused (never written) and named. Files the locks no longer name are
removed (``prune``), so the mirror's repodata lists exactly what the fleet installs.

The network is one ``fetch(url) -> bytes`` callable (``url_fetcher``: ansible-core's ``open_url``), so
tests count requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import package_sources as ps
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_lock import parse_explicit

SUBDIRS = ("win-32", "win-64", "noarch")


class MirrorError(ValueError):
    """The mirror cannot be built as asked: names the lock, file or variable and the fix."""


@dataclass(frozen=True)
class Wanted:
    """One file the mirror must hold."""

    path: str  # relative to the mirror root, '/'-separated
    upstream: str
    md5: str = ""
    sha256: str = ""
    size: int = -1
    who: str = ""  # the lock or installer that needs it

    def problem(self, data: bytes) -> str:
        """Why these bytes are not the file ('' when they are)."""
        if self.size >= 0 and len(data) != self.size:
            return f"size {len(data)}, expected {self.size}"
        if self.md5 and hashlib.md5(data).hexdigest() != self.md5:  # noqa: S324 - conda's lock hash
            return f"md5 {hashlib.md5(data).hexdigest()}, expected {self.md5}"  # noqa: S324
        if self.sha256 and hashlib.sha256(data).hexdigest() != self.sha256:
            return f"sha256 {hashlib.sha256(data).hexdigest()}, expected {self.sha256}"
        if not (self.md5 or self.sha256):
            return "no hash to check it against"
        return ""


@dataclass
class MirrorResult:
    fetched: list[str] = field(default_factory=list)
    fetched_bytes: int = 0
    kept: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    files: int = 0
    size: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "fetched": len(self.fetched),
            "fetched_files": self.fetched,
            "fetched_bytes": self.fetched_bytes,
            "kept": len(self.kept),
            "refused": self.refused,
            "removed": self.removed,
            "channels": self.channels,
            "files": self.files,
            "size": self.size,
            "seconds": round(self.seconds, 3),
        }


def relative(url: str, mirror: str) -> str:
    base = mirror.rstrip("/") + "/"
    if not url.startswith(base):
        raise MirrorError(
            f"{url} is not on the mirror {mirror}: the lock was written for other channels. Fix: keep "
            "fleet_package_mirror set and run playbooks/mirror.yml again (it locks against the mirror)."
        )
    rel = urllib.parse.unquote(url[len(base) :])
    if ".." in rel.split("/") or rel.startswith("/"):
        raise MirrorError(f"{url}: not a path inside the mirror")
    return rel


def wanted_from_locks(
    locks: Mapping[str, str], mirror: str, controller_map: Mapping[str, str]
) -> dict[str, Wanted]:
    """Every package file of the locks (``{name: text}``), once, with its upstream URL and lock MD5."""
    out: dict[str, Wanted] = {}
    for name in sorted(locks):
        _key, packages = parse_explicit(locks[name])
        for package in packages:
            rel = relative(package.url, mirror)
            upstream = ps.upstream_url(package.url, controller_map)
            if upstream == package.url:
                raise MirrorError(f"{name}: no upstream channel is known for {package.url}")
            seen = out.get(rel)
            if seen is not None and package.md5 and seen.md5 and seen.md5 != package.md5:
                raise MirrorError(
                    f"{rel}: {seen.who} and {name} lock different files (md5 {seen.md5} vs {package.md5}). "
                    "Fix: refresh the locks (arcgis_env_lock_refresh: true) so they agree."
                )
            if seen is None:
                out[rel] = Wanted(rel, upstream, md5=package.md5, who=name)
    return out


def wanted_installers(installs: Iterable[Mapping[str, Any]]) -> dict[str, Wanted]:
    """The installers the plan chose, for ``<mirror>/installers/``, each with the SHA-256 it must have."""
    out: dict[str, Wanted] = {}
    for install in installs:
        installer = install.get("installer") or {}
        if not installer.get("upstream"):
            continue
        rel = f"{ps.INSTALLERS_DIR}/{installer['file']}"
        out.setdefault(
            rel,
            Wanted(
                rel,
                str(installer["upstream"]),
                sha256=str(installer["sha256"]).lower(),
                who=str(install.get("label")),
            ),
        )
    return out


def with_repodata(wanted: Mapping[str, Wanted], lookup: Callable[[str], Mapping[str, Any] | None]) -> dict:
    """Add each package's SHA-256 and size from its upstream repodata (``lookup(upstream url)``)."""
    out = {}
    for rel, item in wanted.items():
        record = lookup(item.upstream) if not rel.startswith(ps.INSTALLERS_DIR + "/") else None
        if record:
            md5 = str(record.get("md5") or "")
            if item.md5 and md5 and md5 != item.md5:
                raise MirrorError(
                    f"{rel}: the lock {item.who} says md5 {item.md5}, the upstream repodata {md5}: the "
                    "upstream file changed since the lock was written. Fix: refresh the locks "
                    "(arcgis_env_lock_refresh: true)."
                )
            item = Wanted(
                item.path,
                item.upstream,
                item.md5 or md5,
                str(record.get("sha256") or ""),
                int(record.get("size") if record.get("size") is not None else -1),
                item.who,
            )
        out[rel] = item
    return out


def verified(path: Path, item: Wanted) -> bool:
    try:
        return not item.problem(path.read_bytes())
    except OSError:
        return False


def _index(channel: Path) -> None:
    from rattler.index import index_fs

    for subdir in SUBDIRS:
        (channel / subdir).mkdir(parents=True, exist_ok=True)
    asyncio.run(index_fs(channel, write_zst=False, write_shards=False, force=True))
    shutil.rmtree(channel / ".tmp", ignore_errors=True)


def build_mirror(
    dest: str | os.PathLike[str],
    wanted: Mapping[str, Wanted],
    fetch: Callable[[str], bytes],
    channels: Iterable[str] = (),
    prune: bool = True,
) -> MirrorResult:
    """Fetch what is missing, verify it, index every channel. ``channels``: channel paths hosts name
    (their condarc too) that must exist even when empty."""
    started = time.perf_counter()
    root = Path(dest)
    result = MirrorResult()
    for rel in sorted(wanted):
        item = wanted[rel]
        target = root / rel
        if target.is_file() and verified(target, item):
            result.kept.append(rel)
            continue
        try:
            data = fetch(item.upstream)
        except OSError as exc:
            result.refused.append(f"{rel}: cannot download {item.upstream}: {exc}")
            continue
        problem = item.problem(data)
        if problem:
            result.refused.append(f"{rel}: downloaded from {item.upstream} with {problem}; not written")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        tmp.write_bytes(data)
        tmp.replace(target)
        result.fetched.append(rel)
        result.fetched_bytes += len(data)
    package_channels = {
        rel.rsplit("/", 2)[0] for rel in wanted if not rel.startswith(ps.INSTALLERS_DIR + "/")
    }
    result.channels = sorted(package_channels | {c.strip("/") for c in channels if c.strip("/")})
    if prune:
        result.removed = _prune(root, set(wanted), result.channels)
    for channel in result.channels:
        _index(root / channel)
        indexed = set(read_index(root, channel))
        expected = {rel[len(channel) + 1 :] for rel in wanted if rel.startswith(channel + "/")}
        expected &= {
            r[len(channel) + 1 :] for r in (*result.kept, *result.fetched) if r.startswith(channel + "/")
        }
        if indexed != expected:
            result.refused.append(
                f"{channel}: the index lists {sorted(indexed - expected)} it should not and lacks "
                f"{sorted(expected - indexed)}"
            )
    for path in sorted(root.rglob("*")):
        if path.is_file():
            result.files += 1
            result.size += path.stat().st_size
    result.seconds = time.perf_counter() - started
    return result


def _prune(root: Path, wanted: set[str], channels: Iterable[str]) -> list[str]:
    """Package files and installers the locks no longer name (repodata is rewritten by the indexer)."""
    removed = []
    folders = [root / ps.INSTALLERS_DIR] + [root / c / s for c in channels for s in SUBDIRS]
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            rel = path.relative_to(root).as_posix()
            package = path.name.endswith((".tar.bz2", ".conda", ".exe"))
            if path.is_file() and (package or path.name.endswith(".part")) and rel not in wanted:
                path.unlink()
                removed.append(rel)
    return removed


def read_index(dest: str | os.PathLike[str], channel: str) -> dict[str, dict[str, Any]]:
    """``{subdir/filename: record}`` of a channel's repodata as the indexer wrote it."""
    import json

    out = {}
    for subdir in SUBDIRS:
        path = Path(dest) / channel / subdir / "repodata.json"
        if not path.is_file():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        for section in ("packages", "packages.conda"):
            for filename, record in (data.get(section) or {}).items():
                out[f"{subdir}/{filename}"] = record
    return out


def url_fetcher(timeout: float = 60.0, ca_file: str | None = None) -> Callable[[str], bytes]:
    """Download over http(s) (or read file://), trusting only ``ca_file`` when given (e.g. the DOI bundle).

    ansible-core's ``open_url`` (proxies from the environment, as urllib); its certificate failures are
    raised as OSError like every other network error, which is what the callers handle."""

    def fetch(url: str) -> bytes:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme == "file":
            return Path(urllib.request.url2pathname(parsed.path)).read_bytes()
        if parsed.scheme not in ("http", "https"):
            raise OSError(f"unsupported URL scheme {parsed.scheme!r}")
        try:
            with open_url(url, timeout=timeout, ca_path=ca_file, follow_redirects="safe") as response:
                return response.read()
        except UrlsConnectionError as exc:
            raise OSError(f"{url}: {exc}") from None

    return fetch


def repodata_lookup(locker: Any) -> Callable[[str], dict[str, Any] | None]:
    """``lookup(upstream package URL)`` -> its upstream repodata record (md5, sha256, size), read
    through an arcgis_env_lock.Locker (py-rattler's cached fetch: the lock step already has it)."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_lock import parse_filename
    from rattler import PackageName

    def lookup(url: str) -> dict[str, Any] | None:
        channel, subdir, filename = url.rsplit("/", 2)
        name, _version, _build = parse_filename(filename)
        for record in locker.repodata(channel, subdir).load_records(PackageName(name)):
            if record.file_name == filename:
                return {
                    "md5": record.md5.hex() if record.md5 else "",
                    "sha256": record.sha256.hex() if record.sha256 else "",
                    "size": record.size,
                }
        return None

    return lookup
