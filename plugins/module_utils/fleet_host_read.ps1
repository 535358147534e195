# arcgis_conda.fleet host script: host_read
[CmdletBinding(SupportsShouldProcess = $true)]
param (
    [bool] $Arcgis = $false,
    [bool] $Profiles = $false,
    [bool] $Session = $false,
    [string[]] $EnvNames = @(),
    [string[]] $Thumbprints = @(),
    [string[]] $PythonReads = @(),
    [object[]] $Reads = @(),
    [object[]] $Runs = @(),
    [string[]] $LoadHives = @()
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
        # A junction or symbolic link: what it points at is not read through it (the audit reports it).
        $entry.reparse = [bool] ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint)
        $entry.protected = $acl.AreAccessRulesProtected
        $rules = [System.Collections.Generic.List[object]]::new()
        foreach ($rule in $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
            $inherit = 'none'
            $flags = [int] $rule.InheritanceFlags
            if ($flags -eq 3) { $inherit = 'both' } elseif ($flags -eq 1) { $inherit = 'container' }
            elseif ($flags -eq 2) { $inherit = 'object' }
            # InheritOnly (PropagationFlags 2): the entry is only passed on to children; it grants nothing here.
            $rules.Add(@{
                sid = $rule.IdentityReference.Value
                rights = [int] $rule.FileSystemRights
                type = $rule.AccessControlType.ToString().ToLowerInvariant()
                inherited = $rule.IsInherited
                inherit = $inherit
                inherit_only = (([int] $rule.PropagationFlags) -band 2) -ne 0
            })
        }
        $entry.acl = $rules.ToArray()
        if ($item.PSIsContainer -and $entry.reparse) {
            # Listing a junction lists its target's content: never read through it.
            $entry.type = 'dir'
            $entry.children = @()
        }
        elseif ($item.PSIsContainer) {
            $entry.type = 'dir'
            $entry.children = @(Get-ChildItem -LiteralPath $Path -Force | ForEach-Object {
                @{ name = $_.Name; dir = $_.PSIsContainer; reparse = [bool] ($_.Attributes -band [System.IO.FileAttributes]::ReparsePoint) }
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

# Each account's hive: HKEY_USERS\<sid> while the user is logged on (read where it is, no load), else the
# profile's NTUSER.DAT, loaded under a key of our own for the read and unloaded at once (as PSAppDeployToolkit's
# Invoke-ADTAllUsersRegistryAction does) - but only when the controller needs that user's data: the SIDs it
# names in LoadHives (startup_bridge's listed users), or, for the ArcGIS read, a profile holding a per-user
# Pro's default folder (Windows Installer's per-user ProgramFilesFolder is FOLDERID_UserProgramFiles,
# <profile>\AppData\Local\Programs). A lab PC keeps hundreds of offline profiles: loading each on every
# observe would cost a load per profile and could give a user logging on meanwhile a temporary profile.
# Read there: Software\ESRI\ArcGISPro (a per-user Pro, MSI ALLUSERS=2 MSIINSTALLPERUSER=1) and the unexpanded
# AppData of User Shell Folders (folder redirection; Python's user site follows %APPDATA%). Expanding it for
# that user is the controller's job. Accounts: local and domain (S-1-5-21-...) and Entra ID (S-1-12-1-...),
# not SYSTEM or services.
function Invoke-Reg([string[]] $Arguments) {
    $ErrorActionPreference = 'Continue'  # reg.exe's stderr is its message, not a terminating error
    $text = (& reg.exe @Arguments 2>&1 | Out-String).Trim()
    @{ rc = $LASTEXITCODE; text = $text }
}

$hives = [System.Collections.Generic.List[object]]::new()
$hivesLoaded = 0
if ($Arcgis -or $Profiles -or $LoadHives) {
    $profileList = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList'
    foreach ($profileKey in Get-ChildItem -LiteralPath $profileList) {
        $sid = $profileKey.PSChildName
        if ($sid -notmatch '^S-1-(5-21|12-1)-') { continue }
        $profilePath = [Environment]::ExpandEnvironmentVariables([string] $profileKey.GetValue('ProfileImagePath'))
        $item = @{ sid = $sid; profile = $profilePath; loaded = $true; read = $false; pro = $null; appdata = $null; error = $null }
        $mount = $null
        $usersHive = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::Users, [Microsoft.Win32.RegistryView]::Registry64)
        try {
            $hive = $usersHive.OpenSubKey($sid)
            if (-not $hive) {
                $item.loaded = $false
                $proFolder = Join-Path $profilePath 'AppData\Local\Programs\ArcGIS\Pro'
                $wanted = ($LoadHives -contains $sid) -or ($Arcgis -and (Test-Path -LiteralPath $proFolder -PathType Container))
                if (-not $wanted) { $hives.Add($item); continue }
                $file = Join-Path $profilePath 'NTUSER.DAT'
                if (-not (Test-Path -LiteralPath $file -PathType Leaf)) { continue }
                $load = Invoke-Reg @('load', "HKU\arcgis_conda_$sid", $file)
                if ($load.rc -ne 0) { throw "reg load $($file): $($load.text)" }
                $hivesLoaded++
                $mount = "arcgis_conda_$sid"
                $hive = $usersHive.OpenSubKey($mount)
            }
            $item.read = $true
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
$result.hives_loaded = $hivesLoaded
if ($LoadHives) {
    # The hives the controller asked for, as read (it merges them into the profiles of the first read).
    $result.user_hives = @($hives | Where-Object { $LoadHives -contains $_.sid } | ForEach-Object {
        @{ sid = $_.sid; appdata = $_.appdata; hive_error = $_.error; hive_read = $_.read }
    })
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
                # Owner and ACL of the folder above, the folder and what the controller names in it (its
                # python.exe, the DLLs beside it, Lib, DLLs): read before anything runs that Python.
                $security = [System.Collections.Generic.List[object]]::new()
                $security.Add((Get-Entry $root $false))
                $security.Add((Get-Entry $dir.FullName $false))
                foreach ($name in $PythonReads) {
                    foreach ($found in @(Get-Item -Path (Join-Path $dir.FullName $name) -Force -ErrorAction SilentlyContinue)) {
                        $security.Add((Get-Entry $found.FullName $false))
                    }
                }
                $pythonDirs.Add(@{ root = $root; name = $dir.Name; has_python = $hasPython; security = $security.ToArray() })
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
        # A lab PC lists hundreds of profiles: what the hive pass did not find is left out, not sent as null.
        $record = @{ sid = $key.PSChildName; path = [string] $key.GetValue('ProfileImagePath'); account = $account }
        if ($hive -and $hive.appdata) { $record.appdata = $hive.appdata }
        if ($hive -and $hive.error) { $record.hive_error = $hive.error }
        if ($hive -and $hive.read) { $record.hive_read = $true }
        $list.Add($record)
    }
    $result.profiles = $list.ToArray()
}

if ($Session) {
    # WinRM ends a shell whose processes use more than MaxMemoryPerShellMB. Which quota applies depends on
    # the connection, which only the controller knows: both are reported as read (null: unreadable).
    # The winrs Shell quota governs the cmd shell of Ansible's winrm connection; the PowerShell plugin's
    # governs psrp's Microsoft.PowerShell endpoint.
    $quotas = @{}
    foreach ($pair in @(@('shell', 'WSMan:\localhost\Shell\MaxMemoryPerShellMB'), @('plugin', 'WSMan:\localhost\Plugin\Microsoft.PowerShell\Quotas\MaxMemoryPerShellMB'))) {
        try { $quotas[$pair[0]] = [int] (Get-Item -LiteralPath $pair[1] -ErrorAction Stop).Value }
        catch { $quotas[$pair[0]] = $null }
    }
    # Running programs by image path: one started from inside a prefix holds its files open.
    $procs = @(Get-CimInstance -ClassName Win32_Process -ErrorAction SilentlyContinue | Where-Object { $_.ExecutablePath } |
        ForEach-Object { @{ pid = [int] $_.ProcessId; name = [string] $_.Name; path = [string] $_.ExecutablePath } })
    $result.session = @{ shell_max_memory_mb = $quotas.shell; plugin_max_memory_mb = $quotas.plugin; processes = $procs }
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

# .NET Framework's Process.Kill() ends one process (Kill(entireProcessTree) is .NET Core 3.0+ only), but
# conda.exe is a launcher: its python.exe, and what that starts, inherit the output pipes and keep them
# open. taskkill /T ends the process and every process it started (walked before any is ended).
function Stop-Tree([System.Diagnostics.Process] $Process) {
    $ErrorActionPreference = 'Continue'  # taskkill's stderr is its message, not a terminating error
    $text = (& taskkill.exe /T /F /PID $Process.Id 2>&1 | Out-String).Trim()
    if (-not $Process.HasExited) { $Process.Kill() }
    "taskkill /T /F /PID $($Process.Id) rc $($LASTEXITCODE): $text"
}

$runs = [System.Collections.Generic.List[object]]::new()
foreach ($spec in $Runs) {
    $run = @{ id = $spec.id; rc = $null; stdout = ''; stderr = ''; error = $null }
    $scriptPath = $null
    try {
        if ($spec.script) {
            # The command line names it relative to the working directory below: <id>.py.
            $scriptPath = Join-Path $Ansible.Tmpdir ("{0}.py" -f $spec.id)
            [System.IO.File]::WriteAllText($scriptPath, $spec.script, [System.Text.UTF8Encoding]::new($false))
        }
        # The controller built the command line (Microsoft C runtime quoting); it is passed as it is.
        $psi = [System.Diagnostics.ProcessStartInfo]::new([string] $spec.file)
        $psi.Arguments = [string] $spec.arguments
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
            $run.rc = $process.ExitCode
        }
        else {
            $run.error = "no answer within $timeout s: ended its process tree ($(Stop-Tree $process))"
        }
        # A process outside the tree (started detached, or orphaned before the kill) may still hold the
        # pipes: the call waits for the output a bounded time, never for ever.
        if ([System.Threading.Tasks.Task]::WaitAll([System.Threading.Tasks.Task[]] @($stdout, $stderr), 15000)) {
            $run.stdout = $stdout.Result
            $run.stderr = $stderr.Result
        }
        else {
            $run.error = "$($run.error) output still held open after the program ended (a process it started outlived it)".Trim()
        }
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
