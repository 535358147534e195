# ruff: noqa: E501
# (The PowerShell scripts below keep their natural line lengths.)
"""What the fleet sends to a Windows host, and the host's answers as plain data.

Two PowerShell scripts, both thin, data-driven and free of decisions (every decision is Python on the
controller, in the roles' planners):

- ``HOST_READ_SCRIPT``: read-only (the one transient act: the hive of a user who is not logged on is
  loaded with ``reg load`` to read its ``Software\\ESRI\\ArcGISPro``, and unloaded in ``finally``; a hive
  that will not load or unload is reported, never retried). The ESRI/Uninstall registry dump the probe needs, profiles, machine
  environment variables, Root-store presence, a list of file/folder/glob reads (size, SHA-256, content
  of small files, owner and DACL) and program runs (the probe, the checks). Observe and verify use it.
- ``APPLY_FILES_SCRIPT``: applies an ordered list of file operations (mkdir, write, copy, delete,
  rmdir_empty, secure) in one module call, so a role's small files cost one round trip, not one each.

Both go through ``ansible.windows.win_powershell`` (tested upstream on real Windows). The first line of
each names it, which is how the simulated workstation under ``tests/simwin`` recognises them.
:class:`Snapshot` is the answer of ``host_read``, looked up case-insensitively as Windows does; a
planner that asks for a path observe did not read gets :class:`NotObserved`, which is a bug in the
observe spec, never a guess.
"""

from __future__ import annotations

import base64
import ntpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

HOST_READ_SCRIPT = r"""# arcgis_conda.fleet host script: host_read
[CmdletBinding(SupportsShouldProcess = $true)]
param (
    [bool] $Arcgis = $false,
    [bool] $Profiles = $false,
    [bool] $Session = $false,
    [string[]] $EnvNames = @(),
    [string[]] $Thumbprints = @(),
    [object[]] $Reads = @(),
    [object[]] $Runs = @()
)
# Read-only: it changes nothing, so it runs in check mode too. Plain data out; the controller decides.
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
$maxContent = 1048576
$result = @{}

function Get-Sid([System.Security.Principal.IdentityReference] $Identity) {
    try { return $Identity.Translate([System.Security.Principal.SecurityIdentifier]).Value }
    catch { return $Identity.Value }
}

function Get-Entry([string] $Path, [bool] $Content, [bool] $Detail = $true) {
    $entry = @{ path = $Path; type = 'missing' }
    try {
        $item = Get-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
        if ($null -eq $item) { return $entry }
        if (-not $Detail) {
            $entry.type = if ($item.PSIsContainer) { 'dir' } else { 'file' }
            if (-not $item.PSIsContainer) { $entry.size = $item.Length }
            return $entry
        }
        $acl = Get-Acl -LiteralPath $Path
        $entry.owner = Get-Sid ([System.Security.Principal.NTAccount] $acl.Owner)
        $entry.protected = $acl.AreAccessRulesProtected
        $rules = [System.Collections.Generic.List[object]]::new()
        foreach ($rule in $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
            $inherit = 'none'
            $flags = [int] $rule.InheritanceFlags
            if ($flags -eq 3) { $inherit = 'both' } elseif ($flags -eq 1) { $inherit = 'container' }
            elseif ($flags -eq 2) { $inherit = 'object' }
            $rules.Add(@{
                sid = $rule.IdentityReference.Value
                rights = [int] $rule.FileSystemRights
                type = $rule.AccessControlType.ToString().ToLowerInvariant()
                inherited = $rule.IsInherited
                inherit = $inherit
            })
        }
        $entry.acl = $rules.ToArray()
        if ($item.PSIsContainer) {
            $entry.type = 'dir'
            $entry.children = @(Get-ChildItem -LiteralPath $Path -Force | ForEach-Object {
                @{ name = $_.Name; dir = $_.PSIsContainer }
            })
        }
        else {
            $entry.type = 'file'
            $entry.size = $item.Length
            $entry.sha256 = (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant()
            if ($Content -and $item.Length -le $maxContent) {
                $entry.content_b64 = [Convert]::ToBase64String([System.IO.File]::ReadAllBytes($Path))
            }
        }
    }
    catch {
        $entry.type = 'error'
        $entry.error = $_.Exception.Message
    }
    $entry
}

function Get-KeyValues([Microsoft.Win32.RegistryKey] $Key, [string[]] $Names) {
    $values = @{}
    if (-not $Names) { $Names = $Key.GetValueNames() }
    foreach ($name in $Names) {
        $value = $Key.GetValue($name)
        if ($null -eq $value -or $value -is [byte[]]) { continue }
        $values[$name] = if ($value -is [string[]]) { $value -join "`n" } else { [string] $value }
    }
    $values
}

# Each account's hive: HKEY_USERS\<sid> while the user is logged on, else the profile's NTUSER.DAT, loaded
# under a key of our own for the read and unloaded at once (as PSAppDeployToolkit's
# Invoke-ADTAllUsersRegistryAction does). Read there: Software\ESRI\ArcGISPro (a per-user Pro, MSI
# ALLUSERS=2 MSIINSTALLPERUSER=1) and the unexpanded AppData of User Shell Folders (folder redirection;
# Python's user site follows %APPDATA%). Expanding it for that user is the controller's job.
function Invoke-Reg([string[]] $Arguments) {
    $ErrorActionPreference = 'Continue'  # reg.exe's stderr is its message, not a terminating error
    $text = (& reg.exe @Arguments 2>&1 | Out-String).Trim()
    @{ rc = $LASTEXITCODE; text = $text }
}

$hives = [System.Collections.Generic.List[object]]::new()
if ($Arcgis -or $Profiles) {
    $profileList = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList'
    foreach ($profileKey in Get-ChildItem -LiteralPath $profileList) {
        $sid = $profileKey.PSChildName
        if ($sid -notmatch '^S-1-5-21-') { continue }  # local and domain accounts; not SYSTEM or services
        $profilePath = [Environment]::ExpandEnvironmentVariables([string] $profileKey.GetValue('ProfileImagePath'))
        $item = @{ sid = $sid; profile = $profilePath; loaded = $true; pro = $null; appdata = $null; error = $null }
        $mount = $null
        $usersHive = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::Users, [Microsoft.Win32.RegistryView]::Registry64)
        try {
            $hive = $usersHive.OpenSubKey($sid)
            if (-not $hive) {
                $item.loaded = $false
                $file = Join-Path $profilePath 'NTUSER.DAT'
                if (-not (Test-Path -LiteralPath $file -PathType Leaf)) { continue }
                $load = Invoke-Reg @('load', "HKU\arcgis_conda_$sid", $file)
                if ($load.rc -ne 0) { throw "reg load $($file): $($load.text)" }
                $mount = "arcgis_conda_$sid"
                $hive = $usersHive.OpenSubKey($mount)
            }
            $pro = $hive.OpenSubKey('Software\ESRI\ArcGISPro')
            if ($pro) { $item.pro = Get-KeyValues $pro; $pro.Dispose() }
            $shell = $hive.OpenSubKey('Software\Microsoft\Windows\CurrentVersion\Explorer\User Shell Folders')
            if ($shell) {
                $item.appdata = $shell.GetValue('AppData', $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
                $shell.Dispose()
            }
            $hive.Dispose()
        }
        catch { $item.error = $_.Exception.Message }
        finally {
            $usersHive.Dispose()
            if ($mount) {
                [GC]::Collect(); [GC]::WaitForPendingFinalizers()  # no open handle may keep the hive loaded
                $unload = Invoke-Reg @('unload', "HKU\$mount")
                if ($unload.rc -ne 0) { $item.error = "reg unload HKU\$($mount): $($unload.text)" }
            }
        }
        $hives.Add($item)
    }
}

if ($Arcgis) {
    $publisher = 'Environmental Systems Research Institute, Inc.'
    $uninstallPath = 'SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall'
    $uninstallValues = 'DisplayName', 'DisplayVersion', 'InstallLocation', 'Publisher'
    $is64 = [Environment]::Is64BitOperatingSystem
    $views = if ($is64) { @('64', '32') } else { @('32') }
    $esriKeys = [System.Collections.Generic.List[object]]::new()
    $uninstall = [System.Collections.Generic.List[object]]::new()
    foreach ($view in $views) {
        $regView = [Microsoft.Win32.RegistryView]::Registry32
        if ($view -eq '64') { $regView = [Microsoft.Win32.RegistryView]::Registry64 }
        $hklm = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, $regView)
        try {
            $esri = $hklm.OpenSubKey('SOFTWARE\ESRI')
            if ($esri) {
                foreach ($name in $esri.GetSubKeyNames()) {
                    $sub = $esri.OpenSubKey($name)
                    if ($sub) {
                        $esriKeys.Add(@{ view = $view; name = $name; values = (Get-KeyValues $sub) })
                        $sub.Dispose()
                    }
                }
                $esri.Dispose()
            }
            $root = $hklm.OpenSubKey($uninstallPath)
            if ($root) {
                foreach ($name in $root.GetSubKeyNames()) {
                    try { $sub = $root.OpenSubKey($name) }
                    catch [System.Security.SecurityException] { continue }  # another vendor's locked key
                    if ($sub) {
                        if ($sub.GetValue('Publisher') -eq $publisher) {
                            $uninstall.Add(@{ view = $view; key = $name; values = (Get-KeyValues $sub $uninstallValues) })
                        }
                        $sub.Dispose()
                    }
                }
                $root.Dispose()
            }
        }
        finally {
            $hklm.Dispose()
        }
    }
    $roots = [System.Collections.Generic.List[string]]::new()
    $roots.Add((Join-Path $env:SystemDrive 'Python27'))
    foreach ($key in $esriKeys) {
        $dir = $key['values']['PythonDir']
        if ($dir -and -not ($roots -contains $dir.TrimEnd('\'))) { $roots.Add($dir.TrimEnd('\')) }
    }
    $pythonDirs = [System.Collections.Generic.List[object]]::new()
    foreach ($root in $roots) {
        if (Test-Path -LiteralPath $root -PathType Container) {
            foreach ($dir in (Get-ChildItem -LiteralPath $root -Directory -Filter 'ArcGIS*' -ErrorAction SilentlyContinue)) {
                $hasPython = Test-Path -LiteralPath (Join-Path $dir.FullName 'python.exe') -PathType Leaf
                $pythonDirs.Add(@{ root = $root; name = $dir.Name; has_python = $hasPython })
            }
        }
    }
    $result.arcgis = @{
        os_64bit = $is64
        esri_keys = $esriKeys.ToArray()
        uninstall = $uninstall.ToArray()
        python_dirs = $pythonDirs.ToArray()
        user_keys = @($hives | Where-Object { $_.pro -or $_.error } | ForEach-Object {
            @{ sid = $_.sid; profile = $_.profile; loaded = $_.loaded; values = $_.pro; error = $_.error }
        })
    }
}

if ($Profiles) {
    $list = [System.Collections.Generic.List[object]]::new()
    foreach ($key in Get-ChildItem -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList') {
        $account = $null
        try {
            $sid = [System.Security.Principal.SecurityIdentifier] $key.PSChildName
            $account = $sid.Translate([System.Security.Principal.NTAccount]).Value
        }
        catch { $account = $null }
        $hive = $hives | Where-Object { $_.sid -eq $key.PSChildName } | Select-Object -First 1
        $list.Add(@{
            sid = $key.PSChildName; path = [string] $key.GetValue('ProfileImagePath'); account = $account
            appdata = if ($hive) { $hive.appdata } else { $null }; hive_error = if ($hive) { $hive.error } else { $null }
        })
    }
    $result.profiles = $list.ToArray()
}

if ($Session) {
    # WinRM ends a shell whose processes use more than MaxMemoryPerShellMB; PowerShell remoting's plugin
    # quota and the shell's own both apply, so the lower one is reported (0: none set).
    $quota = $null
    foreach ($item in 'WSMan:\localhost\Plugin\Microsoft.PowerShell\Quotas\MaxMemoryPerShellMB', 'WSMan:\localhost\Shell\MaxMemoryPerShellMB') {
        try {
            $value = [int] (Get-Item -LiteralPath $item -ErrorAction Stop).Value
            if ($value -gt 0 -and ($null -eq $quota -or $value -lt $quota)) { $quota = $value }
        }
        catch { }
    }
    # Running programs by image path: one started from inside a prefix holds its files open.
    $procs = @(Get-CimInstance -ClassName Win32_Process -ErrorAction SilentlyContinue | Where-Object { $_.ExecutablePath } |
        ForEach-Object { @{ pid = [int] $_.ProcessId; name = [string] $_.Name; path = [string] $_.ExecutablePath } })
    $result.session = @{ max_memory_mb = $quota; processes = $procs }
}

$envValues = @{}
foreach ($name in $EnvNames) { $envValues[$name] = [Environment]::GetEnvironmentVariable($name, 'Machine') }
$result.env = $envValues

$store = @{}
foreach ($t in $Thumbprints) { $store[$t] = Test-Path -LiteralPath "Cert:\LocalMachine\Root\$t" }
$result.store = $store

$reads = [System.Collections.Generic.List[object]]::new()
foreach ($read in $Reads) {
    $content = [bool] $read.content
    $detail = ($null -eq $read.detail) -or [bool] $read.detail
    if ($read.kind -eq 'glob') {
        $found = @(Get-Item -Path $read.path -Force -ErrorAction SilentlyContinue | Sort-Object FullName |
            ForEach-Object { Get-Entry $_.FullName $content $detail })
        $reads.Add(@{ path = $read.path; type = 'glob'; matches = $found })
    }
    else {
        $reads.Add((Get-Entry ([string] $read.path) $content $detail))
    }
}
$result.reads = $reads.ToArray()

$runs = [System.Collections.Generic.List[object]]::new()
foreach ($spec in $Runs) {
    $run = @{ id = $spec.id; rc = $null; stdout = ''; stderr = ''; error = $null }
    $scriptPath = $null
    try {
        $argv = @($spec.argv)
        if ($spec.script) {
            $scriptPath = Join-Path $Ansible.Tmpdir ("{0}.py" -f $spec.id)
            [System.IO.File]::WriteAllText($scriptPath, $spec.script, [System.Text.UTF8Encoding]::new($false))
            $argv = @($argv | ForEach-Object { if ($_ -eq '{script}') { $scriptPath } else { $_ } })
        }
        $psi = [System.Diagnostics.ProcessStartInfo]::new($argv[0])
        $psi.Arguments = (@($argv | Select-Object -Skip 1) | ForEach-Object { '"{0}"' -f ($_ -replace '"', '\"') }) -join ' '
        $psi.WorkingDirectory = $Ansible.Tmpdir
        foreach ($pair in @($spec.environment)) {
            if (-not $pair) { continue }
            $name, $value = ([string] $pair) -split '=', 2
            $psi.EnvironmentVariables[$name] = [Environment]::ExpandEnvironmentVariables($value)
        }
        $psi.UseShellExecute = $false
        $psi.CreateNoWindow = $true
        $psi.RedirectStandardInput = $true
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $process = [System.Diagnostics.Process]::Start($psi)
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        if ($spec.stdin) { $process.StandardInput.Write([string] $spec.stdin) }
        $process.StandardInput.Close()
        $timeout = if ($spec.timeout) { [int] $spec.timeout } else { 120 }
        if ($process.WaitForExit($timeout * 1000)) {
            $process.WaitForExit()
            $run.rc = $process.ExitCode
        }
        else {
            $process.Kill()
            $run.error = "no answer within $timeout s (killed)"
        }
        $run.stdout = $stdout.Result
        $run.stderr = $stderr.Result
    }
    catch {
        $run.error = $_.Exception.Message
    }
    finally {
        if ($scriptPath) { [System.IO.File]::Delete($scriptPath) }
    }
    $runs.Add($run)
}
$result.runs = $runs.ToArray()
$Ansible.Result = $result
"""

APPLY_FILES_SCRIPT = r"""# arcgis_conda.fleet host script: apply_files
[CmdletBinding()]
param (
    [Parameter(Mandatory = $true)] [object[]] $Items
)
# Applies the controller's planned file operations in order; stops at the first failure. Never sent in
# check mode: the plan is the prediction.
$ErrorActionPreference = 'Stop'
$done = [System.Collections.Generic.List[object]]::new()
$admins = [System.Security.Principal.SecurityIdentifier] 'S-1-5-32-544'

function Test-SameBytes([string] $Path, [byte[]] $Bytes) {
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return $false }
    $old = [System.IO.File]::ReadAllBytes($Path)
    if ($old.Length -ne $Bytes.Length) { return $false }
    for ($i = 0; $i -lt $old.Length; $i++) { if ($old[$i] -ne $Bytes[$i]) { return $false } }
    $true
}

function Get-SecurityText([string] $Path) {
    # The folder's and every child's security descriptor: equal text, nothing changed.
    $items = @(Get-Item -LiteralPath $Path -Force) + @(Get-ChildItem -LiteralPath $Path -Recurse -Force)
    ($items | ForEach-Object { '{0}={1}' -f $_.FullName, (Get-Acl -LiteralPath $_.FullName).Sddl }) -join "`n"
}

function Set-AdminOnly([string] $Path) {
    $acl = Get-Acl -LiteralPath $Path
    $acl.SetOwner($admins)
    $acl.SetAccessRuleProtection($true, $false)
    foreach ($rule in @($acl.Access)) { [void] $acl.RemoveAccessRuleAll($rule) }
    $both = [System.Security.AccessControl.InheritanceFlags] 'ContainerInherit, ObjectInherit'
    $none = [System.Security.AccessControl.PropagationFlags] 'None'
    foreach ($grant in @(@('S-1-5-18', 'FullControl'), @('S-1-5-32-544', 'FullControl'), @('S-1-5-32-545', 'ReadAndExecute'))) {
        $sid = [System.Security.Principal.SecurityIdentifier] $grant[0]
        $acl.AddAccessRule([System.Security.AccessControl.FileSystemAccessRule]::new($sid, $grant[1], $both, $none, 'Allow'))
    }
    Set-Acl -LiteralPath $Path -AclObject $acl
    foreach ($child in Get-ChildItem -LiteralPath $Path -Recurse -Force) {
        $childAcl = Get-Acl -LiteralPath $child.FullName
        $childAcl.SetOwner($admins)
        $childAcl.SetAccessRuleProtection($false, $false)
        foreach ($rule in @($childAcl.Access | Where-Object { -not $_.IsInherited })) { [void] $childAcl.RemoveAccessRuleAll($rule) }
        Set-Acl -LiteralPath $child.FullName -AclObject $childAcl
    }
}

foreach ($item in $Items) {
    $record = @{ op = $item.op; path = $item.path; changed = $false; backup_file = $null }
    try {
        switch ($item.op) {
            'mkdir' {
                if (-not (Test-Path -LiteralPath $item.path -PathType Container)) {
                    $parent = Split-Path -Path $item.path -Parent
                    if (-not (Test-Path -LiteralPath $parent -PathType Container)) {
                        throw "Could not find a part of the path '$($item.path)': $parent does not exist"
                    }
                    [void] [System.IO.Directory]::CreateDirectory($item.path)
                    $record.changed = $true
                }
            }
            'write' {
                $bytes = [Convert]::FromBase64String($item.content_b64)
                if (-not (Test-SameBytes $item.path $bytes)) {
                    if ($item.backup -and (Test-Path -LiteralPath $item.path -PathType Leaf)) {
                        $record.backup_file = '{0}.{1}.bak' -f $item.path, (Get-Date -Format 'yyyyMMdd-HHmmss')
                        [System.IO.File]::Copy($item.path, $record.backup_file, $true)
                    }
                    [System.IO.File]::WriteAllBytes($item.path, $bytes)
                    $record.changed = $true
                }
            }
            'copy' {
                $exists = Test-Path -LiteralPath $item.path
                if (($item.force -or -not $exists) -and
                    -not (Test-SameBytes $item.path ([System.IO.File]::ReadAllBytes($item.src)))) {
                    [System.IO.File]::Copy($item.src, $item.path, $true)
                    $record.changed = $true
                }
            }
            'delete' {
                if (Test-Path -LiteralPath $item.path) {
                    Remove-Item -LiteralPath $item.path -Recurse -Force
                    $record.changed = $true
                }
            }
            'rmdir_empty' {
                if ((Test-Path -LiteralPath $item.path -PathType Container) -and
                    -not (Get-ChildItem -LiteralPath $item.path -Force | Select-Object -First 1)) {
                    Remove-Item -LiteralPath $item.path -Force
                    $record.changed = $true
                }
            }
            'secure' {
                $before = Get-SecurityText $item.path
                Set-AdminOnly $item.path
                $record.changed = $before -ne (Get-SecurityText $item.path)
            }
            default { throw "unknown operation $($item.op)" }
        }
    }
    catch {
        $Ansible.Result = @{ items = $done.ToArray() }
        $Ansible.Failed = $true
        throw "$($item.op) $($item.path): $($_.Exception.Message)"
    }
    if ($record.changed) { $Ansible.Changed = $true }
    $done.Add($record)
}
$Ansible.Result = @{ items = $done.ToArray() }
"""

FILE_OPS = ("mkdir", "write", "copy", "delete", "rmdir_empty", "secure")
# .NET FileSystemRights bits that let a principal change a file or add to a folder.
WRITE_RIGHTS = (
    0x2 | 0x4 | 0x10 | 0x40 | 0x100 | 0x10000 | 0x40000 | 0x80000
)  # write/append/ea/attrs/del/dac/owner
# Principals a lab's trusted paths may be owned or written by: SYSTEM, Administrators, TrustedInstaller
# (Program Files), and CREATOR OWNER (an inherit-only placeholder: it grants only what the creator of a
# child already had the right to create).
ADMIN_SIDS = frozenset(
    {
        "S-1-5-18",
        "S-1-5-32-544",
        "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464",
        "S-1-3-0",
    }
)
_GLOB = re.compile(r"[*?]")


class NotObserved(KeyError):
    """A planner asked about a path the observe step did not read: a bug in the observe spec."""

    def __str__(self) -> str:  # KeyError's own str() is the repr of its argument (doubled backslashes)
        return str(self.args[0]) if self.args else ""


def key(path: str) -> str:
    """Windows paths compare case-insensitively and without a trailing separator."""
    return ntpath.normpath(path).rstrip("\\").lower()


@dataclass(frozen=True)
class Read:
    """One read of the observe spec: a file, a folder (with its children's names) or a glob."""

    path: str
    kind: str = "file"  # file | dir | glob
    content: bool = False
    detail: bool = True  # owner, ACL and SHA-256; False: existence and size only (big conda-meta globs)

    def as_param(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "content": self.content, "detail": self.detail}


def merge_reads(reads: Iterable[Read]) -> list[Read]:
    """One read per (path, kind), asking for content when any asker wants it; order kept."""
    merged: dict[tuple[str, str], Read] = {}
    for read in reads:
        k = (key(read.path), read.kind)
        old = merged.get(k)
        merged[k] = (
            read
            if old is None
            else Read(old.path, old.kind, old.content or read.content, old.detail or read.detail)
        )
    return list(merged.values())


@dataclass
class Entry:
    path: str
    type: str  # file | dir | missing | error
    size: int | None = None
    sha256: str | None = None
    content: bytes | None = None
    owner: str | None = None
    protected: bool = False
    acl: list[dict[str, Any]] = field(default_factory=list)
    children: list[dict[str, Any]] | None = None
    error: str | None = None

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> Entry:
        content = raw.get("content_b64")
        return cls(
            path=str(raw.get("path", "")),
            type=str(raw.get("type", "missing")),
            size=raw.get("size"),
            sha256=(str(raw["sha256"]).lower() if raw.get("sha256") else None),
            content=base64.b64decode(content) if isinstance(content, str) else None,
            owner=raw.get("owner"),
            protected=bool(raw.get("protected")),
            acl=list(raw.get("acl") or []),
            children=list(raw["children"]) if isinstance(raw.get("children"), list) else None,
            error=raw.get("error"),
        )

    def to_raw(self) -> dict[str, Any]:
        raw: dict[str, Any] = {"path": self.path, "type": self.type}
        for name in ("size", "sha256", "owner", "error", "children"):
            value = getattr(self, name)
            if value is not None:
                raw[name] = value
        if self.type in ("file", "dir"):
            raw["protected"] = self.protected
            raw["acl"] = self.acl
        if self.content is not None:
            raw["content_b64"] = base64.b64encode(self.content).decode("ascii")
        return raw

    def trusted(self) -> bool:
        """Owned by an admin principal and writable by no one else: safe for the admin run to trust."""
        return self.type in ("file", "dir") and (self.owner in ADMIN_SIDS) and not self.writable_by_others()

    def writable_by_others(self) -> list[str]:
        """SIDs other than SYSTEM/Administrators that may change this file or add to this folder."""
        sids = []
        if self.owner and self.owner not in ADMIN_SIDS:
            sids.append(self.owner)
        for ace in self.acl:
            if ace.get("type") == "allow" and int(ace.get("rights") or 0) & WRITE_RIGHTS:
                sid = str(ace.get("sid"))
                if sid not in ADMIN_SIDS and sid not in sids:
                    sids.append(sid)
        return sids


class Snapshot:
    """A host's ``host_read`` answers, looked up case-insensitively.

    ``exists``/``text``/``sha256`` answer for a path that was read, or that is a child of a folder that
    was read (existence only), or that a glob covered. Anything else raises :class:`NotObserved`.
    """

    def __init__(self, raw: Mapping[str, Any] | None = None) -> None:
        raw = raw or {}
        self.entries: dict[str, Entry] = {}
        self.globs: dict[str, list[str]] = {}
        self._direct: list[str] = []
        for item in raw.get("reads") or []:
            if item.get("type") == "glob":
                matches = [Entry.from_raw(m) for m in item.get("matches") or []]
                self.globs[key(str(item["path"]))] = [m.path for m in matches]
                for match in matches:
                    self._keep(match)
            else:
                entry = Entry.from_raw(item)
                self._keep(entry)
                self._direct.append(key(entry.path))
        self.env = {str(k).upper(): v for k, v in (raw.get("env") or {}).items()}
        self.store = {str(k).upper(): bool(v) for k, v in (raw.get("store") or {}).items()}
        self.profiles = list(raw.get("profiles") or [])
        self.runs = {str(r.get("id")): r for r in raw.get("runs") or []}
        # The WinRM shell's memory quota (MB, None: unknown or none) and the running programs.
        self.session = dict(raw.get("session") or {})

    def _keep(self, entry: Entry) -> None:
        """One entry per path: two reads of one path (a file and a glob over it) keep what each knows."""
        k = key(entry.path)
        old = self.entries.get(k)
        if old is None:
            self.entries[k] = entry
            return
        for name in ("size", "sha256", "content", "owner", "children", "error"):
            if getattr(old, name) is None and getattr(entry, name) is not None:
                setattr(old, name, getattr(entry, name))
        if not old.acl and entry.acl:
            old.acl, old.protected = entry.acl, entry.protected

    def to_raw(self) -> dict[str, Any]:
        """The snapshot as ``host_read`` returned it (for the fact cache and offline plans)."""
        reads: list[dict[str, Any]] = [self.entries[k].to_raw() for k in dict.fromkeys(self._direct)]
        for pattern, paths in self.globs.items():
            reads.append(
                {"path": pattern, "type": "glob", "matches": [self.entries[key(p)].to_raw() for p in paths]}
            )
        return {
            "reads": reads,
            "env": self.env,
            "store": self.store,
            "profiles": self.profiles,
            "session": self.session,
            "runs": [],
        }

    def holders(self, path: str) -> list[dict[str, Any]]:
        """Running programs whose image lies in ``path`` (a prefix): Windows keeps a running image and
        its DLLs open, so changing or removing that folder would fail half-way."""
        k = key(path)
        return [
            proc
            for proc in self.session.get("processes") or []
            if key(str(proc.get("path") or "")).startswith(k + "\\")
        ]

    def _covered_by_glob(self, path: str) -> bool:
        k = key(path)
        return any(_glob_match(pattern, k) for pattern in self.globs)

    def entry(self, path: str) -> Entry:
        k = key(path)
        found = self.entries.get(k)
        if found is not None:
            return found
        # The nearest ancestor that was read decides: missing, or listed without the next name, means missing.
        below, up = ntpath.basename(k), ntpath.dirname(k)
        while up and up != k:
            ancestor = self.entries.get(up)
            if ancestor is not None:
                if ancestor.type == "missing":
                    return Entry(path=path, type="missing")
                if ancestor.children is None:
                    break
                child = next((c for c in ancestor.children if str(c.get("name", "")).lower() == below), None)
                if child is None:
                    return Entry(path=path, type="missing")
                if up == ntpath.dirname(k):
                    return Entry(path=path, type="dir" if child.get("dir") else "file")
                break
            below, k2 = ntpath.basename(up), ntpath.dirname(up)
            if k2 == up:
                break
            up = k2
        if self._covered_by_glob(path):
            return Entry(path=path, type="missing")
        raise NotObserved(path)

    def exists(self, path: str) -> bool:
        return self.entry(path).type in ("file", "dir")

    def is_dir(self, path: str) -> bool:
        return self.entry(path).type == "dir"

    def sha256(self, path: str) -> str | None:
        entry = self.entry(path)
        if entry.type == "file" and entry.sha256 is None:
            raise NotObserved(path)
        return entry.sha256 if entry.type == "file" else None

    def data(self, path: str) -> bytes | None:
        entry = self.entry(path)
        if entry.type != "file":
            return None
        if entry.content is None:
            raise NotObserved(f"{path} (content)")
        return entry.content

    def text(self, path: str) -> str | None:
        data = self.data(path)
        return None if data is None else data.decode("utf-8-sig", errors="replace")

    def listing(self, path: str) -> list[str] | None:
        entry = self.entry(path)
        if entry.type != "dir":
            return None
        if entry.children is None:
            raise NotObserved(f"{path} (listing)")
        return [str(c.get("name")) for c in entry.children]

    def glob(self, pattern: str) -> list[str]:
        found = self.globs.get(key(pattern))
        if found is None:
            raise NotObserved(pattern)
        return list(found)


def _glob_match(pattern: str, path_key: str) -> bool:
    """Whether a (lower-cased) path lies at or under a glob's matches' depth (``*`` = one segment)."""
    parts = pattern.split("\\")
    names = path_key.split("\\")
    if len(names) != len(parts):
        return False
    for want, got in zip(parts, names, strict=True):
        if _GLOB.search(want):
            regex = "^" + re.escape(want).replace(r"\*", ".*").replace(r"\?", ".") + "$"
            if not re.match(regex, got):
                return False
        elif want != got:
            return False
    return True


def conda_activation(prefix: str) -> list[str]:
    """A run's environment as ``conda activate <prefix>`` sets it on Windows: the PATH folders of conda's
    ``_get_path_dirs`` (conda/activate.py: prefix, Library\\mingw-w64\\bin, Library\\usr\\bin,
    Library\\bin, Scripts, bin) before the session's PATH, and CONDA_PREFIX. Without them a Miniconda
    env's numpy cannot load its MKL DLLs (conda's "NumPy MKL library load failed"). Not run: the env's
    ``etc\\conda\\activate.d`` scripts (none of the checked packages needs one). ``%PATH%`` is expanded on
    the host (``ExpandEnvironmentVariables``); each item is ``NAME=VALUE``."""
    folders = [
        prefix,
        *(
            ntpath.join(prefix, *parts)
            for parts in (("Library", "mingw-w64", "bin"), ("Library", "usr", "bin"))
        ),
        ntpath.join(prefix, "Library", "bin"),
        ntpath.join(prefix, "Scripts"),
        ntpath.join(prefix, "bin"),
    ]
    return [f"PATH={';'.join(folders)};%PATH%", f"CONDA_PREFIX={prefix}", "CONDA_SHLVL=1"]


def match_profiles(
    profiles: Sequence[Mapping[str, Any]], user: str, *, full: bool = False
) -> list[dict[str, Any]]:
    """ProfileList profiles (``Snapshot.profiles``: sid, path, account) whose account is the user, given as
    DOMAIN\\name or name. By account, never by folder name: Windows names a second profile of the same
    name ``jsmith.LAB`` or ``jsmith.LABPC`` (ProfileImagePath is the truth), and the domain and a local
    account of one name are two users
    (https://learn.microsoft.com/en-us/troubleshoot/windows-server/user-profiles-and-logon/renaming-user-account-not-change-profile-path)."""
    out = []
    for profile in profiles:
        account = str(profile.get("account") or "")
        if account and (
            account.lower() == user.lower() or account.rsplit("\\", 1)[-1].lower() == user.lower()
        ):
            found = {"account": account, "path": str(profile.get("path"))}
            out.append({**dict(profile), **found} if full else found)  # full: sid, appdata, hive_error too
    return out


def redirected_appdata(profile: Mapping[str, Any]) -> str | None:
    """The profile's %APPDATA% when folder redirection moved it out of ``<profile>\\AppData\\Roaming``
    (User Shell Folders AppData of that user's hive, expanded for that user), else None."""
    raw = profile.get("appdata")
    if not raw:
        return None
    home = str(profile.get("path") or "")
    name = str(profile.get("account") or "").rsplit("\\", 1)[-1]
    values = {"userprofile": home, "username": name, "homedrive": home[:2], "systemdrive": home[:2]}
    value = re.sub(r"%([^%]+)%", lambda m: values.get(m.group(1).lower(), m.group(0)), str(raw))
    return None if key(value) == key(ntpath.join(home, "AppData", "Roaming")) else value


def write_item(path: str, content: bytes | str, backup: bool = False) -> dict[str, Any]:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return {
        "op": "write",
        "path": path,
        "content_b64": base64.b64encode(data).decode("ascii"),
        "backup": backup,
    }


def host_read_params(
    reads: Sequence[Read] = (),
    runs: Sequence[Mapping[str, Any]] = (),
    *,
    arcgis: bool = False,
    profiles: bool = False,
    session: bool = False,
    env_names: Sequence[str] = (),
    thumbprints: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``win_powershell`` module arguments of one host_read call."""
    return {
        "script": HOST_READ_SCRIPT,
        "parameters": {
            "Arcgis": arcgis,
            "Profiles": profiles,
            "Session": session,
            "EnvNames": list(env_names),
            "Thumbprints": list(thumbprints),
            "Reads": [r.as_param() for r in merge_reads(reads)],
            "Runs": [dict(r) for r in runs],
        },
        "depth": 8,
        "error_action": "stop",
    }


def module_error(result: Mapping[str, Any]) -> str:
    """The most useful error text of a failed win_powershell result."""
    for record in result.get("error") or []:
        if isinstance(record, dict):
            text = record.get("output") or (record.get("exception") or {}).get("message")
            if text:
                return str(text).strip()
    return str(result.get("msg") or "no error text")
