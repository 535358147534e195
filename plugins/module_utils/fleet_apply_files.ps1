# arcgis_conda.fleet host script: apply_files
[CmdletBinding()]
param (
    [Parameter(Mandatory = $true)] [object[]] $Items
)
# Applies the controller's planned file operations in order; stops at the first failure of an operation.
# Inside a tree it secures, an item that cannot be listed or changed (a student's locked folder, a path
# over MAX_PATH) or a junction is skipped and reported, an item no administrator owns is moved aside, and
# icacls' own per-item errors are returned for the controller to report: never a failure of the whole
# batch. Never sent in check mode: the plan is the prediction.
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

function Get-Security([string] $Path) {
    $acl = Get-Acl -LiteralPath $Path
    @{
        owner = $acl.GetOwner([System.Security.Principal.SecurityIdentifier]).Value
        # What icacls /reset changes: a protected DACL, or an entry of its own (not inherited).
        reset = $acl.AreAccessRulesProtected -or
            [bool] @($acl.GetAccessRules($true, $false, [System.Security.Principal.SecurityIdentifier])).Count
    }
}

function Move-Aside([string] $Path) {
    # Renamed in its folder: the same volume, so it keeps its own security descriptor; an inert name
    # (no loader, site.py or conda reads *.untrusted). The first free name, as the controller picks it.
    $aside = "$Path.untrusted"
    for ($n = 1; Test-Path -LiteralPath $aside; $n++) { $aside = "$Path.untrusted.$n" }
    [System.IO.Directory]::Move($Path, $aside)  # files and folders alike
    $aside
}

function Invoke-Icacls([string[]] $Arguments) {
    $ErrorActionPreference = 'Continue'  # icacls' per-item errors are its output, judged on the controller
    $text = (& icacls.exe @Arguments 2>&1 | Out-String).Trim()
    @{ arguments = $Arguments; rc = $LASTEXITCODE; output = $text }
}

function Set-FolderAdminOnly([string] $Path) {
    # The folder itself: owner Administrators, inheritance off, SYSTEM and Administrators Full control,
    # Users Read & execute, passed on to what is (and will be) below it. True when it changed.
    $before = (Get-Acl -LiteralPath $Path).Sddl
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
    $before -ne (Get-Acl -LiteralPath $Path).Sddl
}

function Set-AdminOnly($Item, $Record) {
    # 1. The folder itself: it must be an administrator's (else it is a user's folder, never adopted), then
    #    owner Administrators, inheritance off, SYSTEM and Administrators Full, Users Read & execute.
    # 2. Below it, walked without following anything: a junction or symbolic link is reported and left
    #    alone; an item no administrator owns is moved aside (<name>.untrusted), never re-owned; an item
    #    that cannot be listed or read is reported. Each item on its own: the walk never stops the batch.
    # 3. One icacls /reset /T /C /L over the tree (every item inherits the folder's ACL; constructor's
    #    installers do the same "because it is much faster"), only when something needs it and no reparse
    #    point lies inside (icacls' /T is not documented to stop at one); otherwise item by item.
    $Path = [string] $Item.path
    $owners = @($Item.owners)
    $root = Get-Security $Path
    if ($owners -notcontains $root.owner) {
        throw "owned by $($root.owner), not an administrator: not secured (it holds a user's files)"
    }
    $changed = Set-FolderAdminOnly $Path
    $reparse = $false
    $reset = [System.Collections.Generic.List[string]]::new()
    $folders = [System.Collections.Generic.Stack[string]]::new()
    $folders.Push($Path)
    while ($folders.Count -gt 0) {
        $folder = $folders.Pop()
        try { $children = @(Get-ChildItem -LiteralPath $folder -Force -ErrorAction Stop) }
        catch { $Record.skipped.Add(@{ path = $folder; why = "not listed: $($_.Exception.Message)" }); continue }
        foreach ($child in $children) {
            try {
                if ($child.Attributes -band [System.IO.FileAttributes]::ReparsePoint) {
                    $Record.skipped.Add(@{ path = $child.FullName; why = 'junction or symbolic link: not followed, left alone' })
                    $reparse = $true
                    continue
                }
                $security = Get-Security $child.FullName
                if ($owners -notcontains $security.owner) {
                    $Record.moved.Add(@{ path = $child.FullName; owner = $security.owner; aside = (Move-Aside $child.FullName) })
                    continue
                }
                if ($security.reset) { $reset.Add($child.FullName) }
                if ($child.PSIsContainer) { $folders.Push($child.FullName) }
            }
            catch { $Record.skipped.Add(@{ path = $child.FullName; why = $_.Exception.Message }) }
        }
    }
    if ($Record.moved.Count) { $changed = $true }
    if ($reset.Count -and -not $reparse) {
        $Record.commands.Add((Invoke-Icacls @($Item.tree_arguments)))
        $changed = $true
    }
    elseif ($reset.Count) {
        foreach ($one in $reset) {
            try {
                $childAcl = Get-Acl -LiteralPath $one
                $childAcl.SetAccessRuleProtection($false, $false)
                foreach ($rule in @($childAcl.Access | Where-Object { -not $_.IsInherited })) { [void] $childAcl.RemoveAccessRuleAll($rule) }
                Set-Acl -LiteralPath $one -AclObject $childAcl
                $changed = $true
            }
            catch { $Record.skipped.Add(@{ path = $one; why = $_.Exception.Message }) }
        }
    }
    $changed
}

function Set-SecuredTree($Item, $Record) {
    # Set-AdminOnly over one tree, its skipped, moved and icacls results written into the item's record.
    $found = @{
        skipped = [System.Collections.Generic.List[object]]::new()
        moved = [System.Collections.Generic.List[object]]::new()
        commands = [System.Collections.Generic.List[object]]::new()
    }
    $Record.changed = [bool] (Set-AdminOnly $Item $found)
    $Record.skipped = $found.skipped.ToArray()
    $Record.moved = $found.moved.ToArray()
    $Record.commands = $found.commands.ToArray()
}

foreach ($item in $Items) {
    $record = @{ op = $item.op; path = $item.path; changed = $false; backup_file = $null; skipped = @(); moved = @(); commands = @() }
    try {
        switch ($item.op) {
            'mkdir' {
                if (-not (Test-Path -LiteralPath $item.path -PathType Container)) {
                    $parent = Split-Path -Path $item.path -Parent
                    if (-not (Test-Path -LiteralPath $parent -PathType Container)) {
                        throw "Could not find a part of the path '$($item.path)': $parent does not exist"
                    }
                    [void] [System.IO.Directory]::CreateDirectory($item.path)
                    # Create secure, then fill: admin-only before anything is put in it.
                    if ($item.secure) { [void] (Set-FolderAdminOnly $item.path) }
                    $record.changed = $true
                }
                elseif ($item.secure) {
                    # Made by someone else since observe: secured as a tree (never adopted: a user's fails).
                    Set-SecuredTree $item $record
                }
            }
            'move' {
                # A folder no administrator owns, moved aside whole (renamed on its volume, so it keeps its
                # owner and ACL); never onto an existing name.
                if (Test-Path -LiteralPath $item.src) {
                    if (Test-Path -LiteralPath $item.path) { throw "$($item.path) already exists: not replaced" }
                    [System.IO.Directory]::Move($item.src, $item.path)
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
                # A file moved aside never replaces another: stop before the delete that follows it.
                if ($item.exclusive -and $exists -and
                    -not (Test-SameBytes $item.path ([System.IO.File]::ReadAllBytes($item.src)))) {
                    throw "$($item.path) already exists with other content: not replaced"
                }
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
                Set-SecuredTree $item $record
            }
            default { throw "unknown operation $($item.op)" }
        }
    }
    catch {
        $Ansible.Result = @{ applied = $done.ToArray() }
        $Ansible.Failed = $true
        throw "$($item.op) $($item.path): $($_.Exception.Message)"
    }
    if ($record.changed) { $Ansible.Changed = $true }
    $done.Add($record)
}
$Ansible.Result = @{ applied = $done.ToArray() }
