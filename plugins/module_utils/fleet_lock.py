"""One run at a time per fleet state: a lock file in its state folder (``.cache/run.lock``); atomic writes.

Two runs over the same fact cache, locks and reports overwrite each other's facts and reports and race on
the same hosts (``prefix already exists``). ``site.yml`` and ``playbooks/uninstall.yml`` take this lock
before observe and release it after the last batch. The lock records who holds it (pid, controller host,
the process's start time, playbook, user, when); a holder whose process is gone (a killed controller) is
stale and is broken with a warning, so a crash never blocks the next run.

The slices of one AWX sliced job are one run on disjoint hosts: they share the lock (``run`` names the
workflow job), each slice joining it as a member, and the last one out removes it. No Ansible imports.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO


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
    run: str = ""  # what the jobs of one run share (an AWX sliced job: its workflow job), else ""

    def describe(self) -> str:
        who = f"pid {self.pid} on {self.host}, by {self.user or '?'}, since {self.since}"
        job = f", {self.run}" if self.run else ""
        return f"{self.playbook or 'a run'} ({who}{job})"

    def same_process(self, other: Holder) -> bool:
        return self.pid == other.pid and self.host == other.host


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


def _holder(raw: dict) -> Holder:
    return Holder(**{k: raw[k] for k in Holder.__dataclass_fields__ if k in raw})


def read_holders(path: Path) -> list[Holder] | None:
    """Everyone holding the lock, the taker first (the slices that joined it after); None when free."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [_holder(raw), *(_holder(m) for m in raw.get("members") or [])]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return [Holder(0, "?", 0.0, "?", f"an unreadable lock file ({path})", "")]


def read_holder(path: Path) -> Holder | None:
    found = read_holders(path)
    return found[0] if found else None


def _write_holders(handle: TextIO, holders: list[Holder]) -> None:
    data = {**asdict(holders[0]), "members": [asdict(h) for h in holders[1:]]}
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(data))
    handle.flush()


def _still_there(handle: TextIO, path: Path) -> bool:
    """Whether the open file is still the lock at ``path`` (not one its last holder removed meanwhile)."""
    try:
        return os.fstat(handle.fileno()).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def me(pid: int, playbook: str, run: str = "") -> Holder:
    return Holder(
        pid=pid,
        host=socket.gethostname(),
        started=process_start(pid),
        since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        playbook=playbook,
        user=os.environ.get("USER") or os.environ.get("USERNAME") or "",
        run=run,
    )


def _join(path: Path, mine: Holder) -> bool:
    """Join a lock another slice of the same run took (under an advisory lock of the file); False when the
    lock is gone or now belongs to another run."""
    try:
        handle = open(path, "r+", encoding="utf-8")  # noqa: SIM115 (closed below, after the flock)
    except FileNotFoundError:
        return False
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        holders = read_holders(path) if _still_there(handle, path) and handle.read(1) else None
        if not holders or holders[0].run != mine.run:
            return False
        if not any(h.same_process(mine) for h in holders):
            _write_holders(handle, [*holders, mine])
        return True


def acquire(path: Path, mine: Holder) -> str:
    """Take the lock for ``mine`` (again, when it already holds it: each serial batch asks). Returns a
    warning when a stale lock was broken; raises LockHeld naming the other run and how to break it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    warning = ""
    for _attempt in range(50):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if _being_written(path):
                time.sleep(0.1)  # taken this instant: its holder is writing who it is
                continue
            holders = read_holders(path)
            if holders is None:
                continue  # released between the two calls: try again
            held = holders[0]
            if any(h.same_process(mine) for h in holders):
                return warning
            if mine.run and held.run == mine.run:
                if _join(path, mine):
                    return warning
                continue  # the other slice released it meanwhile: take it
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
                f"restarted, or its AWX job was cancelled), break the stale lock: rm '{path}'"
            )
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            json.dump({**asdict(mine), "members": []}, handle)
        return warning
    raise LockHeld(f"could not take the run lock {path}: it changed hands repeatedly; run again")


def _being_written(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except FileNotFoundError:
        return False


def release(path: Path, pid: int) -> bool:
    """Leave the lock when this process holds it, and remove it when no other slice of the run still does;
    True when this process held it."""
    try:
        handle = open(path, "r+", encoding="utf-8")  # noqa: SIM115 (closed below, after the flock)
    except FileNotFoundError:
        return False
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        holders = (read_holders(path) or []) if _still_there(handle, path) else []
        here = socket.gethostname()
        rest = [h for h in holders if not (h.pid == pid and h.host == here)]
        if len(rest) == len(holders):
            return False
        if rest:
            _write_holders(handle, rest)
        else:
            path.unlink(missing_ok=True)
        return True
