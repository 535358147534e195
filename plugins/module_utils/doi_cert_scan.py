"""The read-only PowerShell that gathers what the doi_cert planner needs from a host, in one round trip.

It runs through ``ansible.windows.win_powershell`` from the ``arcgis_conda.fleet.doi_cert_plan`` action
plugin. It changes nothing (``$Ansible.Changed = $false``) and declares SupportsShouldProcess so that it
also runs in check mode. Every decision is taken afterwards, in Python, by ``doi_cert_plan.make_plan``.

Result (``$Ansible.Result``)::

    files:    {path: text or null}          every file asked for, plus *.yml/*.yaml of listed condarc.d
    dirs:     {path: [names] or null}       listing of every folder asked for (null: missing)
    profiles: {user: [{account, path}]}     Windows profiles whose account matches each listed user
    env:      {name: value or null}         machine-level environment variables
    store:    {thumbprint: bool}            presence in Cert:\\LocalMachine\\Root
    problems: [text]                        files that exist but could not be read

The previous run's manifest (``ManifestPath``) is read here too, so that the folders, files and
certificates it recorded are looked at even when the current settings no longer name them.
"""

from __future__ import annotations

SCAN_SCRIPT = r"""
[CmdletBinding(SupportsShouldProcess)]
param(
    [string]$ManifestPath,
    [string[]]$Files = @(),
    [string[]]$Dirs = @(),
    [string[]]$Users = @(),
    [string[]]$UserFiles = @(),
    [string[]]$UserDirs = @(),
    [string[]]$EnvNames = @(),
    [string[]]$Thumbprints = @()
)
# arcgis-conda fleet, role doi_cert: read-only scan. Changes nothing, so it runs in check mode too.
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

$fileTexts = @{}
$dirNames = @{}
$problems = [System.Collections.Generic.List[string]]::new()

function Add-File([string]$Path) {
    if (-not $Path -or $fileTexts.ContainsKey($Path)) { return }
    $fileTexts[$Path] = $null
    if (Test-Path -LiteralPath $Path -PathType Leaf) {
        try {
            $fileTexts[$Path] = [System.IO.File]::ReadAllText($Path)
        }
        catch {
            $problems.Add("cannot read ${Path}: $($_.Exception.Message)")
        }
    }
}

function Add-Dir([string]$Path) {
    if (-not $Path -or $dirNames.ContainsKey($Path)) { return }
    $dirNames[$Path] = $null
    if (Test-Path -LiteralPath $Path -PathType Container) {
        $names = @(Get-ChildItem -LiteralPath $Path -Force | ForEach-Object { $_.Name })
        $dirNames[$Path] = $names
        if ((Split-Path -Path $Path -Leaf) -eq 'condarc.d') {
            foreach ($name in $names) {
                if ($name -like '*.yml' -or $name -like '*.yaml') { Add-File "$Path\$name" }
            }
        }
    }
}

$wantedThumbprints = [System.Collections.Generic.List[string]]::new()
foreach ($t in $Thumbprints) { if ($t) { $wantedThumbprints.Add($t) } }

Add-File $ManifestPath
$manifestText = $fileTexts[$ManifestPath]
if ($manifestText) {
    $manifest = $null
    try { $manifest = ConvertFrom-Json -InputObject $manifestText } catch { $manifest = $null }
    if ($manifest) {
        foreach ($d in @($manifest.dirs)) { if ($d) { Add-Dir ([string]$d) } }
        foreach ($t in @($manifest.store)) { if ($t) { $wantedThumbprints.Add([string]$t) } }
        if ($manifest.pip_ini -and $manifest.pip_ini.path) { Add-File ([string]$manifest.pip_ini.path) }
        if ($manifest.user_condarc) {
            foreach ($p in $manifest.user_condarc.PSObject.Properties.Name) { Add-File $p }
        }
    }
}

foreach ($f in $Files) { Add-File $f }
foreach ($d in $Dirs) { Add-Dir $d }

$profileRoot = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList'
$known = [System.Collections.Generic.List[object]]::new()
foreach ($key in Get-ChildItem -LiteralPath $profileRoot) {
    $profilePath = $key.GetValue('ProfileImagePath')
    if (-not $profilePath) { continue }
    $account = $null
    try {
        $sid = [System.Security.Principal.SecurityIdentifier]$key.PSChildName
        $account = $sid.Translate([System.Security.Principal.NTAccount]).Value
    }
    catch { $account = $null }
    if ($account) { $known.Add(@{ account = [string]$account; path = [string]$profilePath }) }
}

$profiles = @{}
foreach ($user in $Users) {
    $found = @($known | Where-Object { $_.account -eq $user -or ($_.account -split '\\')[-1] -eq $user })
    $profiles[$user] = $found
    if ($found.Count -eq 1) {
        $profilePath = $found[0].path
        foreach ($rel in $UserFiles) { Add-File "$profilePath\$rel" }
        foreach ($rel in $UserDirs) { Add-Dir "$profilePath\$rel" }
    }
}

$envValues = @{}
foreach ($name in $EnvNames) { $envValues[$name] = [Environment]::GetEnvironmentVariable($name, 'Machine') }

$store = @{}
foreach ($t in $wantedThumbprints) { $store[$t] = Test-Path -LiteralPath "Cert:\LocalMachine\Root\$t" }

$Ansible.Result = @{
    files = $fileTexts
    dirs = $dirNames
    profiles = $profiles
    env = $envValues
    store = $store
    problems = @($problems)
}
"""
