"""The simulator's independent call counter: one JSON line per exec_command/put_file in calls.jsonl."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

CALLS = "calls.jsonl"


def append_lines(path: str | os.PathLike[str], records: list[dict[str, Any]]) -> None:
    """Append JSON lines under an exclusive lock (several simulated connections may write at once)."""
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        for record in records:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
        fcntl.flock(handle, fcntl.LOCK_UN)


def read_lines(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every JSON line of ``path``, in order ([] when it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def log_call(state_dir: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one call record (the caller holds the host lock; appends are also flocked)."""
    append_lines(Path(state_dir) / CALLS, [record])


def calls(state_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every call the host answered, in order."""
    return read_lines(Path(state_dir) / CALLS)


def summary(state_dir: str | os.PathLike[str]) -> dict[str, int]:
    """{module_calls, raw_commands, put_files, changed, failed} for one host."""
    records = calls(state_dir)
    return {
        "module_calls": sum(r["kind"] == "module" for r in records),
        "raw_commands": sum(r["kind"] == "raw" for r in records),
        "put_files": sum(r["kind"] == "put_file" for r in records),
        "changed": sum(bool(r.get("changed")) and r["kind"] == "module" for r in records),
        "failed": sum(bool(r.get("failed")) for r in records),
    }


def reset_calls(state_dir: str | os.PathLike[str]) -> None:
    (Path(state_dir) / CALLS).write_text("", encoding="utf-8")
