"""The simulator's independent call counter: one JSON line per exec_command/put_file in calls.jsonl."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

CALLS = "calls.jsonl"


def log_call(state_dir: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one call record (the caller holds the host lock; appends are also flocked)."""
    path = Path(state_dir) / CALLS
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        fcntl.flock(handle, fcntl.LOCK_UN)


def calls(state_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every call the host answered, in order."""
    path = Path(state_dir) / CALLS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


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
