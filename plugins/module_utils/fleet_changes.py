"""From each role's plan and the observed host to the exact list of changes, and to the checks after.

Observe → plan → apply → verify (see site.yml). Each role decides its desired state; a :class:`Changes`
compares it with the host's :class:`~fleet_host.Snapshot` and emits only what differs, as plain records::

    {"role": "doi_cert", "step": "files", "action": "write", "target": "C:\\...\\ca-bundle.pem",
     "reason": "CA bundle", "item": {...what the step's module gets...}}

``step`` is how the change is applied: ``files`` (batched into one ``apply_files`` call per run of
consecutive file changes), ``download`` (win_get_url), ``host_copy`` (win_copy remote_src), ``upload``
(win_copy from the controller), ``fetch`` (get_url on the controller), ``package`` (win_package),
``command`` (win_command), ``env_var`` (win_environment), ``cert`` (win_certificate_store).
Check mode prints this list and applies nothing; the apply applies exactly this list.

The roles' modules (``<role>_role.py``) build their lists with :class:`Changes`; this module names no
role. No Ansible imports.
"""

from __future__ import annotations

import functools
import hashlib
import ntpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import Snapshot


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
    """A change without its payload (file bytes, its diff), for reports and check-mode output."""
    return {
        **{k: v for k, v in item.items() if k != "diff"},
        "item": {k: v for k, v in item["item"].items() if k != "content_b64"},
    }


# A written file's before/after, as Ansible's diff callback shows it (--diff): configuration files up to this
# size as text; a certificate bundle as one line per certificate; anything else (binary, large) not at all.
DIFF_MAX_BYTES = 64 * 1024
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\s+(.+?)\s+-----END CERTIFICATE-----", re.S)


def certificate_thumbprints(data: bytes) -> list[str]:
    """The first 16 hex digits of each certificate's SHA-256 (of its DER) in a PEM bundle, in file order:
    what the record keeps of a bundle, so ``--diff`` can summarise it without reading it back."""
    return list(_thumbprints(bytes(data)))


@functools.lru_cache(maxsize=8)  # one bundle for a whole lab
def _thumbprints(data: bytes) -> tuple[str, ...]:
    import base64

    return tuple(
        hashlib.sha256(base64.b64decode(b"".join(body.split()))).hexdigest()[:16]
        for body in _PEM_CERT.findall(data)
    )


@functools.lru_cache(maxsize=8)  # one bundle for a whole lab: parsed once, not once per host
def _certificate_lines(data: bytes) -> dict[str, str]:
    """thumbprint -> "subject  sha256:thumbprint" for each certificate of a PEM bundle."""
    import base64

    lines = {}
    for body in _PEM_CERT.findall(data):
        der = base64.b64decode(b"".join(body.split()))
        subject = "?"
        try:
            import warnings

            from cryptography import x509

            with warnings.catch_warnings():  # certifi holds roots with non-positive serials (RFC 5280)
                warnings.simplefilter("ignore")
                subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
        except (ImportError, ValueError):
            pass
        thumb = hashlib.sha256(der).hexdigest()[:16]
        lines[thumb] = f"{subject}  sha256:{thumb}"
    return lines


def certificates_text(lines: Sequence[str]) -> str:
    return f"{len(lines)} certificate(s)\n" + "".join(f"{line}\n" for line in sorted(lines))


def certificate_summary(data: bytes) -> str | None:
    """One line per certificate of a PEM bundle (subject, SHA-256 of its DER), sorted; None without any."""
    if not _PEM_CERT.search(data):
        return None
    thumbs = certificate_thumbprints(data)
    lines = _certificate_lines(bytes(data))
    return certificates_text([lines[t] for t in thumbs])


def summary_from_thumbprints(thumbprints: Sequence[str], known: bytes | None = None) -> str:
    """A bundle's summary from the thumbprints a record kept of it; subjects from ``known`` (the bundle
    this run writes) where it holds the certificate, else marked as not in it."""
    lines = _certificate_lines(bytes(known)) if known else {}
    return certificates_text(
        [lines.get(t) or f"(not in the planned bundle)  sha256:{t}" for t in thumbprints]
    )


def _diff_text(data: bytes | None) -> str | None:
    if data is None:
        return None
    summary = certificate_summary(data) if b"-----BEGIN CERTIFICATE-----" in data else None
    if summary is not None:
        return summary
    if len(data) > DIFF_MAX_BYTES or b"\0" in data:
        return None
    return data.decode("utf-8-sig", errors="replace").replace("\r\n", "\n")


def file_diff(
    path: str, before: bytes | None, before_known: bool, after: bytes, before_text: str | None = None
) -> dict[str, str] | None:
    """``{before, after, before_header, after_header}`` for a planned write, or None when not shown.
    ``before_text``: what the controller knows the observed file holds (by its hash), when its content
    was not read."""
    new = _diff_text(after)
    if new is None:
        return None
    if before_text is not None:
        old = before_text
    elif not before_known:
        old = "(not read by observe: its content is unknown)\n"
    else:
        old = _diff_text(before) if before is not None else ""
        if old is None:
            return None
    return {
        "before": old,
        "after": new,
        "before_header": f"{path} (as observed)",
        "after_header": f"{path} (planned)",
    }


@functools.lru_cache(maxsize=64)  # a lab's files (its CA bundle) are the same object on every host
def sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def secure_mkdir(path: str) -> dict[str, Any]:
    """``mkdir`` that makes the folder admin-only at its creation (one made since observe: the secure op)."""
    return {**fh.secure_item(path), "op": "mkdir", "secure": True}


class Changes:
    """A role's change list, built against the snapshot; skips what the host already has."""

    def __init__(
        self,
        role: str,
        snapshot: Snapshot,
        planned: dict[str, str],
        gone: set[str] | None = None,
        trusted: list[str] | None = None,
        moved: dict[str, str] | None = None,
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
        # lower path -> where this run moves it aside, all roles together: each file is moved once, and no
        # two files (nor a file an earlier run moved aside) share a name.
        self.moved = moved if moved is not None else {}
        # SHA-256 of a file -> its diff text, for files observe hashed instead of reading (a CA bundle the
        # controller built: the role's record keeps its certificates' thumbprints).
        self.known: dict[str, Callable[[], str]] = {}

    def in_profile(self, path: str) -> bool:
        k = fh.key(path)
        homes = [fh.key(str(p.get("path"))) for p in self.snapshot.profiles if p.get("path")]
        return any(k.startswith(h + "\\") for h in homes)

    def is_gone(self, path: str) -> bool:
        k = fh.key(path)
        return any(k == g or k.startswith(g + "\\") for g in self.gone)

    def _add(self, step: str, action: str, target: str, reason: str, item: Mapping[str, Any]) -> None:
        self.items.append(change(self.role, step, action, target, reason, item))

    def mkdir(self, path: str, reason: str, secure: bool = False) -> None:
        """Create a folder (and its missing parents). ``secure``: admin-only from its creation, before
        anything is put in it (create secure, then fill); one that appeared since observe is secured as a
        tree on the host, and one a user made there stops the batch rather than being adopted."""
        k = fh.key(path)
        self.claim(path, reason)
        if self.planned.get(k) or (self.snapshot.is_dir(path) and not self.is_gone(path)):
            return
        parent = ntpath.dirname(path.rstrip("\\"))
        if parent and parent != path and not re.fullmatch(r"[A-Za-z]:\\?", parent):
            self.mkdir(parent, reason)
        secure = secure and not self._parent_trusted(path)  # else it inherits its admin-only parent's ACL
        self.planned[k] = self.role
        item = secure_mkdir(path) if secure else {"op": "mkdir", "path": path}
        self._add("files", "mkdir", path, reason, item)
        if secure or self._parent_trusted(path):
            self.planned["secure:" + k] = self.role

    def _claim_above(self, path: str, reason: str) -> bool:
        """Claim the outermost folder above ``path`` that a user made (its files go aside with it)."""
        parts = ntpath.normpath(path).split("\\")
        return any(self.claim("\\".join(parts[:depth]), reason) for depth in range(2, len(parts)))

    def claim(self, path: str, reason: str) -> bool:
        """A folder the run makes, fills or secures that a user made (outside profiles): moved aside whole,
        for an admin to inspect (its content is theirs), and never adopted; the run then makes its own.
        True when it is moved aside here."""
        k = fh.key(path)
        if k in self.moved or self.planned.get(k) is not None or self.is_gone(path) or self.in_profile(path):
            return False
        homes = [fh.key(str(p.get("path"))) for p in self.snapshot.profiles if p.get("path")]
        if any(h == k or h.startswith(k + "\\") for h in homes):
            return False  # a profile, or the folder profiles are in: never the run's to move
        try:
            entry = self.snapshot.entry(path)
        except fh.NotObserved:
            return False
        if entry.type != "dir" or entry.owner is None or entry.owner in fh.ADMIN_SIDS:
            return False
        aside = self.aside_name(path)
        self.moved[k] = aside
        why = f"{reason}: the folder there is {entry.owner}'s, not an administrator's, and is never trusted"
        self._add("files", "move", aside, why, {"op": "move", "src": path, "path": aside})
        self.gone.add(k)
        self.quarantined.append(path)
        return True

    def write(
        self, path: str, content: bytes | str, reason: str, backup: bool = False, secret: bool = False
    ) -> None:
        k = fh.key(path)
        mine = self.in_profile(path)  # a user's own profile: theirs to change, never the admin run's trust
        if not mine:
            self.trusted_paths.append(path)
            if self._claim_above(path, reason):
                self.mkdir(ntpath.dirname(path), reason)
        if self.planned.get(k) is None and not self.is_gone(path):
            entry = self.snapshot.entry(path)
            if not mine and entry.type == "file" and entry.owner is None:
                raise fh.NotObserved(f"{path} (owner and ACL: read it with detail)")
            if not mine and entry.type == "file" and not entry.trusted():
                # Not written by an admin (a user planted or owns it): never trusted, moved aside first, so
                # ours is a new file that inherits the folder's admin-only ACL (an overwrite keeps the owner).
                self.quarantine(path, f"{reason}: the file there is not an administrator's")
            elif self.snapshot.sha256(path) == sha256(content):
                return
        data = content.encode("utf-8") if isinstance(content, str) else content
        self.planned[k] = self.role
        self._add("files", "write", path, reason, fh.write_item(path, data, backup))
        if secret:
            self.items[-1]["secret"] = True  # its bytes hold a password: every task that carries it hides it
            return  # and it is never diffed
        diff = file_diff(path, *self._before(path), data, before_text=self._known_before(path))
        if diff is not None:
            self.items[-1]["diff"] = diff

    def _before(self, path: str) -> tuple[bytes | None, bool]:
        """What the file held as observed (None: no file), and whether observe read its content. A file
        this run moves aside first (untrusted) is diffed against nothing: ours is a new file."""
        if any(fh.key(q) == fh.key(path) for q in self.quarantined) or self.is_gone(path):
            return None, True
        entry = self.snapshot.entry(path)
        if entry.type != "file":
            return None, True
        return entry.content, entry.content is not None

    def _known_before(self, path: str) -> str | None:
        if not self.known or any(fh.key(q) == fh.key(path) for q in self.quarantined) or self.is_gone(path):
            return None
        entry = self.snapshot.entry(path)
        if entry.type != "file" or entry.content is not None:
            return None
        text = self.known.get(str(entry.sha256 or ""))
        return text() if text is not None else None

    def refuse_untrusted_folder(self, path: str, what: str) -> None:
        """Stop before installing into, running from or trusting a folder or file a user made (its content is
        theirs): a pre-existing Miniconda folder, its conda.exe, marker or uninstaller (issue 22 item 3)."""
        entry = self.snapshot.entry(path)
        if entry.type in ("dir", "file") and entry.owner is not None and entry.owner not in fh.ADMIN_SIDS:
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
        """Move a file the admin run must not trust aside, for an admin to inspect: to ``<path>.untrusted``,
        or the first free ``<path>.untrusted.<n>`` when an earlier run's file holds that name. Nothing when
        this run already moved it or writes it itself (an earlier role's file is not a user's)."""
        k = fh.key(path)
        self._claim_above(path, reason)
        if k in self.moved or self.planned.get(k) is not None or self.is_gone(path):
            return  # moved already, ours, or inside a folder this run moved aside whole
        aside = self.aside_name(path)
        self.moved[k] = aside
        item = {"op": "copy", "src": path, "path": aside, "force": True, "exclusive": True}
        self._add("files", "copy", aside, reason, item)
        self._add("files", "delete", path, reason, {"op": "delete", "path": path})
        self.gone.add(k)
        self.quarantined.append(path)

    def aside_name(self, path: str) -> str:
        """A name no file has on the host (as observed) nor gets from this run. When observe did not list the
        folder, a name from the file's own SHA-256: a file already there under it holds the same bytes (the
        host-side copy refuses to replace different ones)."""
        taken = {fh.key(p) for p in self.moved.values()}
        for n in range(100):
            aside = path + (".untrusted" if n == 0 else f".untrusted.{n}")
            if fh.key(aside) in taken or self.planned.get(fh.key(aside)) is not None:
                continue
            try:
                if not self.snapshot.exists(aside):
                    return aside
            except fh.NotObserved:
                break
        try:
            digest = self.snapshot.sha256(path) or sha256(path)
        except fh.NotObserved:
            digest = sha256(path)
        return f"{path}.untrusted-{digest[:12]}"

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
        Administrators full, Users read & execute), recursively; nothing when it already is. A folder this
        run creates is made admin-only at its creation (its mkdir), never after it was filled; one a user
        made is moved aside and made anew (:meth:`claim`)."""
        k = "secure:" + fh.key(path)
        self.trusted_paths.append(path)
        if self.planned.get(k):
            return
        if self.claim(path, reason):
            self.mkdir(path, reason, secure=True)
            return
        created = self.planned.get(fh.key(path)) is not None
        if self.is_gone(path) and not created:
            return
        if not created and self.snapshot.entry(path).trusted():
            return
        if created and self._parent_trusted(path):
            return  # a new folder inherits its admin-only parent's ACL
        mkdir = next(
            (i for i in self.items if i["action"] == "mkdir" and fh.key(i["target"]) == fh.key(path)), None
        )
        if mkdir is not None:
            mkdir["item"] = secure_mkdir(path)  # secured when made, before it is filled
            self.planned[k] = self.role
            return
        self.planned[k] = self.role
        self._add("files", "secure", path, reason, fh.secure_item(path))

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


# --- shared by every role ------------------------------------------------------------------------------

TRUSTED = "the admin run executes or reads it: only administrators may change it"
# Every Python the admin run starts ignores PYTHON* variables (-E) and the user site (-s), on 2.7 and 3.x.
ISOLATED = ("-E", "-s")


# Files that run code when the admin run (or an admin's Python) loads them: a user's copy is planted.
PROGRAM_SUFFIXES = (".exe", ".dll", ".pyd", ".py", ".pth", ".bat", ".cmd", ".ps1")


def audit(
    snap: Snapshot, trusted: Sequence[str], facts: Sequence[Mapping[str, Any]] = ()
) -> list[dict[str, Any]]:
    """Every observed path under what the run trusts that a non-admin owns or can write, with who; every
    junction or symbolic link there (a reparse point: securing never follows it, and it may point
    anywhere); and every ArcGIS Python the observe step did not run because users could change it."""
    held = [f for f in facts if f.get("status") in ("unsecured", "unsafe") and f.get("python_exe")]
    # An ArcGIS Python not run because users can change it: its whole folder is judged too.
    roots = sorted(
        {fh.key(p) for p in trusted} | {fh.key(ntpath.dirname(str(f["python_exe"]))) for f in held}
    )
    findings: dict[str, dict[str, Any]] = {}

    def under(k: str) -> bool:
        return any(k == r or k.startswith(r + "\\") for r in roots)

    for k, entry in sorted(snap.entries.items()):
        if not under(k):
            continue
        links = [entry.path] if entry.reparse else []
        links += [
            ntpath.join(entry.path, str(c.get("name"))) for c in entry.children or [] if c.get("reparse")
        ]
        for link in links:
            findings.setdefault(
                fh.key(link),
                {
                    "path": link,
                    "owner": entry.owner if link == entry.path else None,
                    "writable_by": [],
                    "why": "a junction or symbolic link inside a folder the admin run trusts: securing never "
                    "follows it and leaves it there; remove it (rmdir, not del /s)",
                },
            )
        if entry.type not in ("file", "dir") or entry.owner is None or entry.trusted():
            continue  # owner None: read without detail (a conda-meta listing), nothing to judge
        program = entry.type == "file" and entry.path.lower().endswith(PROGRAM_SUFFIXES)
        findings.setdefault(
            k,
            {
                "path": entry.path,
                "owner": entry.owner,
                "writable_by": entry.writable_by_others(),
                "why": (
                    "a program or start-up file a non-admin made, where the admin run executes it"
                    if program and entry.owner not in fh.ADMIN_SIDS
                    else "the fleet's admin run executes or reads it"
                ),
            },
        )
    for fact in held:
        k = fh.key(str(fact["python_exe"]))
        seen = findings.get(k) or {"path": fact["python_exe"], "owner": None, "writable_by": []}
        findings[k] = {**seen, "why": "; ".join(fact.get("problems") or []) or "not run: not admin-only"}
    return sorted(findings.values(), key=lambda f: fh.key(str(f["path"])))
