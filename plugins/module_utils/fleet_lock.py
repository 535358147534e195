"""One run at a time per fleet state: a lock file beside the fact cache, and atomic writes.

Two runs over the same fact cache, locks and reports overwrite each other's facts and reports and race on
the same hosts (``prefix already exists``). ``site.yml`` and ``playbooks/uninstall.yml`` take this lock
before observe and release it after the last batch. The lock records who holds it (pid, controller host,
the process's start time, playbook, user, when); a holder whose process is gone (a killed controller) is
stale and is broken with a warning, so a crash never blocks the next run. No Ansible imports.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path


class LockHeld(RuntimeError):
    """Another live run holds the fleet state's lock."""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    started: float  # the process's own start (boot-relative ticks on Linux, else 0): a reused pid differs
    since: str  # when the lock was taken, UTC ISO 8601
    playbook: str
    user: str

    def describe(self) -> str:
        who = f"pid {self.pid} on {self.host}, by {self.user or '?'}, since {self.since}"
        return f"{self.playbook or 'a run'} ({who})"


def process_start(pid: int) -> float:
    """The process's start time in clock ticks after boot (Linux /proc), 0 where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return float(fields[19])
    except (OSError, IndexError, ValueError):
        return 0.0


def alive(holder: Holder, here: str) -> bool | None:
    """Whether the holder's process still runs; None when it runs on another controller (cannot tell)."""
    if holder.host != here:
        return None
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's live process
    started = process_start(holder.pid)
    return not (holder.started and started and started != holder.started)


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write through a temporary file of a unique name in the same folder, then rename over ``path``: a
    reader sees the old file or the new one, and two writers never share a temporary file."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_holder(path: Path) -> Holder | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Holder(**{k: raw[k] for k in Holder.__dataclass_fields__})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return Holder(0, "?", 0.0, "?", f"an unreadable lock file ({path})", "")


def me(pid: int, playbook: str) -> Holder:
    return Holder(
        pid=pid,
        host=socket.gethostname(),
        started=process_start(pid),
        since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        playbook=playbook,
        user=os.environ.get("USER") or os.environ.get("USERNAME") or "",
    )


def acquire(path: Path, mine: Holder) -> str:
    """Take the lock for ``mine`` (again, when it already holds it: each serial batch asks). Returns a
    warning when a stale lock was broken; raises LockHeld naming the other run and how to break it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    warning = ""
    for _attempt in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            held = read_holder(path)
            if held is None:
                continue  # released between the two calls: try again
            if held.pid == mine.pid and held.host == mine.host:
                return warning
            running = alive(held, mine.host)
            if running is False:
                warning = f"broke a stale run lock: {held.describe()} is no longer running ({path})"
                # Rename first, so of two runs breaking the same stale lock only one removes it.
                try:
                    os.replace(path, f"{path}.stale-{mine.pid}")
                    Path(f"{path}.stale-{mine.pid}").unlink(missing_ok=True)
                except FileNotFoundError:
                    pass
                continue
            where = "is running" if running else f"may be running on {held.host} (another controller)"
            raise LockHeld(  # noqa: B904 (not an error in the handler: the lock is taken)
                f"another run of this fleet state {where}: {held.describe()}. Two runs at once overwrite "
                f"each other's facts and reports and race on the same workstations, so this run stops before "
                f"observing any host. Wait for it to finish; if it is gone (its controller crashed or was "
                f"restarted), break the stale lock: rm '{path}'"
            )
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(mine), handle)
        return warning
    raise LockHeld(f"could not take the run lock {path}: it changed hands repeatedly; run again")


def release(path: Path, pid: int) -> bool:
    """Remove the lock when this process holds it; True when removed."""
    held = read_holder(path)
    if held is None or held.pid != pid or held.host != socket.gethostname():
        return False
    path.unlink(missing_ok=True)
    return True


def lock_path(fact_cache: str | os.PathLike[str]) -> Path:
    """The lock of the fleet state kept in ``fact_cache``: a file beside that folder (not in it, where the
    jsonfile cache would take it for a host)."""
    folder = Path(fact_cache)
    return folder.parent / f"{folder.name}.run.lock"
