# arcgis_conda.fleet host script: apply_files
[CmdletBinding()]
param (
    [Parameter(Mandatory = $true)] [object[]] $Items
)
# Applies the controller's planned file operations in order; stops at the first failure of an operation.
# Inside a tree it secures, an item that cannot be listed or changed (a student's locked folder, a path
# over MAX_PATH, a junction) is skipped and reported, never a failure of the whole batch. Never sent in
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

function Set-AdminOnly([string] $Path, $Skipped) {
    # The folder itself must be secured (a failure here fails the operation); below it, each item on its
    # own: one that cannot be listed or changed is skipped with the reason. Junctions and symbolic links
    # are not followed (Windows PowerShell 5.1's Get-ChildItem recursion enters them: loops, other drives;
    # PowerShell 6 added -FollowSymlink and stopped). True when any security descriptor changed.
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
    $changed = $before -ne (Get-Acl -LiteralPath $Path).Sddl
    $folders = [System.Collections.Generic.Stack[string]]::new()
    $folders.Push($Path)
    while ($folders.Count -gt 0) {
        $folder = $folders.Pop()
        try { $children = @(Get-ChildItem -LiteralPath $folder -Force -ErrorAction Stop) }
        catch { $Skipped.Add(@{ path = $folder; why = "not listed: $($_.Exception.Message)" }); continue }
        foreach ($child in $children) {
            try {
                if ($child.Attributes -band [System.IO.FileAttributes]::ReparsePoint) {
                    $Skipped.Add(@{ path = $child.FullName; why = 'junction or symbolic link: not followed' })
                    continue
                }
                $childAcl = Get-Acl -LiteralPath $child.FullName
                $old = $childAcl.Sddl
                $childAcl.SetOwner($admins)
                $childAcl.SetAccessRuleProtection($false, $false)
                foreach ($rule in @($childAcl.Access | Where-Object { -not $_.IsInherited })) { [void] $childAcl.RemoveAccessRuleAll($rule) }
                Set-Acl -LiteralPath $child.FullName -AclObject $childAcl
                if ($old -ne (Get-Acl -LiteralPath $child.FullName).Sddl) { $changed = $true }
                if ($child.PSIsContainer) { $folders.Push($child.FullName) }
            }
            catch { $Skipped.Add(@{ path = $child.FullName; why = $_.Exception.Message }) }
        }
    }
    $changed
}

foreach ($item in $Items) {
    $record = @{ op = $item.op; path = $item.path; changed = $false; backup_file = $null; skipped = @() }
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
                $skipped = [System.Collections.Generic.List[object]]::new()
                $record.changed = [bool] (Set-AdminOnly $item.path $skipped)
                $record.skipped = $skipped.ToArray()
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
