"""From each role's plan and the observed host to the exact list of changes, and to the checks after.

Observe → plan → apply → verify (see site.yml). The roles' own planners (``miniconda_plan``,
``doi_cert_plan``, ``arcgis_env_spec``/``arcgis_env_host``, ``startup_bridge_plan``) decide the desired
state; this module compares it with the host's :class:`~fleet_host.Snapshot` and emits only what differs,
as plain records::

    {"role": "doi_cert", "step": "files", "action": "write", "target": "C:\\...\\ca-bundle.pem",
     "reason": "CA bundle", "item": {...what the step's module gets...}}

``step`` is how the change is applied: ``files`` (batched into one ``apply_files`` call per run of
consecutive file changes), ``download`` (win_get_url), ``host_copy`` (win_copy remote_src), ``upload``
(win_copy from the controller), ``fetch`` (get_url on the controller), ``package`` (win_package),
``command`` (win_command), ``env_var`` (win_environment), ``cert`` (win_certificate_store).
Check mode prints this list and applies nothing; the apply applies exactly this list.

Each role also says what observe must read (``*_reads``) and what verify runs and reads
(``*_verify``), and judges the verify answers (``judge_*``). No Ansible imports.
"""

from __future__ import annotations

import hashlib
import json
import ntpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import Read, Snapshot

ROLES = ("miniconda", "doi_cert", "arcgis_env", "startup_bridge")
ROOT = Path(__file__).resolve().parents[2]


class UntrustedPath(ValueError):
    """A folder the run would install into or run code from exists and is not an administrator's."""


# Files in a Python's site-packages that run code at every start of that Python (site.py reads .pth
# files and imports sitecustomize/usercustomize): a user's copy there would run in the admin run.
STARTUP_FILES = ("*.pth", "sitecustomize.py", "usercustomize.py")


def change(role: str, step: str, action: str, target: str, reason: str, item: Mapping[str, Any]) -> dict:
    return {
        "role": role,
        "step": step,
        "action": action,
        "target": target,
        "reason": reason,
        "item": dict(item),
    }


def brief(item: Mapping[str, Any]) -> dict[str, Any]:
    """A change without its payload (file bytes), for reports and check-mode output."""
    return {**item, "item": {k: v for k, v in item["item"].items() if k != "content_b64"}}


def sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


class Changes:
    """A role's change list, built against the snapshot; skips what the host already has."""

    def __init__(
        self,
        role: str,
        snapshot: Snapshot,
        planned: dict[str, str],
        gone: set[str] | None = None,
        trusted: list[str] | None = None,
    ) -> None:
        self.role = role
        self.snapshot = snapshot
        self.items: list[dict[str, Any]] = []
        # lower path -> role: folders/files other roles of this run already plan (mkdir once, fleet-wide).
        self.planned = planned
        # Paths this run deletes, whichever role deletes them: a folder is removed once all it holds is.
        self.gone = gone if gone is not None else set()
        self.quarantined: list[str] = []
        # Every path the run makes the admin trust (folders secured, files written), all roles: the audit.
        self.trusted_paths = trusted if trusted is not None else []

    def in_profile(self, path: str) -> bool:
        k = fh.key(path)
        homes = [fh.key(str(p.get("path"))) for p in self.snapshot.profiles if p.get("path")]
        return any(k.startswith(h + "\\") for h in homes)

    def is_gone(self, path: str) -> bool:
        k = fh.key(path)
        return any(k == g or k.startswith(g + "\\") for g in self.gone)

    def _add(self, step: str, action: str, target: str, reason: str, item: Mapping[str, Any]) -> None:
        self.items.append(change(self.role, step, action, target, reason, item))

    def mkdir(self, path: str, reason: str) -> None:
        k = fh.key(path)
        if self.planned.get(k) or self.snapshot.is_dir(path):
            return
        parent = ntpath.dirname(path.rstrip("\\"))
        if parent and parent != path and not re.fullmatch(r"[A-Za-z]:\\?", parent):
            self.mkdir(parent, reason)
        self.planned[k] = self.role
        self._add("files", "mkdir", path, reason, {"op": "mkdir", "path": path})

    def write(
        self, path: str, content: bytes | str, reason: str, backup: bool = False, secret: bool = False
    ) -> None:
        data = content.encode("utf-8") if isinstance(content, str) else content
        k = fh.key(path)
        mine = self.in_profile(path)  # a user's own profile: theirs to change, never the admin run's trust
        if not mine:
            self.trusted_paths.append(path)
        if self.planned.get(k) is None and not self.is_gone(path):
            entry = self.snapshot.entry(path)
            if not mine and entry.type == "file" and entry.owner is None:
                raise fh.NotObserved(f"{path} (owner and ACL: read it with detail)")
            if not mine and entry.type == "file" and not entry.trusted():
                # Not written by an admin (a user planted or owns it): never trusted, moved aside first, so
                # ours is a new file that inherits the folder's admin-only ACL (an overwrite keeps the owner).
                self.quarantine(path, f"{reason}: the file there is not an administrator's")
            elif self.snapshot.sha256(path) == sha256(data):
                return
        self.planned[k] = self.role
        self._add("files", "write", path, reason, fh.write_item(path, data, backup))
        if secret:
            self.items[-1]["secret"] = True  # its bytes hold a password: every task that carries it hides it

    def refuse_untrusted_folder(self, path: str, what: str) -> None:
        """Stop before installing into or running from a folder a user made (its content is theirs)."""
        entry = self.snapshot.entry(path)
        if entry.type == "dir" and entry.owner not in fh.ADMIN_SIDS:
            raise UntrustedPath(
                f"{path} already exists and is owned by {entry.owner}, not an administrator, so {what} would "
                "run whatever was put there. Fix: inspect it, delete it (or move it away), and run again."
            )

    def quarantine_startup_files(self, prefix: str) -> None:
        """A user's .pth or *customize.py in site-packages: moved aside before the run trusts it."""
        site = ntpath.join(prefix, "Lib", "site-packages")
        for pattern in STARTUP_FILES:
            try:
                paths = self.snapshot.glob(ntpath.join(site, pattern))
            except fh.NotObserved:
                paths = []
            for path in paths:
                # By owner: a user's file is planted. An admin's file users could change (Esri's .pth in a
                # folder Windows left writable) is kept; securing the folder stops further changes.
                owner = self.snapshot.entry(path).owner
                if owner is not None and owner not in fh.ADMIN_SIDS and not self.is_gone(path):
                    self.quarantine(path, "runs at every start of this Python and is not an administrator's")

    def _parent_trusted(self, path: str) -> bool:
        parent = ntpath.dirname(path.rstrip("\\"))
        if self.planned.get("secure:" + fh.key(parent)):
            return True
        if self.planned.get(fh.key(parent)) is not None:
            return self._parent_trusted(parent)
        try:
            return self.snapshot.entry(parent).trusted()
        except fh.NotObserved:
            return False

    def quarantine(self, path: str, reason: str) -> None:
        """Move a file the admin run must not trust aside (``<path>.untrusted``), for an admin to inspect."""
        aside = path + ".untrusted"
        self._add("files", "copy", aside, reason, {"op": "copy", "src": path, "path": aside, "force": True})
        self._add("files", "delete", path, reason, {"op": "delete", "path": path})
        self.gone.add(fh.key(path))
        self.quarantined.append(path)

    def copy(self, src: str, path: str, reason: str, force: bool = True) -> None:
        if not force and self.snapshot.exists(path):
            return
        self.planned[fh.key(path)] = self.role
        self._add("files", "copy", path, reason, {"op": "copy", "src": src, "path": path, "force": force})

    def delete(self, path: str, reason: str) -> None:
        if self.is_gone(path) or not self.snapshot.exists(path):
            return
        self.gone.add(fh.key(path))
        self._add("files", "delete", path, reason, {"op": "delete", "path": path})

    def forget(self, path: str) -> None:
        """A folder a program of this run removes (conda remove --all, an uninstaller)."""
        self.gone.add(fh.key(path))

    def rmdir_empty(self, path: str, reason: str) -> None:
        """Remove a folder when it holds nothing once this run's deletions are done."""
        if self.is_gone(path):
            return
        listing = self.snapshot.listing(path)
        if listing is None:
            return
        if all(self.is_gone(ntpath.join(path, name)) for name in listing):
            self.gone.add(fh.key(path))
            self._add("files", "rmdir_empty", path, reason, {"op": "rmdir_empty", "path": path})

    def secure(self, path: str, reason: str) -> None:
        """Make a folder the admin run trusts admin-only (owner Administrators, no inheritance, SYSTEM and
        Administrators full, Users read & execute), recursively; nothing when it already is."""
        k = "secure:" + fh.key(path)
        self.trusted_paths.append(path)
        if self.planned.get(k) or self.is_gone(path):
            return
        created = self.planned.get(fh.key(path)) is not None
        if not created and self.snapshot.entry(path).trusted():
            return
        if created and self._parent_trusted(path):
            return  # a new folder inherits its admin-only parent's ACL
        self.planned[k] = self.role
        self._add("files", "secure", path, reason, {"op": "secure", "path": path})

    def other(self, step: str, action: str, target: str, reason: str, item: Mapping[str, Any]) -> None:
        self._add(step, action, target, reason, item)

    def creates(self, prefix: str, subdirs: Iterable[str] = ()) -> None:
        """Folders an installer or conda will have made by the time later changes run."""
        for path in (prefix, *(ntpath.join(prefix, sub) for sub in subdirs)):
            self.planned.setdefault(fh.key(path), self.role)


def group_steps(changes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive changes of one role and step kind, so each ``files`` run costs one module call."""
    steps: list[dict[str, Any]] = []
    for item in changes:
        if steps and steps[-1]["role"] == item["role"] and steps[-1]["kind"] == item["step"] == "files":
            steps[-1]["changes"].append(item)
        else:
            steps.append({"role": item["role"], "kind": item["step"], "changes": [item]})
    for index, step in enumerate(steps):
        step["index"] = index
    return steps


# --- miniconda ----------------------------------------------------------------------------------------

TRUSTED = "the admin run executes or reads it: only administrators may change it"
# Every Python the admin run starts ignores PYTHON* variables (-E) and the user site (-s), on 2.7 and 3.x.
ISOLATED = ("-E", "-s")
# What a Miniconda (constructor) install lays out; conda envs get the same but envs/, pkgs/ and Scripts/.
MINICONDA_DIRS = ("Lib", "Lib\\site-packages", "conda-meta", "envs", "pkgs", "Scripts", "condabin", "DLLs")
ENV_DIRS = ("Lib", "Lib\\site-packages", "conda-meta")


def miniconda_reads(inputs: Any) -> list[Read]:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_plan as mp

    prefixes, _rest = mp.resolve_prefixes(inputs.prefixes)
    download_dir = mp.check_download_dir(inputs.download_dir)
    reads = [
        Read(mp.CONDARC_PATH, content=True),
        Read(mp.CONDARC_ORIGINAL),
        Read(ntpath.dirname(mp.CONDARC_PATH), "dir"),
        Read(download_dir, "dir"),
        Read(ntpath.dirname(download_dir), "dir"),
    ]
    for name, prefix in prefixes.items():
        reads.append(Read(prefix, "dir"))
        product = mp.installer_product(name, inputs.installer_files.get(name))  # Miniforge3's uninstaller
        reads += [Read(path) for path in mp.expected_files(name, prefix, product)]
        reads.append(Read(ntpath.join(prefix, mp.INSTALL_MARKER_NAME)))
    return reads


def render_condarc(marker: str, settings: Mapping[str, Any]) -> str:
    """The system-wide condarc: CRLF line ends (a Windows file, as win_template wrote it), scalars as
    JSON, which YAML reads back exactly."""
    lines = [
        f"{marker} Local edits are overwritten on the next run.",
        "# Decided by arcgis_conda.fleet (role miniconda). SSL settings are not here: role doi_cert keeps "
        "them in",
        "# C:\\ProgramData\\conda\\condarc.d\\. CRLF line ends, which YAML and conda read as line breaks.",
    ]
    for name, value in settings.items():
        if isinstance(value, Mapping) and value:
            lines.append(f"{name}:")
            lines += [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()]
        elif isinstance(value, list | tuple) and value:
            lines.append(f"{name}:")
            lines += [f"  - {json.dumps(v)}" for v in value]
        else:
            lines.append(f"{name}: {json.dumps(value)}")
    return "\r\n".join(lines) + "\r\n"


def miniconda_changes(plan: Mapping[str, Any], snap: Snapshot, c: Changes) -> None:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_plan as mp

    condarc = plan["condarc"]
    if plan["state"] == "absent":
        for removal in plan["removals"]:
            if not snap.exists(removal["marker"]):
                continue
            if snap.exists(removal["uninstaller"]):
                c.other(
                    "package",
                    "uninstall",
                    removal["prefix"],
                    f"remove {removal['label']}",
                    {
                        "path": removal["uninstaller"],
                        "arguments": removal["uninstall_arguments"],
                        "creates_path": removal["uninstaller"],
                        "expected_return_code": [0],
                        "state": "absent",
                    },
                )
            c.other(
                "files",
                "delete",
                removal["prefix"],
                "what the uninstaller leaves",
                {"op": "delete", "path": removal["prefix"]},
            )
            c.forget(removal["prefix"])
        c.delete(plan["download_dir"], "the installer folder this role owns")
        text = snap.text(condarc["path"])
        ours = text is None or mp.condarc_is_managed(text)
        if text is not None and ours:
            c.delete(condarc["path"], "the system-wide condarc this role wrote")
        if ours and snap.exists(condarc["original"]):
            c.copy(condarc["original"], condarc["path"], "put back the condarc from before this role")
            c.delete(condarc["original"], "the kept copy, now back in place")
        elif ours:
            c.rmdir_empty(
                condarc["dir"], "the system-wide conda folder, empty once this role's files are gone"
            )
        root = ntpath.dirname(plan["download_dir"])
        if root.count("\\") >= 2:  # never C:\ProgramData itself
            c.rmdir_empty(root, "the fleet's own folder, empty once every role's files are gone")
        return

    if plan["installs"]:
        c.mkdir(plan["download_dir"], "installer folder")
        root = ntpath.dirname(plan["download_dir"])
        c.secure(root if root.count("\\") >= 2 else plan["download_dir"], TRUSTED)
    for install in plan["installs"]:
        if snap.exists(install["conda_exe"]):
            continue
        c.refuse_untrusted_folder(install["prefix"], f"installing {install['label']}")
        installer = install["installer"]
        dest = installer["dest"]
        have = snap.exists(dest)
        if not have:
            kind = installer["source_kind"]
            if kind == "url":
                c.other(
                    "download",
                    "download",
                    dest,
                    f"installer {installer['file']} from {installer['source']}",
                    {
                        "url": installer["source"],
                        "dest": dest,
                        "checksum": installer["sha256"],
                        "checksum_algorithm": "sha256",
                        "force": False,
                        **({"proxy_url": plan["download_proxy"]} if plan.get("download_proxy") else {}),
                    },
                )
            elif kind == "host_path":
                c.other(
                    "host_copy",
                    "copy",
                    dest,
                    f"installer {installer['file']} from {installer['source']}",
                    {"src": installer["source"], "dest": dest, "remote_src": True},
                )
            else:
                if installer.get("fetch_url"):
                    c.other(
                        "fetch",
                        "download to the controller",
                        installer["source"],
                        f"installer {installer['file']}",
                        {
                            "url": installer["fetch_url"],
                            "dest": installer["source"],
                            "checksum": f"sha256:{installer['sha256']}",
                            "mode": "0644",
                        },
                    )
                c.other(
                    "upload",
                    "upload",
                    dest,
                    f"installer {installer['file']} from the controller",
                    {"src": installer["source"], "dest": dest},
                )
        c.other(
            "package",
            "install",
            install["prefix"],
            install["label"],
            {
                "path": dest,
                "arguments": install["arguments_string"],
                "creates_path": install["conda_exe"],
                "checksum": installer["sha256"],
                "checksum_algorithm": "sha256",
                "expected_return_code": [0, 3010],
                "state": "present",
            },
        )
        c.creates(install["prefix"], MINICONDA_DIRS)
        c.secure(install["prefix"], TRUSTED)
        marker = json.dumps(
            {"flavour": install["flavour"], "installer": installer["file"], "sha256": installer["sha256"]},
            indent=4,
            sort_keys=True,
        )
        c.write(install["marker"], marker, "mark the folder as installed by this role")

    for install in plan["installs"]:
        c.secure(install["prefix"], TRUSTED)  # an install found there, or made earlier: conda runs from it
    if condarc.get("manage"):
        entry = snap.entry(condarc["path"])
        text = snap.text(condarc["path"]) if entry.trusted() else None
        c.mkdir(condarc["dir"], "system-wide conda settings")
        c.secure(condarc["dir"], TRUSTED)
        if text is not None and not mp.condarc_is_managed(text):
            c.copy(
                condarc["path"], condarc["original"], "keep the condarc from before this role", force=False
            )
        c.write(
            condarc["path"],
            render_condarc(condarc["marker"], condarc.get("settings") or {}),
            "channels, mirror, proxy and timeouts for every conda",
            backup=True,
            secret=bool(condarc.get("secret")),
        )


def miniconda_verify(plan: Mapping[str, Any]) -> tuple[list[Read], list[dict[str, Any]]]:
    if plan["state"] != "present":
        return [], []
    reads = [Read(path) for install in plan["installs"] for path in install["expected_files"]]
    runs = [
        {"id": f"miniconda-{i['flavour']}", "argv": [i["conda_exe"], "--version"], "timeout": 120}
        for i in plan["installs"]
    ]
    runs += [
        {"id": f"arcgis-{p['id']}", "argv": [p["python_exe"], *ISOLATED, "-c", "import sys"], "timeout": 120}
        for p in plan["arcgis_pythons"]
    ]
    return reads, runs


def judge_miniconda(plan: Mapping[str, Any], snap: Snapshot, host: str) -> list[str]:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_plan as mp

    problems = []
    for install in plan["installs"] if plan["state"] == "present" else []:
        run = snap.runs.get(f"miniconda-{install['flavour']}") or {}
        present = {path: snap.exists(path) for path in install["expected_files"]}
        rc = run.get("rc") if not run.get("error") else None
        judged = mp.judge_install(install, present, rc, fh.run_output(run), host)
        if not judged["ok"]:
            problems.append(judged["message"])
    for python in plan["arcgis_pythons"] if plan["state"] == "present" else []:
        run = snap.runs.get(f"arcgis-{python['id']}") or {}
        if run.get("rc") != 0:
            problems.append(
                f"{host}: ArcGIS Python {python['python_exe']} ({python['id']}) no longer starts "
                f"(rc {run.get('rc')}, {run.get('error') or str(run.get('stderr') or '')[:200]!r}). Fix: "
                "repair ArcGIS; the miniconda role never touches its Python."
            )
    return problems


# --- doi_cert ------------------------------------------------------------------------------------------


def doi_cert_paths(
    params: Mapping[str, Any], manifest_text: str | None, profiles: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[str], dict[str, list[dict[str, Any]]]]:
    """(files, folders, profiles per listed user) the doi_cert plan looks at: the scan parameters
    (``doi_cert_plan.scan_parameters``), what the previous run's record names, and the files of each
    listed user whose profile is unambiguous. Observe reads them; the plan's scan then uses them."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_plan import Manifest

    prev, _rest = Manifest.parse(manifest_text)
    files = list(params["Files"]) + sorted(prev.files) + list(prev.user_condarc or {})
    if prev.pip_ini and isinstance(prev.pip_ini, Mapping) and prev.pip_ini.get("path"):
        files.append(str(prev.pip_ini["path"]))
    dirs = list(params["Dirs"]) + sorted(prev.dirs)
    by_user: dict[str, list[dict[str, Any]]] = {}
    for user in params["Users"]:
        found = by_user[user] = match_profiles(profiles, user)
        if len(found) == 1:  # several: the plan stops on the ambiguity, naming the profiles
            files += [ntpath.join(found[0]["path"], rel) for rel in params["UserFiles"]]
            dirs += [ntpath.join(found[0]["path"], rel) for rel in params["UserDirs"]]
    return files, dirs, by_user


def doi_cert_reads(params: Mapping[str, Any], manifest_text: str | None, profiles: Sequence[Mapping]) -> list:
    """Reads for what the doi_cert plan looks at (:func:`doi_cert_paths`; call 1 of observe has already
    read the previous run's record and the profiles)."""
    files, dirs, _rest = doi_cert_paths(params, manifest_text, profiles)
    reads = [Read(params["ManifestPath"], content=True)]
    reads += [Read(conda_meta_glob(root), "glob", detail=False) for root in params.get("CondaRoots") or []]
    reads += [Read(f, content=True) for f in files]
    for d in dirs:
        reads.append(Read(d, "dir"))
        reads.append(Read(ntpath.dirname(d), "dir"))
        if d.lower().endswith("condarc.d"):
            reads += [
                Read(ntpath.join(d, "*.yml"), "glob", True),
                Read(ntpath.join(d, "*.yaml"), "glob", True),
            ]
    return reads


match_profiles = fh.match_profiles  # one resolver for every role (doi_cert, startup_bridge)


def conda_meta_glob(root: str) -> str:
    return ntpath.join(root, "conda-meta", "conda-*.json")


def conda_versions(snap: Snapshot, roots: Iterable[str]) -> dict[str, str | None]:
    """Each conda root's conda version, from its ``conda-meta\\conda-<version>-<build>.json`` (None: not
    installed, or not observed)."""
    out: dict[str, str | None] = {}
    for root in roots:
        try:
            records = meta_records(snap.glob(conda_meta_glob(root)))
        except fh.NotObserved:
            records = []
        out[root.lower()] = next((r["version"] for r in records if r["name"].lower() == "conda"), None)
    return out


def doi_cert_scan(params: Mapping[str, Any], snap: Snapshot) -> dict[str, Any]:
    """The raw scan result ``doi_cert_plan.HostState`` reads, made from the snapshot."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_plan import Manifest

    files: dict[str, str | None] = {}
    dirs: dict[str, list[str] | None] = {}
    manifest_entry = snap.entry(params["ManifestPath"])
    # A record a user wrote or can write would steer what the admin run deletes: never read it.
    manifest_text = snap.text(params["ManifestPath"]) if manifest_entry.trusted() else None
    files[params["ManifestPath"]] = manifest_text
    prev, _rest = Manifest.parse(manifest_text)
    wanted_files, wanted_dirs, profiles = doi_cert_paths(params, manifest_text, snap.profiles)
    homes = [fh.key(p["path"]) for found in profiles.values() for p in found]
    untrusted: list[str] = []

    def text(path: str) -> str | None:
        """A machine-wide file's text only when an admin wrote it (a user's own profile files are theirs)."""
        entry = snap.entry(path)
        mine = any(fh.key(path).startswith(h + "\\") for h in homes)
        if entry.type == "file" and not mine and not entry.trusted():
            untrusted.append(path)
            return None
        return snap.text(path)

    for path in wanted_files:
        if path.lower().endswith(".json") and path != params["ManifestPath"]:
            files[path] = None if not snap.exists(path) else ""
        else:
            files[path] = text(path)
    for path in wanted_dirs:
        names = snap.listing(path)
        dirs[path] = names
        if names is not None and path.lower().endswith("condarc.d"):
            for name in names:
                if name.lower().endswith((".yml", ".yaml")):
                    files[ntpath.join(path, name)] = text(ntpath.join(path, name))
    untrusted_set = {fh.key(p) for p in untrusted}
    for path in untrusted_set:
        dirs_of = ntpath.dirname(path)
        for d, names in dirs.items():
            if fh.key(d) == dirs_of and names is not None:
                dirs[d] = [n for n in names if fh.key(ntpath.join(d, n)) not in untrusted_set]
    env = {name: snap.env.get(name.upper()) for name in params["EnvNames"]}
    store = {t: snap.store.get(t.upper(), False) for t in list(params["Thumbprints"]) + sorted(prev.store)}
    if manifest_entry.type == "file" and manifest_text is None:
        untrusted.insert(0, params["ManifestPath"])
    return {
        "files": files,
        "dirs": dirs,
        "profiles": profiles,
        "env": env,
        "store": store,
        "problems": [],
        "untrusted": list(dict.fromkeys(untrusted)),
    }


def doi_cert_changes(
    plan: Mapping[str, Any], snap: Snapshot, c: Changes, manifest_path: str, untrusted: Sequence[str] = ()
) -> None:
    for path in untrusted:
        c.quarantine(path, "not an administrator's: conda or pip would read it in the admin run")
    profiles = [fh.key(u) for u in (plan.get("users") or {}).values()]
    for path in plan["create_dirs"]:
        c.mkdir(path, "certificates and settings")
    for path in plan["create_dirs"] if plan["harden_dirs"] else ():
        if not any(fh.key(path).startswith(p + "\\") for p in profiles):
            c.secure(path, TRUSTED)
    for item in plan["write_files"]:
        c.write(item["path"], item["content"], item["why"], backup=bool(item.get("backup")))
    for item in plan["store_import"]:
        c.other(
            "cert",
            "import",
            f"Cert:\\LocalMachine\\Root\\{item['thumbprint']}",
            item["subject"],
            {
                "path": item["path"],
                "store_name": "Root",
                "store_location": "LocalMachine",
                "state": "present",
            },
        )
    for item in plan["env_set"]:
        c.other(
            "env_var",
            "set",
            item["name"],
            "point at the bundle",
            {"name": item["name"], "value": item["value"], "level": "machine", "state": "present"},
        )
    for name in plan["env_remove"]:
        c.other(
            "env_var",
            "remove",
            name,
            "set by an earlier run",
            {"name": name, "level": "machine", "state": "absent"},
        )
    for thumbprint in plan["store_remove"]:
        c.other(
            "cert",
            "remove",
            f"Cert:\\LocalMachine\\Root\\{thumbprint}",
            "imported by an earlier run",
            {
                "thumbprint": thumbprint,
                "store_name": "Root",
                "store_location": "LocalMachine",
                "state": "absent",
            },
        )
    for path in plan["remove_files"]:
        c.delete(path, "written by an earlier run, no longer needed")
    for path in plan["remove_dirs"]:
        c.rmdir_empty(path, "created by an earlier run, now empty of anything else")
    if plan.get("manifest_text") is not None:
        c.write(manifest_path, plan["manifest_text"], "the record of what the role added")
    if plan.get("remove_manifest"):
        c.delete(manifest_path, "the record of what the role added")


def doi_cert_verify(plan: Mapping[str, Any], settings: Any) -> list[Read]:
    if settings.state != "present":
        return []
    reads = [Read(settings.bundle_path), *(Read(p, content=True) for p in plan["condarc_files"])]
    # Every conda's machine-scope files (Miniconda's and Pro's own): verify judges what each one ends with.
    reads += [Read(p, content=True) for r in plan.get("reader_files") or [] for p in r["files"]]
    if settings.pip:
        reads.append(Read(settings.pip_ini, content=True))
    return reads


# --- arcgis_env ----------------------------------------------------------------------------------------

META_NAME = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)-(?P<build>[^-]+)\.json$", re.IGNORECASE)


def arcgis_env_reads(
    settings: Any, conda_prefixes: Iterable[str], pro_roots: Iterable[str], host_dir: str
) -> list[Read]:
    """Every env this role may own: under each Miniconda's envs\\ and under the Pro clone root."""
    reads = [
        Read(host_dir, "dir"),
        Read(ntpath.dirname(host_dir), "dir"),
        Read(settings.host_lock_dir, "dir"),
    ]
    reads.append(Read(ntpath.join(settings.host_lock_dir, "*.txt"), "glob"))
    # What each env was built from (arcgis_env_drift), with owners: only an administrator's record counts.
    records = ntpath.join(host_dir, "records")
    reads += [Read(records, "dir"), Read(ntpath.join(records, "*.json"), "glob", content=True)]
    roots = [ntpath.join(p, "envs") for p in conda_prefixes] + [settings.prefix_root]
    for root in roots:
        reads.append(Read(root, "dir"))
        reads.append(Read(ntpath.join(root, "*", "conda-meta"), "glob"))
        reads.append(Read(ntpath.join(root, "*", "conda-meta", "history"), "glob"))
        reads.append(Read(ntpath.join(root, "*", "conda-meta", "*.json"), "glob", detail=False))
        reads.append(Read(ntpath.join(root, "*", "conda-meta", "pinned"), "glob", True))
    reads.append(Read(ntpath.dirname(settings.prefix_root), "dir"))
    reads += [Read(PROGRAMDATA_CONDA, "dir"), Read(ENVS_CONDARC_DIR, "dir"), Read(ENVS_CONDARC, content=True)]
    for root in pro_roots:
        source = ntpath.join(root, "envs", "arcgispro-py3", "conda-meta")
        reads += [
            Read(ntpath.join(source, "pinned"), content=True),
            Read(ntpath.join(source, "*.json"), "glob", detail=False),
        ]
    return reads


# Every conda on Windows reads C:\ProgramData\conda\condarc.d\*.yml for every account (conda >= 4.6.9,
# conda/conda#8272; the path is hard-coded). envs_dirs there makes the lab's clones named envs of every
# user's conda, Pro's included (`conda env list`, `activate <name>`); configured envs_dirs come before
# conda's own (root\envs, ~\.conda\envs), and a new env goes to the first writable one, so a student's
# `conda create` still lands in their profile (conda's context.envs_dirs).
PROGRAMDATA_CONDA = "C:\\ProgramData\\conda"
ENVS_CONDARC_DIR = ntpath.join(PROGRAMDATA_CONDA, "condarc.d")
ENVS_CONDARC = ntpath.join(ENVS_CONDARC_DIR, "arcgis_env.yml")


def envs_condarc(folders: Sequence[str]) -> str:
    lines = [
        "# Written by the arcgis_conda.fleet role arcgis_env: the lab's envs, visible to every account.",
        "envs_dirs:",
    ]
    return "\n".join(lines + [f"  - '{f.replace(chr(39), chr(39) * 2)}'" for f in folders]) + "\n"


def lab_envs_changes(plans: Sequence[Mapping[str, Any]], c: Changes, state: str) -> None:
    """The system condarc that lists the clone folders for every account (state absent: removed)."""
    folders = list(dict.fromkeys(ntpath.dirname(p["prefix"]) for p in plans if p["kind"] == "pro_clone"))
    if state == "present" and folders:
        c.mkdir(ENVS_CONDARC_DIR, "system-wide conda settings")
        c.secure(PROGRAMDATA_CONDA, TRUSTED)
        c.write(ENVS_CONDARC, envs_condarc(folders), "the lab's envs for every account's conda (envs_dirs)")
        return
    c.delete(ENVS_CONDARC, "no lab env to list")
    if state == "absent":
        c.rmdir_empty(ENVS_CONDARC_DIR, "empty once the role's file is gone")
        c.rmdir_empty(PROGRAMDATA_CONDA, "empty once the role's file is gone")


def env_meta(snap: Snapshot, prefix: str, name: str) -> list[str]:
    """Observed ``conda-meta\\<name>`` paths (a glob pattern) of the env at ``prefix``, one of the envs
    observe globbed together under the same root (``<root>\\*\\conda-meta\\...``)."""
    pattern = ntpath.join(ntpath.dirname(prefix), "*", "conda-meta", name)
    return [p for p in snap.glob(pattern) if fh.key(ntpath.dirname(ntpath.dirname(p))) == fh.key(prefix)]


def meta_records(paths: Iterable[str]) -> list[dict[str, str]]:
    """What ``conda list --json`` would say, from ``conda-meta\\<name>-<version>-<build>.json`` names."""
    records = []
    for path in paths:
        match = META_NAME.match(ntpath.basename(path))
        if match:
            records.append(
                {"name": match["name"], "version": match["version"], "build_string": match["build"]}
            )
    return records


def installed_from_meta(snap: Snapshot, prefix: str) -> list[dict[str, str]]:
    return meta_records(env_meta(snap, prefix, "*.json"))


def source_packages(snap: Snapshot, clone_source: str) -> list[dict[str, str]]:
    """arcgispro-py3's packages (observe globs its conda-meta on its own)."""
    return meta_records(snap.glob(ntpath.join(clone_source, "conda-meta", "*.json")))


def merge_pinned(text: str | None, lines: Sequence[str]) -> str:
    """Esri's pinned file with each of our pins replacing its package's line (or appended), LF ends."""
    out = (text or "").replace("\r\n", "\n").splitlines()
    for line in lines:
        name = line.split(" ")[0]
        pattern = re.compile(rf"^{re.escape(name)}( |=|$)")
        hits = [i for i, old in enumerate(out) if pattern.match(old)]
        if hits:
            out[hits[-1]] = line
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def env_exists(snap: Snapshot, prefix: str) -> bool:
    """conda writes ``conda-meta\\history`` with an env's first transaction: conda's own test of an env."""
    return bool(env_meta(snap, prefix, "history"))


def arcgis_env_changes(
    plans: Sequence[Mapping[str, Any]],
    locks: Mapping[str, Mapping[str, Any]],
    snap: Snapshot,
    c: Changes,
    state: str,
    host_dir: str,
    read_lock: Callable[[str], bytes],
    drift: Mapping[str, Any] | None = None,
) -> None:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_env_drift as ad
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_host import env_change

    if state == "absent":
        roots: list[str] = []
        for plan in plans:
            if env_exists(snap, plan["prefix"]):
                argv = [plan["conda_exe"], "remove", "--prefix", plan["prefix"], "--all", "--yes", "--quiet"]
                c.other("command", "remove env", plan["prefix"], f"env {plan['name']}", {"argv": argv})
                # conda removes the prefix; anything it leaves is deleted by the next run (no history).
                c.forget(plan["prefix"])
            elif snap.exists(plan["prefix"]):
                c.delete(plan["prefix"], "an env folder without conda-meta\\history (what conda left)")
            if plan["kind"] == "pro_clone" and ntpath.dirname(plan["prefix"]) not in roots:
                roots.append(ntpath.dirname(plan["prefix"]))
        c.delete(host_dir, "the role's own folder (lock copies)")
        for root in roots:
            c.rmdir_empty(root, "the clone folder, empty once the clones are gone")
        lab_envs_changes(plans, c, state)
        return

    # First, with the lock copies: one batched files call (envs_dirs may name a folder not made yet).
    lab_envs_changes(plans, c, state)
    conda_plans = [p for p in plans if p["kind"] == "conda"]
    if any(p["method"] == "lock" for p in conda_plans):
        c.mkdir(ntpath.dirname(conda_plans[0]["host_lock_path"]), "lock copies")
        c.secure(host_dir, TRUSTED)
    for plan in conda_plans:
        if plan["method"] == "lock":
            c.write(
                plan["host_lock_path"],
                read_lock(plan["lock_path"]),
                f"lock {plan['spec_key']} for {plan['name']}",
            )
    drift = drift or {}
    built = []
    for plan in plans:
        drifted = drift.get(plan["name"])
        if drifted is not None and (
            drifted.state == "ArcGIS upgraded" or (drifted.details and not drifted.repair)
        ):
            continue  # reported by the plan: left as it is (see arcgis_env_drift)
        built.append(plan)
        exists = env_exists(snap, plan["prefix"])
        if plan["kind"] == "pro_clone":
            _pro_clone_changes(plan, snap, c, exists)
            if drifted is not None and drifted.repair:
                # conda-meta\pinned holds Esri's builds; the pins changed by hand are put back explicitly.
                specs = [f"{n}=={v}" for n, v in sorted(plan["pins"].items())]
                channels = [a for ch in plan["channels"] for a in ("--channel", ch)]
                argv = [plan["conda_exe"], "install", "--prefix", plan["prefix"], "--override-channels"]
                c.other(
                    "command",
                    "repair env",
                    plan["prefix"],
                    f"changed by hand, arcgis_env_repair: {'; '.join(drifted.details)}",
                    {"argv": [*argv, *channels, *specs, "--yes", "--quiet"]},
                )
            continue
        lock_packages = (locks.get(plan["spec_key"]) or {}).get("packages") or []
        listing = installed_from_meta(snap, plan["prefix"]) if exists else None
        decided = env_change(plan, lock_packages, listing, exists)
        if decided["action"] == "none":
            continue
        if decided["update_text"]:
            c.write(
                decided["update_path"],
                decided["update_text"],
                f"what differs from the lock in {plan['name']}",
            )
        if decided["action"] == "create":
            c.creates(plan["prefix"], ENV_DIRS)
        c.other(
            "command",
            "create env" if decided["action"] == "create" else "update env",
            plan["prefix"],
            decided["summary"],
            {"argv": decided["argv"]},
        )
    # Last, once the envs are built: what each one is built from, in the role's admin-only folder.
    if built:
        c.mkdir(ad.records_dir(host_dir), "what each env is built from")
        c.secure(host_dir, TRUSTED)
    for plan in built:
        record = ad.make_record(plan, lock_sha256(plan, read_lock))
        c.write(
            ad.record_path(host_dir, plan["name"]),
            ad.record_text(record),
            f"the record of env {plan['name']}",
        )


def lock_sha256(plan: Mapping[str, Any], read_lock: Callable[[str], bytes]) -> str | None:
    """The SHA-256 of the lock an env is installed from (None: a clone, or conda solving on the host)."""
    if plan["kind"] != "conda" or plan["method"] != "lock" or not plan.get("lock_path"):
        return None
    return sha256(read_lock(plan["lock_path"]))


def hand_changes(
    plan: Mapping[str, Any], snap: Snapshot, locks: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """How an existing env differs from its plan, in words (empty when it matches): its pins and, for a
    locked env, every package of the lock; packages added beyond the lock are named too."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_host import (
        env_change,
        installed_packages,
    )

    listing = installed_from_meta(snap, plan["prefix"])
    installed = installed_packages(listing)
    found = []
    got_python = ".".join((installed.get("python") or ("", ""))[0].split(".")[:2])
    if got_python and got_python != plan["python_major_minor"]:
        found.append(f"python {got_python} (ArcGIS ships {plan['python_major_minor']})")
    for name, want in sorted(plan["pins"].items()):
        got = (installed.get(name) or ("", ""))[0]
        if want and got != want:
            found.append(f"{name} {got or 'removed'} (ArcGIS ships {want})")
    lock_packages = (locks.get(plan.get("spec_key") or "") or {}).get("packages") or []
    if plan["kind"] == "conda" and plan["method"] == "lock" and lock_packages:
        decided = env_change(plan, lock_packages, listing, True)
        pinned = {n.split(" ")[0] for n in found}
        found += [f"{n} removed (in the lock)" for n in decided["missing"] if n not in pinned]
        found += [
            f"{n} {'-'.join(installed[n])} (not the lock's build)"
            for n in decided["different"]
            if n not in pinned
        ]
        found += [f"{n} added (not in the lock)" for n in decided["extra"]]
    return found


def _pro_clone_changes(plan: Mapping[str, Any], snap: Snapshot, c: Changes, exists: bool) -> None:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_host import env_change

    source_pinned = snap.text(ntpath.join(plan["clone_source"], "conda-meta", "pinned"))
    if not exists:
        decided = env_change(plan, [], None, False)
        c.other("command", "clone", plan["prefix"], decided["summary"], {"argv": decided["argv"]})
        c.creates(ntpath.dirname(plan["prefix"]))
        c.creates(plan["prefix"], ENV_DIRS)
        current = source_pinned if plan.get("clone_pinned_flag") else None
        # The clone has what arcgispro-py3 has: the tools it lacks are decided from the source's packages.
        installed = source_packages(snap, plan["clone_source"])
    else:
        pinned = ntpath.join(plan["prefix"], "conda-meta", "pinned")
        current = snap.text(pinned) if snap.exists(pinned) else None
        installed = installed_from_meta(snap, plan["prefix"])
    c.secure(ntpath.dirname(plan["prefix"]), TRUSTED)
    base = current if current is not None else source_pinned
    c.write(
        ntpath.join(plan["prefix"], "conda-meta", "pinned"),
        merge_pinned(base, plan["pinned_lines"]),
        "hold Esri's builds and ArcGIS's Python, numpy, matplotlib and scipy",
    )
    decided = env_change(plan, [], installed, True)
    if decided["action"] == "update":
        c.other("command", "add tools", plan["prefix"], decided["summary"], {"argv": decided["argv"]})


def arcgis_env_verify(plans: Sequence[Mapping[str, Any]], state: str) -> list[dict[str, Any]]:
    if state != "present":
        return []
    script = (ROOT / "roles" / "arcgis_env" / "files" / "arcgis_env_versions.py").read_text(encoding="utf-8")
    return [
        {
            "id": f"env-{p['name']}",
            "argv": [p["python_exe"], *ISOLATED, "{script}"],
            "script": script,
            "timeout": 300,
            # Run as `conda activate` would: a Miniconda env's numpy needs its Library\bin on PATH.
            "environment": fh.conda_activation(p["prefix"]),
        }
        for p in plans
    ]


def judge_arcgis_env(plans: Sequence[Mapping[str, Any]], snap: Snapshot, state: str) -> list[str]:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_host import verify_env

    if state != "present":
        return []
    problems = []
    for plan in plans:
        run = snap.runs.get(f"env-{plan['name']}") or {}
        problems += verify_env(plan, str(run.get("stdout") or "")) + (
            [f"{plan['name']}: {run['error']}"] if run.get("error") else []
        )
    return problems


# --- startup_bridge ------------------------------------------------------------------------------------


def startup_bridge_reads(
    python_prefixes: Iterable[str],
    env_roots: Iterable[str],
    scope: str,
    profiles_dir: str,
    other_profile_dirs: Iterable[str] = (),
) -> list[Read]:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import startup_bridge_plan as sb

    names = (sb.HOOK_NAME, sb.DATA_NAME, sb.PTH_NAME)
    reads = []
    for prefix in python_prefixes:
        site = ntpath.join(prefix, "Lib", "site-packages")
        reads.append(Read(prefix, "dir"))
        reads.append(Read(site, "dir"))
        reads += [Read(ntpath.join(site, pattern), "glob") for pattern in STARTUP_FILES]
        reads += [Read(ntpath.join(site, name)) for name in names]
    for root in env_roots:
        reads += [Read(ntpath.join(root, "*", "Lib", "site-packages", name), "glob") for name in names]
        reads += [Read(ntpath.join(root, "*", "Lib", "site-packages", p), "glob") for p in STARTUP_FILES]
        reads.append(Read(ntpath.join(root, "*", "Lib", "site-packages"), "glob"))
    # Scope user: the profiles folder, and any other folder ProfileList puts a profile in.
    for folder in (profiles_dir, *other_profile_dirs) if scope == "user" else ():
        reads.append(Read(folder, "dir"))
        user_site = ntpath.join(folder, "*", "AppData", "Roaming", "Python", "*")
        for name in (*names, sb.SHIM_NAME, sb.BACKUP_NAME):
            reads.append(Read(ntpath.join(user_site, "site-packages", name), "glob"))
        for depth in ("", "site-packages", ntpath.join("site-packages", "__pycache__")):
            reads.append(Read(ntpath.join(user_site, depth) if depth else user_site, "glob"))
        reads.append(Read(ntpath.join(folder, "*", "AppData", "Roaming", "Python"), "glob"))
        # Where a profile without a Python folder yet gets one: its AppData\Roaming must be known to exist.
        reads.append(Read(ntpath.join(folder, "*", "AppData", "Roaming"), "glob", detail=False))
    return reads


def bridge_file(name: str) -> bytes:
    return (ROOT / "roles" / "startup_bridge" / "files" / name).read_bytes()


def startup_bridge_changes(
    plan: Mapping[str, Any], snap: Snapshot, c: Changes, secure: Sequence[str] = ()
) -> None:
    for path in secure:
        c.quarantine_startup_files(path)
        c.secure(path, TRUSTED)
    for path in plan["dirs"]:
        c.mkdir(path, "user site folder for the bridge")
    for item in plan["backups"]:
        c.copy(item["src"], item["dest"], "keep the user's own usercustomize.py", force=False)
    for item in plan["copies"]:
        c.write(item["dest"], bridge_file(item["src"]), "the bridge hook")
    for item in plan["contents"]:
        c.write(
            item["dest"], item["content"], "the bridge's paths" if item["dest"].endswith(".json") else ".pth"
        )
    for item in plan["restores"]:
        c.copy(item["src"], item["dest"], "put the user's own usercustomize.py back")
    for path in plan["removes"]:
        c.delete(path, "the bridge's file")
    for path in plan["remove_if_empty"]:
        c.rmdir_empty(path, "a folder the bridge created")


def startup_bridge_verify(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    script = bridge_file("arcgis_conda_bridge_verify.py").decode("utf-8")
    return [
        {
            "id": f"bridge-{run['key']}",
            "argv": run["argv"],
            "stdin": script,
            "timeout": 300,
            # The env side runs activated (its compiled packages load their DLLs); ArcGIS's Python as is.
            # Scope user: PYTHONUSERBASE points site.py at the profile that got the shim.
            "environment": (fh.conda_activation(run["prefix"]) if run["side"] == "env" else [])
            + [f"{name}={value}" for name, value in sorted((run.get("environment") or {}).items())],
        }
        for run in plan.get("verify") or []
    ]


def judge_startup_bridge(plan: Mapping[str, Any], snap: Snapshot) -> dict[str, Any]:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.startup_bridge_verdict import (
        judge_results,
    )

    results = []
    for run in plan.get("verify") or []:
        got = snap.runs.get(f"bridge-{run['key']}")
        if got is None:
            continue
        results.append(
            {
                "item": run,
                "rc": got.get("rc"),
                "stdout": got.get("stdout") or "",
                "stderr": got.get("stderr") or "",
                "msg": got.get("error"),
            }
        )
    return judge_results(results)


def audit(snap: Snapshot, trusted: Sequence[str]) -> list[dict[str, Any]]:
    """Every observed path under what the run trusts that a non-admin owns or can write, with who."""
    roots = sorted({fh.key(p) for p in trusted})
    findings = []
    for k, entry in sorted(snap.entries.items()):
        if entry.type not in ("file", "dir") or entry.owner is None or entry.trusted():
            continue  # owner None: read without detail (a conda-meta listing), nothing to judge
        if any(k == r or k.startswith(r + "\\") for r in roots):
            findings.append(
                {
                    "path": entry.path,
                    "owner": entry.owner,
                    "writable_by": entry.writable_by_others(),
                    "why": "the fleet's admin run executes or reads it",
                }
            )
    return findings
