"""arcgis_facts: find every ArcGIS install on a Windows host and measure its Python, in two module calls.

Call 1 (ansible.windows.win_powershell) dumps raw registry data; call 2 (the same module) runs
arcgis_probe.py once per interpreter found. Everything else (which installs exist, which python.exe
each one runs, cross-checks, drift against the release table, the facts) is decided here on the
controller, by the pure functions in module_utils/arcgis_discovery.py. The number of module calls per
host is 2 whatever the number of installs or packages (1 when the host has no ArcGIS).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_discovery as discovery
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_probe

MODULE = "ansible.windows.win_powershell"

# Call 1 of 2. Read-only: SupportsShouldProcess lets win_powershell run it in check mode as well.
# Kept minimal on purpose (it cannot be run here, no Windows host): it only reads and returns data.
REGISTRY_SCRIPT = r"""
[CmdletBinding(SupportsShouldProcess = $true)]
param ()
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
$publisher = 'Environmental Systems Research Institute, Inc.'
$uninstallPath = 'SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall'
$uninstallValues = 'DisplayName', 'DisplayVersion', 'InstallLocation', 'Publisher'

function Get-KeyValues([Microsoft.Win32.RegistryKey]$Key, [string[]]$Names) {
    $values = @{}
    if (-not $Names) { $Names = $Key.GetValueNames() }
    foreach ($name in $Names) {
        $value = $Key.GetValue($name)
        if ($null -eq $value -or $value -is [byte[]]) { continue }
        $values[$name] = if ($value -is [string[]]) { $value -join "`n" } else { [string]$value }
    }
    $values
}

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
                        $values = Get-KeyValues $sub $uninstallValues
                        $uninstall.Add(@{ view = $view; key = $name; values = $values })
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
        $dirs = Get-ChildItem -LiteralPath $root -Directory -Filter 'ArcGIS*' -ErrorAction SilentlyContinue
        foreach ($dir in $dirs) {
            $hasPython = Test-Path -LiteralPath (Join-Path $dir.FullName 'python.exe') -PathType Leaf
            $pythonDirs.Add(@{ root = $root; name = $dir.Name; has_python = $hasPython })
        }
    }
}
$Ansible.Result = @{
    os_64bit = $is64
    esri_keys = $esriKeys.ToArray()
    uninstall = $uninstall.ToArray()
    python_dirs = $pythonDirs.ToArray()
}
"""

# Call 2 of 2. Writes the probe into the module's own temp dir (with .NET, which WhatIf does not touch),
# runs each interpreter on it, removes it. Read-only for the host, so it also runs in check mode.
RUN_PROBE_SCRIPT = r"""
[CmdletBinding(SupportsShouldProcess = $true)]
param (
    [Parameter(Mandatory = $true)] [string] $ProbeScript,
    [Parameter(Mandatory = $true)] [string[]] $Pythons,
    [string[]] $Packages = @(),
    [int] $TimeoutSeconds = 120
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
$probePath = Join-Path $Ansible.Tmpdir 'arcgis_probe.py'
[System.IO.File]::WriteAllText($probePath, $ProbeScript, [System.Text.UTF8Encoding]::new($false))
$runs = [System.Collections.Generic.List[object]]::new()
try {
    foreach ($python in $Pythons) {
        $run = @{ python = $python; rc = $null; stdout = ''; stderr = ''; error = $null }
        try {
            $psi = [System.Diagnostics.ProcessStartInfo]::new($python)
            $psi.Arguments = (@($probePath) + @($Packages) | ForEach-Object { '"{0}"' -f $_ }) -join ' '
            $psi.WorkingDirectory = $Ansible.Tmpdir
            $psi.UseShellExecute = $false
            $psi.CreateNoWindow = $true
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            $process = [System.Diagnostics.Process]::Start($psi)
            $stdout = $process.StandardOutput.ReadToEndAsync()
            $stderr = $process.StandardError.ReadToEndAsync()
            if ($process.WaitForExit($TimeoutSeconds * 1000)) {
                $process.WaitForExit()
                $run.rc = $process.ExitCode
            }
            else {
                $process.Kill()
                $run.error = "no answer within $TimeoutSeconds s (killed)"
            }
            $run.stdout = $stdout.Result
            $run.stderr = $stderr.Result
        }
        catch {
            $run.error = $_.Exception.Message
        }
        $runs.Add($run)
    }
    $Ansible.Result = @{ runs = $runs.ToArray() }
}
finally {
    [System.IO.File]::Delete($probePath)
}
"""

ARGUMENT_SPEC: dict[str, Any] = {
    "packages": {"type": "list", "elements": "str", "default": list(arcgis_probe.DEFAULT_PACKAGES)},
    "require_arcgis": {"type": "bool", "default": False},
    "probe_timeout": {"type": "int", "default": 120},
}


def probe_source() -> str:
    """The probe script as shipped in module_utils, sent to the host as text."""
    return resources.files(arcgis_probe.__package__).joinpath("arcgis_probe.py").read_text(encoding="utf-8")


def _module_error(result: dict[str, Any]) -> str:
    for record in result.get("error") or []:
        if isinstance(record, dict):
            text = record.get("output") or (record.get("exception") or {}).get("message")
            if text:
                return str(text).strip()
    return str(result.get("msg") or "no error text")


class ActionModule(ActionBase):
    """Probe ArcGIS installs and their Pythons; set ansible_facts.arcgis."""

    TRANSFERS_FILES = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        del tmp
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = self._task.delegate_to or (task_vars or {}).get("inventory_hostname", "this host")
        try:
            packages = discovery.validate_packages(args["packages"])
        except ValueError as exc:
            raise AnsibleActionFail(f"{host}: arcgis_facts packages: {exc}") from exc
        shell = getattr(self._connection._shell, "SHELL_FAMILY", "")
        if shell != "powershell":
            raise AnsibleActionFail(
                f"{host}: arcgis_facts probes Windows hosts only, and this connection's shell is "
                f"{shell or 'not PowerShell'}; run it against windows_workstations (WinRM or PSRP)"
            )

        dump_result = self._run_powershell(REGISTRY_SCRIPT, {}, task_vars)
        if dump_result.get("failed"):
            raise AnsibleActionFail(
                f"{host}: reading the ESRI registry keys failed: {_module_error(dump_result)}"
            )
        try:
            dump = discovery.parse_registry_dump(dump_result.get("result"))
        except discovery.DumpError as exc:
            raise AnsibleActionFail(f"{host}: unexpected registry dump: {exc}") from exc
        installs, warnings = discovery.find_installs(dump)
        result.update(changed=False, warnings=warnings, module_calls=1)

        if not installs:
            result["ansible_facts"] = {"arcgis": []}
            result["msg"] = f"{host}: no ArcGIS Desktop, Background Geoprocessing, Pro or Server found"
            if args["require_arcgis"]:
                result["failed"] = True
                result["msg"] += " and require_arcgis is true: install ArcGIS or leave this host out"
            return result

        targets = discovery.probe_targets(installs)
        runs: dict[str, discovery.ProbeRun] = {}
        if targets:
            params = {
                "ProbeScript": probe_source(),
                "Pythons": targets,
                "Packages": packages,
                "TimeoutSeconds": args["probe_timeout"],
            }
            run_result = self._run_powershell(RUN_PROBE_SCRIPT, params, task_vars)
            result["module_calls"] = 2
            if run_result.get("failed"):
                raise AnsibleActionFail(
                    f"{host}: running arcgis_probe.py failed: {_module_error(run_result)}"
                )
            try:
                runs = discovery.parse_runs(run_result.get("result"))
            except discovery.DumpError as exc:
                raise AnsibleActionFail(f"{host}: unexpected probe runner result: {exc}") from exc

        facts = discovery.build_facts(installs, runs, packages)
        broken = [fact["id"] for fact in facts if fact["status"] != "ok"]
        result["ansible_facts"] = {"arcgis": facts}
        result["msg"] = f"{host}: {len(facts)} ArcGIS Python(s): {', '.join(f['id'] for f in facts)}" + (
            f"; broken: {', '.join(broken)}" if broken else ""
        )
        return result

    def _run_powershell(
        self, script: str, parameters: dict[str, Any], task_vars: dict[str, Any] | None
    ) -> dict[str, Any]:
        return self._execute_module(
            module_name=MODULE,
            module_args={"script": script, "parameters": parameters, "depth": 6, "error_action": "stop"},
            task_vars=task_vars,
        )
