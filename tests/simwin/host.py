"""The simulated Windows workstation's state: files with owners and ACLs, registry, session, processes.

A host is a directory: ``host.json`` (everything but file bytes) and ``blobs/<sha256>`` (file bytes).
The connection plugin loads it at the start of each ``exec_command`` and saves it after, under an
``fcntl.flock`` on ``host.lock`` (Ansible forks one process per host and task).

What is modelled, and where each Windows behaviour comes from:

Paths
  Case-insensitive, ``/`` and ``\\`` alike, drive and UNC roots (``\\\\server\\share``). .NET messages
  for the failures: "Could not find a part of the path 'X'." (DirectoryNotFoundException, a missing
  parent), "Could not find file 'X'.", "Access to the path 'X' is denied." (UnauthorizedAccessException),
  "The process cannot access the file 'X' because it is being used by another process."
  (IOException for ERROR_SHARING_VIOLATION, 32).
  https://learn.microsoft.com/en-us/dotnet/api/system.io.directorynotfoundexception
  https://learn.microsoft.com/en-us/dotnet/api/system.unauthorizedaccessexception
  https://learn.microsoft.com/en-us/windows/win32/debug/system-error-codes--0-499-
  https://learn.microsoft.com/en-us/windows/win32/fileio/naming-a-file (case-insensitive names)

Owners and DACLs
  An ACE is ``{sid, rights, type, inherit, inherit_only, inherited}``; ``rights`` is the .NET
  FileSystemRights value (FullControl 2032127, Modify 1245631, ReadAndExecute 1179817, Read 1179785,
  WriteData/CreateFiles 2, AppendData/CreateDirectories 4, DeleteSubdirectoriesAndFiles 64,
  Delete 65536). https://learn.microsoft.com/en-us/dotnet/api/system.security.accesscontrol.filesystemrights
  Access check: deny ACEs first, then the union of allow ACEs for the token's SIDs.
  https://learn.microsoft.com/en-us/windows/win32/secauthz/how-dacls-control-access-to-an-object
  Inheritance on create (object-inherit to files, container-inherit to folders, inherit-only kept for
  grandchildren, CREATOR OWNER replaced by the new owner and kept inherit-only on folders, a protected
  DACL takes nothing from its parent):
  https://learn.microsoft.com/en-us/windows/win32/secauthz/ace-inheritance-rules
  https://learn.microsoft.com/en-us/windows/win32/secauthz/well-known-sids (S-1-3-0 CREATOR OWNER,
  S-1-5-11 Authenticated Users, S-1-5-18 SYSTEM, S-1-5-32-544 Administrators, S-1-5-32-545 Users)
  Default owner: a token of a member of Administrators has Administrators as its default owner, so the
  admin (elevated) WinRM session creates files owned by BUILTIN\\Administrators; a plain user owns what
  they create. https://learn.microsoft.com/en-us/windows/win32/ad/how-security-descriptors-are-set-on-new-directory-objects
  (the owner rule), https://learn.microsoft.com/en-us/windows-hardware/drivers/ddi/ntifs/ns-ntifs-_token_owner
  Default ACLs as Windows 10/11 ships them (``icacls`` of a clean install):
  - ``C:\\``: Administrators and SYSTEM full (OI)(CI), Users read&execute (OI)(CI), Authenticated
    Users Modify (OI)(CI)(IO) and AppendData on the root itself: any user may create a folder at the
    root, and the new folder gives Authenticated Users Modify. This is why conda/constructor installers
    were CVE-2022-26526 (a user can plant DLLs in an all-users install at C:\\...):
    https://nvd.nist.gov/vuln/detail/CVE-2022-26526 , https://github.com/conda/constructor/issues/528
  - ``C:\\ProgramData``: SYSTEM, Administrators full; CREATOR OWNER full (OI)(CI)(IO); Users
    read&execute (OI)(CI) and WriteData/AppendData/WriteEA/WriteAttributes (CI): users create files
    and folders in it and its subfolders and own what they create.
    https://learn.microsoft.com/en-us/windows/win32/shell/knownfolderid (FOLDERID_ProgramData),
    https://github.com/microsoft/WSL/issues/8748 (an icacls listing of C:\\ProgramData)
  - ``C:\\Program Files`` (and ``(x86)``): protected, owned by TrustedInstaller; on the folder itself
    TrustedInstaller full, SYSTEM and Administrators Modify, Users, ALL APPLICATION PACKAGES
    (S-1-15-2-1) and ALL RESTRICTED APPLICATION PACKAGES (S-1-15-2-2) read&execute; and inherit-only
    (IO) entries for what is created below: TrustedInstaller GA (CI)(IO), SYSTEM and Administrators GA
    (OI)(CI)(IO), Users and both package SIDs GR,GE (OI)(CI)(IO), CREATOR OWNER GA (OI)(CI)(IO). This is
    the SDDL of a clean Windows 10/11 (``icacls "C:\\Program Files"``; no Microsoft page lists it, so
    first contact with a real workstation checks it). An inherit-only entry grants nothing on the
    folder itself (``PropagationFlags.InheritOnly``, value 2:
    https://learn.microsoft.com/en-us/dotnet/api/system.security.accesscontrol.propagationflags ,
    https://learn.microsoft.com/en-us/previous-versions/ms229747(v=vs.110) "ACL Propagation Rules");
    the host script reports it as ``inherit_only``. Simplification: generic rights (GA, GR,GE) are kept
    as the FileSystemRights they map to on inheritance (FullControl, ReadAndExecute,
    https://learn.microsoft.com/en-us/windows/win32/fileio/file-security-and-access-rights), where .NET
    on a real host reports the raw generic bits; the access checks and the controller's judgement are
    the same. Package SIDs: https://learn.microsoft.com/en-us/windows/win32/secauthz/well-known-sids
  - ``C:\\Users\\<name>``: protected, SYSTEM, Administrators and the user full; owned by the user.

UNC paths and network credentials (the "second hop")
  A WinRM session authenticated with NTLM (or Basic, or Kerberos without delegation) holds no
  credentials for a further hop: ``\\\\server\\share`` answers Access denied. CredSSP, Kerberos with
  delegation, and ``become: runas`` with a password (or ``logon_flags=netcredentials_only``) carry
  them. https://learn.microsoft.com/en-us/powershell/scripting/security/remoting/ps-remoting-second-hop
  https://docs.ansible.com/ansible/latest/os_guide/windows_winrm.html (credential delegation per
  transport), https://docs.ansible.com/ansible/latest/os_guide/become.html (runas, logon flags),
  https://github.com/ansible/ansible/issues/68086
  Become without a password (S4U logon) has no network credentials (same Ansible become page); a
  ``logon_type=network`` logon caches none, ``new_credentials`` uses them for outbound connections only:
  https://learn.microsoft.com/en-us/windows/win32/api/winbase/nf-winbase-logonusera

Session quota
  ``MaxMemoryPerShellMB`` (default 1024): WinRM terminates a shell's processes that exceed it. Two
  settings: the winrs ``Shell\\MaxMemoryPerShellMB`` (session ``max_memory_mb``), which governs the cmd
  shell of Ansible's winrm connection (the one simwin imitates), and the PowerShell plugin's
  ``Plugin\\Microsoft.PowerShell\\Quotas\\MaxMemoryPerShellMB`` (``plugin_max_memory_mb``, default 1024,
  MS-WSMV 3.1.4.1.34.3.4), which governs psrp; ``host_read`` reports both.
  https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/7ffb4acd-cf01-4fbe-9e48-7746f5001957
  https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/31fa58aa-9fd1-46d2-a3d0-7d981158820f
  https://learn.microsoft.com/en-us/windows/win32/winrm/installation-and-configuration-for-windows-remote-management
  Modelled as a documented fault: a program whose simulated ``memory_mb`` exceeds the shell's is killed.

Registry
  HKLM with the 64-bit view and the 32-bit view redirected to ``SOFTWARE\\WOW6432Node``
  https://learn.microsoft.com/en-us/windows/win32/winprog64/registry-redirector ; HKU per-user hives;
  ``SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList`` (SID -> ProfileImagePath)
  https://learn.microsoft.com/en-us/troubleshoot/windows-server/user-profiles-and-logon/
  renaming-user-account-not-change-profile-path ;
  Uninstall keys https://learn.microsoft.com/en-us/windows/win32/msi/uninstall-registry-key ;
  machine environment variables in ``HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment``
  https://learn.microsoft.com/en-us/windows/win32/procthread/environment-variables ;
  ``Cert:\\LocalMachine\\Root`` as a set of thumbprints
  https://learn.microsoft.com/en-us/windows-hardware/drivers/install/local-machine-and-current-user-certificate-stores

Processes holding files open: ``processes: [{name, pid, image, open_files}]``; deleting or overwriting
one of those files (or the image, which the loader keeps mapped) fails with the sharing violation above.
``host_read`` lists them by image path as ``Win32_Process.ExecutablePath`` does
(https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-process). A process may name its
``parent`` pid (Win32_Process.ParentProcessId); :meth:`Host.end_tree` ends a process and every process
it started, as ``taskkill /T /F /PID`` does
(https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/taskkill : "/t Ends
the specified process and any child processes started by it").
"""

from __future__ import annotations

import base64
import contextlib
import copy
import fcntl
import hashlib
import json
import ntpath
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

# --- Well-known SIDs and rights --------------------------------------------------------------------------

SYSTEM = "S-1-5-18"
ADMINISTRATORS = "S-1-5-32-544"
USERS = "S-1-5-32-545"
AUTHENTICATED_USERS = "S-1-5-11"
EVERYONE = "S-1-1-0"
CREATOR_OWNER = "S-1-3-0"
TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
ALL_APP_PACKAGES = "S-1-15-2-1"
ALL_RESTRICTED_APP_PACKAGES = "S-1-15-2-2"
WELL_KNOWN = {
    SYSTEM: "NT AUTHORITY\\SYSTEM",
    ADMINISTRATORS: "BUILTIN\\Administrators",
    USERS: "BUILTIN\\Users",
    AUTHENTICATED_USERS: "NT AUTHORITY\\Authenticated Users",
    EVERYONE: "Everyone",
    CREATOR_OWNER: "CREATOR OWNER",
    TRUSTED_INSTALLER: "NT SERVICE\\TrustedInstaller",
    ALL_APP_PACKAGES: "APPLICATION PACKAGE AUTHORITY\\ALL APPLICATION PACKAGES",
    ALL_RESTRICTED_APP_PACKAGES: "APPLICATION PACKAGE AUTHORITY\\ALL RESTRICTED APPLICATION PACKAGES",
}

FULL = 2032127
MODIFY = 1245631
READ_EXECUTE = 1179817
READ = 1179785
READ_DATA = 1  # ListDirectory on folders
WRITE_DAC = 0x40000  # ChangePermissions
WRITE_OWNER = 0x80000  # TakeOwnership
WRITE_DATA = 2  # CreateFiles on folders
APPEND_DATA = 4  # CreateDirectories on folders
WRITE_EA = 16
DELETE_CHILD = 64
WRITE_ATTRIBUTES = 256
DELETE = 65536
USERS_CREATE = WRITE_DATA | APPEND_DATA | WRITE_EA | WRITE_ATTRIBUTES  # 278, (WD,AD,WEA,WA)
RIGHT_NAMES = {
    "full": FULL,
    "modify": MODIFY,
    "read_execute": READ_EXECUTE,
    "rx": READ_EXECUTE,
    "read": READ,
    "create_files": WRITE_DATA,
    "create_dirs": APPEND_DATA,
    "create": USERS_CREATE,
    "delete": DELETE,
}
INHERIT_VALUES = ("none", "container", "object", "both")
USER_RID_BASE = 1001
MACHINE_SID = "S-1-5-21-3623811015-3361044348-30300820"
MAX_CONTENT = 1048576
ENV_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment"
PROFILE_LIST = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList"
ROOT_STORE = "LocalMachine\\Root"


class WinError(Exception):
    """A failure Windows would report; ``str()`` is the .NET message."""

    def __init__(self, message: str, kind: str = "io") -> None:
        super().__init__(message)
        self.kind = kind


def not_found_part(path: str) -> WinError:
    return WinError(f"Could not find a part of the path '{path}'.", "missing_parent")


def denied(path: str, why: str = "") -> WinError:
    return WinError(f"Access to the path '{path}' is denied.{(' ' + why) if why else ''}", "denied")


def in_use(path: str, process: str) -> WinError:
    return WinError(
        f"The process cannot access the file '{path}' because it is being used by another process. "
        f"(simwin: held open by {process})",
        "in_use",
    )


# --- Paths -----------------------------------------------------------------------------------------------


def norm_path(path: str) -> str:
    """A canonical Windows path: backslashes, no trailing separator except a drive root."""
    path = str(path).strip().replace("/", "\\")
    if path.lower().startswith("file:"):
        path = re.sub(r"^file:/*", "", path, flags=re.I)
        if not re.match(r"^[A-Za-z]:", path):
            path = "\\\\" + path.lstrip("\\")
    drive, rest = ntpath.splitdrive(path)
    rest = ntpath.normpath(rest) if rest not in ("", "\\") else "\\"
    if rest == ".":
        rest = "\\"
    if len(drive) == 2:
        drive = drive.upper()
        return drive + (rest if rest.startswith("\\") else "\\" + rest)
    if rest == "\\":
        return drive
    return drive + rest


def key_of(path: str) -> str:
    return norm_path(path).lower()


def is_unc(path: str) -> bool:
    return norm_path(path).startswith("\\\\")


def parent_of(path: str) -> str | None:
    path = norm_path(path)
    _drive, rest = ntpath.splitdrive(path)
    if rest in ("", "\\"):
        return None
    parent = ntpath.dirname(path)
    return norm_path(parent)


def is_root(path: str) -> bool:
    return parent_of(path) is None


def ace(
    sid: str,
    rights: int | str,
    inherit: str = "both",
    inherit_only: bool = False,
    inherited: bool = False,
    kind: str = "allow",
) -> dict[str, Any]:
    if isinstance(rights, str):
        rights = RIGHT_NAMES[rights]
    if inherit not in INHERIT_VALUES:
        raise ValueError(f"inherit {inherit!r}")
    return {
        "sid": sid,
        "rights": int(rights),
        "type": kind,
        "inherit": inherit,
        "inherit_only": inherit_only,
        "inherited": inherited,
    }


def inherited_acl(parent_acl: list[dict[str, Any]], is_dir: bool, owner: str) -> list[dict[str, Any]]:
    """The ACEs a new child takes from its parent (ace-inheritance-rules)."""
    result: list[dict[str, Any]] = []
    for entry in parent_acl:
        inherit = entry["inherit"]
        if is_dir:
            if inherit in ("container", "both"):
                if entry["sid"] == CREATOR_OWNER:
                    result.append(ace(owner, entry["rights"], "none", False, True, entry["type"]))
                    result.append(ace(CREATOR_OWNER, entry["rights"], inherit, True, True, entry["type"]))
                else:
                    result.append(ace(entry["sid"], entry["rights"], inherit, False, True, entry["type"]))
            elif inherit == "object":
                result.append(ace(entry["sid"], entry["rights"], "object", True, True, entry["type"]))
        elif inherit in ("object", "both"):
            sid = owner if entry["sid"] == CREATOR_OWNER else entry["sid"]
            result.append(ace(sid, entry["rights"], "none", False, True, entry["type"]))
    return result


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- Principals ------------------------------------------------------------------------------------------


class Principal:
    """Who acts: an account and the SIDs its token holds."""

    def __init__(self, name: str, sid: str, admin: bool, network: bool = False) -> None:
        self.name = name
        self.sid = sid
        self.admin = admin
        self.network = network  # holds credentials for a second hop

    @property
    def sids(self) -> set[str]:
        sids = {self.sid, EVERYONE, AUTHENTICATED_USERS, USERS}
        if self.admin or self.sid == SYSTEM:
            sids |= {ADMINISTRATORS}
        return sids

    @property
    def default_owner(self) -> str:
        return ADMINISTRATORS if (self.admin or self.sid == SYSTEM) else self.sid

    def __repr__(self) -> str:
        return f"Principal({self.name!r}, admin={self.admin}, network={self.network})"


# --- The host --------------------------------------------------------------------------------------------


class Host:
    """One simulated workstation. ``Host(state_dir)`` loads; ``save()`` writes; ``locked()`` does both."""

    def __init__(self, state_dir: str | os.PathLike[str], *, load: bool = True) -> None:
        self.dir = Path(state_dir)
        self.state: dict[str, Any] = {}
        self.now = time.time()
        self.module_call = ""  # the module call in progress (the invariant's records name it)
        if load:
            self.load()

    # -- persistence --
    @property
    def state_file(self) -> Path:
        return self.dir / "host.json"

    def load(self) -> None:
        self.state = json.loads(self.state_file.read_text(encoding="utf-8"))

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.state, indent=None, sort_keys=True), encoding="utf-8")
        tmp.replace(self.state_file)

    @classmethod
    @contextlib.contextmanager
    def locked(cls, state_dir: str | os.PathLike[str]) -> Iterator[Host]:
        """Load under the host's lock, yield, save on success."""
        path = Path(state_dir)
        path.mkdir(parents=True, exist_ok=True)
        with open(path / "host.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                host = cls(path)
                yield host
                host.save()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- blobs --
    def put_blob(self, data: bytes) -> str:
        digest = sha256_hex(data)
        blob = self.dir / "blobs" / digest
        if not blob.exists():
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
        return digest

    def get_blob(self, digest: str) -> bytes:
        return (self.dir / "blobs" / digest).read_bytes()

    # -- accounts --
    @property
    def computer(self) -> str:
        return self.state.get("computer", "SIMWIN")

    def users(self) -> dict[str, dict[str, Any]]:
        return self.state.setdefault("users", {})

    def principal(self, name: str | None = None, *, network: bool | None = None) -> Principal:
        name = name or self.session()["user"]
        short = name.split("\\")[-1].split("@")[0]
        if short.upper() == "SYSTEM" or name.upper() == "NT AUTHORITY\\SYSTEM":
            return Principal("SYSTEM", SYSTEM, True, bool(network))
        for user, info in self.users().items():
            if user.lower() == short.lower():
                return Principal(user, info["sid"], bool(info.get("admin")), bool(network))
        raise WinError(f"No mapping between account names and security IDs was done: {name}", "account")

    def account_name(self, sid: str) -> str | None:
        if sid in WELL_KNOWN:
            return WELL_KNOWN[sid]
        for user, info in self.users().items():
            if info["sid"] == sid:
                return f"{info.get('domain') or self.computer}\\{user}"
        return None

    def session(self) -> dict[str, Any]:
        session = self.state.setdefault("session", {})
        session.setdefault("user", "svc_fleet")
        session.setdefault("transport", "ntlm")
        # The quota of the shell this connection runs in: the winrs Shell's, as for Ansible's winrm
        # connection (which the simwin connection imitates); the PowerShell plugin's (psrp) beside it.
        session.setdefault("max_memory_mb", 1024)
        session.setdefault("plugin_max_memory_mb", 1024)
        session.setdefault("kerberos_delegation", False)
        return session

    def session_has_network_credentials(self) -> bool:
        session = self.session()
        if session.get("network_credentials") is not None:
            return bool(session["network_credentials"])
        transport = str(session["transport"]).lower()
        return transport == "credssp" or (transport == "kerberos" and bool(session["kerberos_delegation"]))

    def session_principal(self, become: dict[str, Any] | None = None) -> Principal:
        """The principal a module runs as: the WinRM user, or become's (runas) user."""
        network = self.session_has_network_credentials()
        if not become:
            return self.principal(None, network=network)
        flags = [str(f).lower() for f in (become.get("logon_flags") or [])]
        logon_type = str(become.get("logon_type") or "interactive").lower().replace("_", "")
        has_password = bool(become.get("password"))
        if "netcredentials_only" in flags or logon_type == "newcredentials":
            # LOGON32_LOGON_NEW_CREDENTIALS / LOGON_NETCREDENTIALS_ONLY: same local identity, the become
            # user's credentials for outbound connections.
            return self.principal(None, network=has_password or network)
        user = become.get("user") or "SYSTEM"
        # A network logon caches no credentials (no further hop); interactive, batch, service and
        # network_cleartext logons with a password do. Without a password (S4U) there are none.
        return self.principal(user, network=has_password and logon_type != "network")

    def as_user(self, name: str) -> UserView:
        """Act as a lab user (tests): file operations check that user's rights and set that owner."""
        return UserView(self, self.principal(name))

    def profile_dir(self, user: str) -> str:
        for sid, path in self.profiles().items():
            if self.account_name(sid) and self.account_name(sid).split("\\")[-1].lower() == user.lower():
                return path
        return f"C:\\Users\\{user}"

    def profiles(self) -> dict[str, str]:
        result = {}
        for key in self.reg_subkeys(PROFILE_LIST):
            values = self.reg_values(f"{PROFILE_LIST}\\{key}") or {}
            if "ProfileImagePath" in values:
                result[key] = str(values["ProfileImagePath"][1])
        return result

    def user_env(self, principal: Principal) -> dict[str, str]:
        """The process environment a session of that principal sees."""
        env = {name: str(value[1]) for name, value in (self.reg_values(ENV_KEY) or {}).items()}
        profile = (
            "C:\\Windows\\system32\\config\\systemprofile"
            if principal.sid == SYSTEM
            else self.profile_dir(principal.name)
        )
        env.update(
            {
                "USERPROFILE": profile,
                "USERNAME": principal.name,
                "APPDATA": profile + "\\AppData\\Roaming",
                "LOCALAPPDATA": profile + "\\AppData\\Local",
                "TEMP": profile + "\\AppData\\Local\\Temp",
                "TMP": profile + "\\AppData\\Local\\Temp",
                "COMPUTERNAME": self.computer,
            }
        )
        # Folder redirection: the user's User Shell Folders AppData (REG_EXPAND_SZ) is their %APPDATA%
        # (https://learn.microsoft.com/en-us/windows-server/storage/folder-redirection/folder-redirection-rup-overview);
        # Python's site.USER_BASE follows it (https://docs.python.org/3/library/site.html).
        shell_folders = "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\User Shell Folders"
        shell = self.reg_values(f"HKU\\{principal.sid}\\{shell_folders}")
        if shell and "AppData" in shell:
            raw = str(shell["AppData"][1])
            names = {"userprofile": profile, "username": principal.name}
            env["APPDATA"] = re.sub(r"%([^%]+)%", lambda m: names.get(m.group(1).lower(), m.group(0)), raw)
        env.setdefault("SystemDrive", "C:")
        env.setdefault("SystemRoot", "C:\\Windows")
        env.setdefault("ProgramData", "C:\\ProgramData")
        env.setdefault("ProgramFiles", "C:\\Program Files")
        env.setdefault("ProgramFiles(x86)", "C:\\Program Files (x86)")
        env.setdefault("ALLUSERSPROFILE", "C:\\ProgramData")
        return env

    def expand(self, text: str, principal: Principal) -> str:
        env = {k.lower(): v for k, v in self.user_env(principal).items()}
        return re.sub(r"%([^%]+)%", lambda m: env.get(m.group(1).lower(), m.group(0)), text)

    # -- file system: nodes --
    def fs(self) -> dict[str, dict[str, Any]]:
        return self.state.setdefault("fs", {})

    def node(self, path: str) -> dict[str, Any] | None:
        return self.fs().get(key_of(path))

    def exists(self, path: str) -> bool:
        return self.node(path) is not None

    def is_dir(self, path: str) -> bool:
        node = self.node(path)
        return bool(node and node["type"] == "dir")

    def is_file(self, path: str) -> bool:
        node = self.node(path)
        return bool(node and node["type"] == "file")

    def children(self, path: str) -> list[dict[str, Any]]:
        """Direct children of a folder, sorted by name."""
        base = key_of(path)
        prefix = base if base.endswith("\\") else base + "\\"
        out = []
        for key, node in self.fs().items():
            if key.startswith(prefix) and "\\" not in key[len(prefix) :] and key != base:
                out.append(node)
        return sorted(out, key=lambda n: n["path"].lower())

    def resolve(self, path: str) -> str:
        """The path with every junction on it replaced by its target (what a following walker opens)."""
        path = norm_path(path)
        parts = path.split("\\")
        for index in range(len(parts), 0, -1):
            head = "\\".join(parts[:index])
            node = self.node(head)
            if node and node.get("reparse"):
                rest = parts[index:]
                return self.resolve("\\".join([node["reparse"]["target"], *rest]))
        return path

    def descendants(self, path: str) -> list[dict[str, Any]]:
        base = key_of(path)
        prefix = base if base.endswith("\\") else base + "\\"
        return [n for k, n in self.fs().items() if k.startswith(prefix) and k != base]

    def _effective(self, node: dict[str, Any], principal: Principal) -> tuple[int, int]:
        allow = deny = 0
        for entry in node.get("acl") or []:
            if entry.get("inherit_only") or entry["sid"] not in principal.sids:
                continue
            if entry["type"] == "deny":
                deny |= entry["rights"]
            else:
                allow |= entry["rights"]
        return allow, deny

    def allowed(self, node: dict[str, Any], principal: Principal, right: int) -> bool:
        allow, deny = self._effective(node, principal)
        return bool(allow & right) and not (deny & right)

    def _check_network(self, path: str, principal: Principal) -> None:
        if is_unc(path) and not principal.network:
            transport = self.session()["transport"]
            raise denied(
                path,
                f"(simwin: this WinRM session ({transport}) holds no network credentials for the second "
                f"hop; use CredSSP, Kerberos delegation or become: runas with a password)",
            )

    def _require(self, node: dict[str, Any], principal: Principal, right: int, path: str) -> None:
        if not self.allowed(node, principal, right):
            raise denied(path)

    def _holder(self, path: str) -> str | None:
        key = key_of(path)
        for proc in self.state.get("processes") or []:
            # A running program's image is open too (the loader maps it): it cannot be replaced or deleted.
            for held in [*(proc.get("open_files") or []), *([proc["image"]] if proc.get("image") else [])]:
                if key_of(held) == key or key_of(held).startswith(key + "\\"):
                    return f"{proc.get('name')} (pid {proc.get('pid')})"
        return None

    def _parent_for_create(self, path: str, principal: Principal, is_dir: bool) -> dict[str, Any]:
        parent = parent_of(path)
        parent_node = self.node(parent) if parent else None
        if parent_node is None or parent_node["type"] != "dir":
            raise not_found_part(norm_path(path))
        self._require(parent_node, principal, APPEND_DATA if is_dir else WRITE_DATA, norm_path(path))
        return parent_node

    def _new_node(
        self, path: str, kind: str, parent: dict[str, Any] | None, owner: str, **extra: Any
    ) -> dict[str, Any]:
        acl = inherited_acl(parent["acl"], kind == "dir", owner) if parent else []
        node = {
            "path": norm_path(path),
            "type": kind,
            "owner": owner,
            "acl": acl,
            "protected": False,
            "mtime": self.now,
        }
        node.update(extra)
        self.fs()[key_of(path)] = node
        return node

    # -- file system: operations (all check the principal's rights) --
    def read_node(self, path: str, principal: Principal) -> dict[str, Any]:
        """The node of an existing path the principal may read, else the Windows error."""
        self._check_network(path, principal)
        node = self.node(path)
        if node is None:
            parent = parent_of(path)
            if parent and not self.is_dir(parent):
                raise not_found_part(norm_path(path))
            raise WinError(f"Could not find file '{norm_path(path)}'.", "missing")
        self._require(node, principal, READ_DATA, norm_path(path))
        return node

    def read_bytes(self, path: str, principal: Principal) -> bytes:
        node = self.read_node(path, principal)
        if node["type"] != "file":
            raise denied(norm_path(path))
        return self.node_bytes(node)

    def node_bytes(self, node: dict[str, Any]) -> bytes:
        if node.get("synthetic"):
            raise WinError(
                f"simwin: not modelled: reading the bytes of synthetic file {node['path']}", "synthetic"
            )
        return self.get_blob(node["sha256"]) if node.get("size") else b""

    def mkdir(self, path: str, principal: Principal, parents: bool = False) -> bool:
        """Create a folder; True when it was created."""
        self._check_network(path, principal)
        node = self.node(path)
        if node is not None:
            if node["type"] != "dir":
                raise WinError(f"An item with the specified name {norm_path(path)} already exists.")
            return False
        parent = parent_of(path)
        if parent is None:
            raise not_found_part(norm_path(path))
        if parents and not self.exists(parent):
            self.mkdir(parent, principal, parents=True)
        parent_node = self._parent_for_create(path, principal, True)
        self._new_node(path, "dir", parent_node, principal.default_owner)
        return True

    def write(
        self,
        path: str,
        data: bytes | None,
        principal: Principal,
        *,
        synthetic: dict[str, Any] | None = None,
    ) -> bool:
        """Write a file (bytes, or synthetic {size, sha256, attrs}); True when its content changed."""
        self._check_network(path, principal)
        node = self.node(path)
        if synthetic is not None:
            content = {
                "size": int(synthetic["size"]),
                "sha256": str(synthetic["sha256"]).lower(),
                "synthetic": True,
                "attrs": dict(synthetic.get("attrs") or {}),
            }
        else:
            data = data or b""
            content = {"size": len(data), "sha256": sha256_hex(data), "synthetic": False, "attrs": {}}
            if data:
                self.put_blob(data)
        if node is not None:
            if node["type"] == "dir":
                raise denied(norm_path(path))
            same = node["sha256"] == content["sha256"] and node.get("attrs") == content["attrs"]
            if same:
                return False
            self._require(node, principal, WRITE_DATA, norm_path(path))
            holder = self._holder(path)
            if holder:
                raise in_use(norm_path(path), holder)
            node.update(content, mtime=self.now)
            return True
        parent_node = self._parent_for_create(path, principal, False)
        self._new_node(path, "file", parent_node, principal.default_owner, **content)
        return True

    def delete(self, path: str, principal: Principal) -> bool:
        """Delete a file or a folder tree; False when it did not exist."""
        self._check_network(path, principal)
        node = self.node(path)
        if node is None:
            return False
        targets = [*self.descendants(path), node]
        parent = parent_of(path)
        parent_node = self.node(parent) if parent else None
        for item in targets:
            holder = self._holder(item["path"])
            if holder:
                raise in_use(item["path"], holder)
            item_parent = self.node(parent_of(item["path"]) or "") or parent_node
            if not (
                self.allowed(item, principal, DELETE)
                or (item_parent and self.allowed(item_parent, principal, DELETE_CHILD))
            ):
                raise denied(item["path"])
        for item in targets:
            self.fs().pop(key_of(item["path"]), None)
        return True

    def move(self, src: str, dest: str, principal: Principal) -> None:
        """Rename a file or folder tree within its volume (``[System.IO.Directory]::Move``, MoveFileEx).
        It needs DELETE on the item or DELETE_CHILD on its folder, and the right to create in the
        destination folder; the item keeps its own security descriptor, inherited entries included, until
        something re-applies inheritance ("If you move a file or folder within the same NTFS volume, the
        object retains its original permissions",
        https://learn.microsoft.com/en-us/troubleshoot/windows-client/windows-security/permissions-on-copying-moving-files)."""
        self._check_network(src, principal)
        node = self.node(src)
        if node is None:
            raise WinError(f"Could not find file '{norm_path(src)}'.", "missing")
        if self.exists(dest):
            raise WinError(
                f"Cannot create a file when that file already exists. ({norm_path(dest)})", "exists"
            )
        parent = self.node(parent_of(src) or "")
        if not (
            self.allowed(node, principal, DELETE)
            or (parent and self.allowed(parent, principal, DELETE_CHILD))
        ):
            raise denied(norm_path(src))
        self._parent_for_create(dest, principal, node["type"] == "dir")
        holder = self._holder(src)
        if holder:
            raise in_use(norm_path(src), holder)
        old, new = key_of(src), norm_path(dest)
        for item in [node, *self.descendants(src)]:
            self.fs().pop(key_of(item["path"]))
            item["path"] = new + item["path"][len(old) :]
            self.fs()[key_of(item["path"])] = item

    def copy_file(self, src: str, dest: str, principal: Principal) -> bool:
        node = self.read_node(src, principal)
        if node["type"] != "file":
            raise denied(norm_path(src))
        if node.get("synthetic"):
            return self.write(dest, None, principal, synthetic=node)
        return self.write(dest, self.node_bytes(node), principal)

    def set_security(
        self,
        path: str,
        owner: str | None = None,
        acl: list[dict[str, Any]] | None = None,
        protected: bool | None = None,
    ) -> None:
        node = self.node(path)
        if node is None:
            raise WinError(f"Could not find file '{norm_path(path)}'.", "missing")
        if owner:
            node["owner"] = owner
        if acl is not None:
            own = [dict(e, inherited=False) for e in acl]
            if protected is None:
                protected = node.get("protected", False)
            node["acl"] = own + ([] if protected else [e for e in node["acl"] if e["inherited"]])
        if protected is not None:
            node["protected"] = protected

    def reapply_inheritance(self, path: str) -> None:
        """Children of path (recursively) re-take their inherited ACEs from their parents."""
        for child in sorted(self.descendants(path), key=lambda n: len(n["path"])):
            parent = self.node(parent_of(child["path"]) or "")
            if parent is None or child.get("protected"):
                continue
            explicit = [e for e in child["acl"] if not e["inherited"]]
            child["acl"] = explicit + inherited_acl(parent["acl"], child["type"] == "dir", child["owner"])

    def make_junction(self, link: str, target: str, principal: Principal) -> bool:
        """``mklink /J link target`` as ``principal`` (see :meth:`UserView.junction` for the rules)."""
        if self.exists(link):
            raise WinError(f"Cannot create a file when that file already exists. ({norm_path(link)})")
        parent = self._parent_for_create(link, principal, True)
        node = self._new_node(link, "dir", parent, principal.default_owner)
        node["reparse"] = {"kind": "junction", "target": norm_path(target)}
        return True

    # -- registry --
    def registry(self) -> dict[str, dict[str, Any]]:
        return self.state.setdefault("registry", {})

    @staticmethod
    def reg_norm(path: str, view: str = "64") -> str:
        path = str(path).replace("/", "\\").strip("\\")
        aliases = {
            "hkey_local_machine": "HKLM",
            "hklm:": "HKLM",
            "hklm": "HKLM",
            "hkey_users": "HKU",
            "hku:": "HKU",
            "hku": "HKU",
            "registry::hkey_local_machine": "HKLM",
            "registry::hkey_users": "HKU",
        }
        head, _, rest = path.partition("\\")
        if head.lower() in aliases:
            head = aliases[head.lower()]
        elif path.lower().startswith("registry::"):
            return Host.reg_norm(path[len("registry::") :], view)
        path = head + ("\\" + rest if rest else "")
        if (
            view == "32"
            and path.lower().startswith("hklm\\software\\")
            and "\\wow6432node" not in path.lower()
        ):
            path = "HKLM\\SOFTWARE\\WOW6432Node\\" + path[len("HKLM\\SOFTWARE\\") :]
        return path

    def reg_key(self, path: str, view: str = "64") -> dict[str, Any] | None:
        return self.registry().get(self.reg_norm(path, view).lower())

    def reg_values(self, path: str, view: str = "64") -> dict[str, list[Any]] | None:
        key = self.reg_key(path, view)
        return None if key is None else key["values"]

    def reg_subkeys(self, path: str, view: str = "64") -> list[str]:
        base = self.reg_norm(path, view).lower() + "\\"
        names = {}
        for key, item in self.registry().items():
            if key.startswith(base):
                name = item["path"][len(base) :].split("\\")[0]
                names.setdefault(name.lower(), name)
        return sorted(names.values(), key=str.lower)

    def reg_ensure(self, path: str, view: str = "64") -> dict[str, Any]:
        full = self.reg_norm(path, view)
        parts = full.split("\\")
        for index in range(1, len(parts) + 1):
            sub = "\\".join(parts[:index])
            self.registry().setdefault(sub.lower(), {"path": sub, "values": {}})
        return self.registry()[full.lower()]

    def reg_set(self, path: str, name: str, value: Any, kind: str = "REG_SZ", view: str = "64") -> bool:
        key = self.reg_ensure(path, view)
        current = key["values"].get(name)
        if current == [kind, value]:
            return False
        key["values"][name] = [kind, value]
        return True

    def reg_delete_value(self, path: str, name: str, view: str = "64") -> bool:
        key = self.reg_key(path, view)
        return bool(key and key["values"].pop(name, None) is not None)

    def reg_delete_key(self, path: str, view: str = "64") -> bool:
        base = self.reg_norm(path, view).lower()
        doomed = [k for k in self.registry() if k == base or k.startswith(base + "\\")]
        for k in doomed:
            del self.registry()[k]
        return bool(doomed)

    # -- machine environment, certificates --
    def machine_env(self, name: str) -> str | None:
        for key, value in (self.reg_values(ENV_KEY) or {}).items():
            if key.lower() == name.lower():
                return str(value[1])
        return None

    def set_machine_env(self, name: str, value: str | None) -> bool:
        values = self.reg_ensure(ENV_KEY)["values"]
        existing = next((k for k in values if k.lower() == name.lower()), None)
        if value is None:
            return bool(existing and values.pop(existing))
        if existing and values[existing][1] == value:
            return False
        values.pop(existing, None) if existing else None
        values[name] = ["REG_EXPAND_SZ" if "%" in value else "REG_SZ", value]
        return True

    def store(self, name: str = ROOT_STORE) -> list[str]:
        return self.state.setdefault("cert_store", {}).setdefault(name, [])

    # -- processes --
    def start_process(self, image: str, parent: int | None = None) -> int:
        """A running process of ``image`` (started by ``parent``); its pid."""
        procs = self.state.setdefault("processes", [])
        pid = max([4000, *(int(p.get("pid") or 0) for p in procs)]) + 4  # Windows pids are multiples of 4
        procs.append(
            {"name": ntpath.basename(image), "pid": pid, "image": norm_path(image), "parent": parent}
        )
        return pid

    def end_tree(self, pid: int) -> list[int]:
        """taskkill /T /F /PID: the process and its descendants (by parent pid, walked before any ends)."""
        procs = self.state.get("processes") or []
        ended, frontier = [], [pid]
        while frontier:
            current = frontier.pop()
            ended.append(current)
            frontier += [int(p["pid"]) for p in procs if p.get("parent") == current]
        self.state["processes"] = [p for p in procs if int(p.get("pid") or 0) not in ended]
        return ended

    # -- faults --
    def take_fault(self, kind: str, module: str, argv_text: str = "") -> dict[str, Any] | None:
        """A matching fault of that kind, consumed (times decremented); None when none fires."""
        faults = self.state.get("faults") or {}
        entries = faults.get(kind)
        if entries is None:
            return None
        single = isinstance(entries, dict)
        items = [entries] if single else list(entries)
        for entry in items:
            wanted = str(entry.get("module", ""))
            if wanted and wanted.split(".")[-1] != module.split(".")[-1]:
                continue
            needle = entry.get("argv_contains")
            if needle and needle not in argv_text:
                continue
            times = int(entry.get("times", 1))
            if times <= 0:
                continue
            entry["times"] = times - 1
            return copy.deepcopy(entry)
        return None


class UserView:
    """Acting as one account: ``host.as_user('student1').write_file(path, data)``."""

    def __init__(self, host: Host, principal: Principal) -> None:
        self.host = host
        self.principal = principal

    def write_file(self, path: str, data: bytes | str) -> bool:
        if isinstance(data, str):
            data = data.encode("utf-8")
        return self.host.write(path, data, self.principal)

    def mkdir(self, path: str) -> bool:
        return self.host.mkdir(path, self.principal)

    def read_file(self, path: str) -> bytes:
        return self.host.read_bytes(path, self.principal)

    def delete(self, path: str) -> bool:
        return self.host.delete(path, self.principal)

    # The program kinds programs.run_program models, with the attributes a start needs by default.
    PROGRAM_DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        "python": {"version": "2.7.10", "bits": 32},
        "conda": {"version": "4.8.3", "bits": 32, "python": "2.7.18"},
        "miniconda_installer": {
            "flavour": "Miniconda2",
            "version": "4.8.3",
            "arch": "x86",
            "python": "2.7.18",
            "conda": "4.8.3",
        },
        "nsis_uninstaller": {"flavour": "Miniconda2"},
    }

    def write_program(self, path: str, kind: str, **attrs: Any) -> bool:
        """Plant a program the simulator runs (a user's python.exe, conda.exe, installer, uninstaller),
        where this user's rights allow it; owned by this user. ``attrs`` override the kind's defaults."""
        if kind not in self.PROGRAM_DEFAULTS:
            raise ValueError(f"write_program: kind {kind!r} is not one of {sorted(self.PROGRAM_DEFAULTS)}")
        path = norm_path(path)
        values = {"program": kind, **self.PROGRAM_DEFAULTS[kind], "planted_by": self.principal.name}
        if kind == "conda":
            values["root"] = parent_of(parent_of(path) or path)
        if kind == "nsis_uninstaller":
            values.update(prefix=parent_of(path), installed=[])
        values.update(attrs)
        seed = f"{self.principal.name} {kind} {path}".encode()
        synthetic = {"size": 65536, "sha256": sha256_hex(seed), "attrs": values}
        return self.host.write(path, None, self.principal, synthetic=synthetic)

    def junction(self, link: str, target: str) -> bool:
        """``mklink /J link target``: a directory junction, allowed where this user may create a folder
        (a junction is a directory with a mount-point reparse point: creating it needs the parent's
        FILE_ADD_SUBDIRECTORY, and no right on the target;
        https://learn.microsoft.com/en-us/windows/win32/fileio/hard-links-and-junctions ,
        https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/mklink).
        The node is ``type: dir`` with ``reparse: {kind: junction, target}``; its content is the
        target's, which the model reaches only through :meth:`Host.resolve`."""
        return self.host.make_junction(link, target, self.principal)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
