"""A Windows host in memory for the doi_cert planner tests (module_utils/doi_cert_plan.py): gives the
planner its :class:`HostState` as doi_cert_role.doi_cert_host_state reads it from the observed snapshot,
and applies a plan in the order of the changes doi_cert_role.doi_cert_changes lists (the whole flow runs
in tests/simwin instead).

Paths are case-insensitive, as on NTFS. It is strict where Windows is: a file can only be written into
an existing folder (the role creates folders first), a certificate can only be imported from an existing
file, and backups are written beside the file like ansible.windows' Backup-File.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_plan import (
    WATCHED_ENV,
    HostState,
    PlanSettings,
    observed_paths,
)


def parent(path: str) -> str:
    return path.rstrip("\\").rsplit("\\", 1)[0]


@dataclass
class FakeHost:
    files: dict[str, tuple[str, str]] = field(default_factory=dict)  # lower -> (path, text)
    dirs: dict[str, str] = field(default_factory=dict)  # lower -> path
    profiles: list[dict[str, str]] = field(default_factory=list)  # {account, path}
    env: dict[str, str] = field(default_factory=dict)
    store: set[str] = field(default_factory=set)
    backups: int = 0

    # --- set-up helpers
    def mkdir(self, path: str) -> bool:
        created = False
        parts = path.split("\\")
        for i in range(1, len(parts) + 1):
            p = "\\".join(parts[:i])
            if len(p) > 2 and p.lower() not in self.dirs:
                self.dirs[p.lower()] = p
                created = True
        return created

    def put(self, path: str, text: str) -> None:
        self.mkdir(parent(path))
        self.files[path.lower()] = (path, text)

    def add_profile(self, account: str, path: str) -> None:
        self.profiles.append({"account": account, "path": path})
        self.mkdir(path)

    def text(self, path: str) -> str | None:
        entry = self.files.get(path.lower())
        return entry[1] if entry else None

    def listing(self, path: str) -> list[str] | None:
        if path.lower() not in self.dirs:
            return None
        prefix = path.lower().rstrip("\\") + "\\"
        originals = list(self.dirs.items()) + [(k, v[0]) for k, v in self.files.items()]
        return sorted(
            orig.rsplit("\\", 1)[-1]
            for key, orig in originals
            if key.startswith(prefix) and "\\" not in key[len(prefix) :]
        )

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                "files": dict(sorted(self.files.items())),
                "dirs": sorted(self.dirs),
                "env": dict(sorted(self.env.items())),
                "store": sorted(self.store),
            }
        )

    # --- what the planner sees (doi_cert_plan.observed_paths, the record's paths, the listed users' files)
    def scan(self, s: PlanSettings, thumbprints: list[str]) -> HostState:
        paths = observed_paths(s)
        files: dict[str, str | None] = {}
        dirs: dict[str, list[str] | None] = {}

        def add_file(path: str) -> None:
            if path and path not in files:
                files[path] = self.text(path)

        def add_dir(path: str) -> None:
            if not path or path in dirs:
                return
            dirs[path] = self.listing(path)
            if path.rsplit("\\", 1)[-1].lower() == "condarc.d":
                for name in dirs[path] or []:
                    if name.lower().endswith((".yml", ".yaml")):
                        add_file(path + "\\" + name)

        thumbprints = [t.upper() for t in thumbprints]
        add_file(s.manifest_path)
        manifest_text = files[s.manifest_path]
        if manifest_text:
            try:
                manifest = json.loads(manifest_text)
            except ValueError:
                manifest = None
            if isinstance(manifest, dict):
                for d in manifest.get("dirs") or []:
                    add_dir(d)
                thumbprints += manifest.get("store") or []
                if manifest.get("pip_ini") and manifest["pip_ini"].get("path"):
                    add_file(manifest["pip_ini"]["path"])
                for p in manifest.get("user_condarc") or {}:
                    add_file(p)
        for f in paths.files:
            add_file(f)
        for d in paths.dirs:
            add_dir(d)
        profiles: dict[str, list[dict[str, str]]] = {}
        for user in paths.users:
            found = [
                p
                for p in self.profiles
                if p["account"].lower() == user.lower()
                or p["account"].split("\\")[-1].lower() == user.lower()
            ]
            profiles[user] = found
            if len(found) == 1:
                for rel in paths.user_files:
                    add_file(found[0]["path"] + "\\" + rel)
                for rel in paths.user_dirs:
                    add_dir(found[0]["path"] + "\\" + rel)
        return HostState(
            {
                "files": files,
                "dirs": dirs,
                "profiles": profiles,
                "env": {n: self.env.get(n) for n in WATCHED_ENV},
                "store": {t: t.upper() in self.store for t in thumbprints},
            }
        )

    # --- the apply step (same order as roles/doi_cert/tasks/apply.yml)
    def apply(self, plan: dict[str, Any], manifest_path: str) -> list[str]:
        """Apply ``plan``; return what changed, like the role's tasks would report."""
        changed: list[str] = []
        for d in plan["create_dirs"]:
            if self.mkdir(d):
                changed.append(f"dir {d}")
        for item in plan["write_files"]:
            path = item["path"]
            assert parent(path).lower() in self.dirs, f"win_copy into a missing folder: {path}"
            current = self.text(path)
            if current == item["content"]:
                continue
            if item["backup"] and current is not None:
                self.backups += 1
                self.files[(path + f".4242.2026010{self.backups}-000000.bak").lower()] = (
                    path + f".4242.2026010{self.backups}-000000.bak",
                    current,
                )
            self.files[path.lower()] = (path, item["content"])
            changed.append(f"write {path}")
        for item in plan["store_import"]:
            assert self.text(item["path"]) is not None, f"import from a missing file: {item['path']}"
            if item["thumbprint"] not in self.store:
                self.store.add(item["thumbprint"])
                changed.append(f"import {item['thumbprint']}")
        for item in plan["env_set"]:
            if self.env.get(item["name"]) != item["value"]:
                self.env[item["name"]] = item["value"]
                changed.append(f"env {item['name']}")
        for name in plan["env_remove"]:
            if self.env.pop(name, None) is not None:
                changed.append(f"env -{name}")
        for thumb in plan["store_remove"]:
            if thumb in self.store:
                self.store.discard(thumb)
                changed.append(f"store -{thumb}")
        for path in plan["remove_files"]:
            if self.files.pop(path.lower(), None) is not None:
                changed.append(f"rm {path}")
        for d in plan["remove_dirs"]:
            prefix = d.lower() + "\\"
            for key in [k for k in self.files if k.startswith(prefix)]:
                del self.files[key]
            for key in [k for k in self.dirs if k.startswith(prefix) or k == d.lower()]:
                del self.dirs[key]
            changed.append(f"rmdir {d}")
        if plan.get("manifest_text") is not None:
            assert parent(manifest_path).lower() in self.dirs
            if self.text(manifest_path) != plan["manifest_text"]:
                self.files[manifest_path.lower()] = (manifest_path, plan["manifest_text"])
                changed.append("manifest")
        if plan.get("remove_manifest") and self.files.pop(manifest_path.lower(), None) is not None:
            changed.append("rm manifest")
        return changed


def dump(host: FakeHost) -> str:
    """JSON state, for the stand-in ansible.windows modules of tests/integration/test_doi_cert_role_e2e.py."""
    return json.dumps(
        {
            "files": host.files,
            "dirs": host.dirs,
            "profiles": host.profiles,
            "env": host.env,
            "store": sorted(host.store),
            "backups": host.backups,
        }
    )


def load(text: str) -> FakeHost:
    data = json.loads(text)
    return FakeHost(
        files={k: (v[0], v[1]) for k, v in data["files"].items()},
        dirs=data["dirs"],
        profiles=data["profiles"],
        env=data["env"],
        store=set(data["store"]),
        backups=data["backups"],
    )
