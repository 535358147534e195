"""fleet_host's judgement of host answers, and the host script's contract with the simulated one."""

from __future__ import annotations

import re

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from simwin import scripts
from simwin.programs import split_command_line

ADMINS, SYSTEM, USERS, AUTH_USERS, CREATOR_OWNER = (
    "S-1-5-32-544",
    "S-1-5-18",
    "S-1-5-32-545",
    "S-1-5-11",
    "S-1-3-0",
)
FULL, MODIFY, READ_EXECUTE = 2032127, 1245631, 1179817


def ace(sid: str, rights: int, inherit: str = "both", inherit_only: bool = False) -> dict:
    return {
        "sid": sid,
        "rights": rights,
        "type": "allow",
        "inherited": False,
        "inherit": inherit,
        "inherit_only": inherit_only,
    }


def folder(*acl: dict) -> fh.Entry:
    return fh.Entry(path="C:\\Lab", type="dir", owner=ADMINS, protected=True, acl=list(acl))


ADMIN_ONLY = (ace(SYSTEM, FULL), ace(ADMINS, FULL), ace(USERS, READ_EXECUTE))


def test_an_inherit_only_entry_grants_nothing_on_the_folder_itself():
    """C:\\'s Authenticated Users Modify (OI)(CI)(IO) applies to what is created below, not to the folder
    (PropagationFlags.InheritOnly): the folder is trusted, and its children are judged by their own ACLs."""
    entry = folder(*ADMIN_ONLY, ace(AUTH_USERS, MODIFY, inherit_only=True))
    assert entry.writable_by_others() == []
    assert entry.trusted()


def test_the_same_entry_applying_to_the_folder_makes_it_writable():
    entry = folder(*ADMIN_ONLY, ace(AUTH_USERS, MODIFY))
    assert entry.writable_by_others() == [AUTH_USERS]
    assert not entry.trusted()


@pytest.mark.parametrize(
    ("rights", "writable"), [(0x10000000, True), (0x40000000, True), (-1610612736, False)]
)
def test_generic_rights_on_an_effective_entry_are_judged_as_what_they_map_to(rights, writable):
    """.NET reports generic rights raw: GA and GW can write; GR|GE (0xA0000000, negative as Int32) cannot."""
    assert folder(*ADMIN_ONLY, ace(USERS, rights)).trusted() is not writable


def test_program_files_as_shipped_is_trusted():
    """Its inherit-only CREATOR OWNER, TrustedInstaller and package entries are no writers of the folder."""
    entry = fh.Entry(
        path="C:\\Program Files",
        type="dir",
        owner="S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464",
        protected=True,
        acl=[
            ace(SYSTEM, MODIFY, "none"),
            ace(SYSTEM, 0x10000000, inherit_only=True),
            ace(USERS, READ_EXECUTE, "none"),
            ace(USERS, -1610612736, inherit_only=True),
            ace(CREATOR_OWNER, 0x10000000, inherit_only=True),
            ace("S-1-15-2-1", -1610612736, inherit_only=True),
        ],
    )
    assert entry.trusted()


def script_ace_keys(script: str) -> set[str]:
    """The keys of the hashtable the host script adds per access rule (``$rules.Add(@{ ... })``)."""
    block = re.search(r"\$rules\.Add\(@\{(.*?)\}\)", script, re.S)
    assert block, "host_read no longer lists ACL entries with $rules.Add(@{...})"
    return set(re.findall(r"^\s*(\w+)\s*=", block.group(1), re.M))


def test_host_script_and_simulated_host_report_the_same_acl_entry_fields():
    """The simulated host imitates the script: a field only one of them reports (as inherit_only once was,
    in the simulator only) would make the controller judge simulated and real hosts differently."""
    simulated = scripts._acl(
        {
            "acl": [
                {
                    "sid": USERS,
                    "rights": 1,
                    "type": "allow",
                    "inherited": False,
                    "inherit": "both",
                    "inherit_only": True,
                }
            ]
        }
    )[0]
    assert script_ace_keys(fh.HOST_READ_SCRIPT) == set(simulated) == set(ace(USERS, 1))
    assert "PropagationFlags" in fh.HOST_READ_SCRIPT


# --- command lines (Microsoft C runtime rules) ---------------------------------------------------------

TRICKY = [
    "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\envs\\arcgispro-py3",  # spaces
    "C:\\Miniconda2\\",  # a trailing backslash: 2n backslashes before the closing quote give n
    "C:\\dir with space\\",
    "\\\\fileserver\\installers\\",
    'say "hi"',  # quotes
    '"',
    '\\"',
    'a\\\\"b',
    "",  # an empty argument stays an argument
    "tab\there",
    "naïve ü 日本 Ærø",  # non-ASCII: the command line is UTF-16 on Windows, no code page involved
    "%PATH% ^ & | < >",  # no shell: nothing to escape
    "--prefix=C:\\a b\\",
]


@pytest.mark.parametrize(
    ("line", "argv"),
    [  # the examples of https://learn.microsoft.com/en-us/cpp/c-language/parsing-c-command-line-arguments
        ('"abc" d e', ["abc", "d", "e"]),
        ('a\\\\\\b d"e f"g h', ["a\\\\\\b", "de fg", "h"]),
        ('a\\\\\\"b c d', ['a\\"b', "c", "d"]),
        ('a\\\\\\\\"b c" d e', ["a\\\\b c", "d", "e"]),
        ('a"b"" c d', ['ab" c d']),
    ],
)
def test_the_simulated_parser_follows_the_documented_examples(line, argv):
    assert split_command_line(line) == argv


def test_command_lines_round_trip_tricky_arguments():
    line = fh.command_line(TRICKY)
    assert split_command_line(line) == TRICKY
    for arg in TRICKY:  # one at a time too: no argument depends on its neighbours to survive
        assert split_command_line(fh.command_line([arg, "next"])) == [arg, "next"]


def test_the_old_powershell_quoting_broke_on_a_trailing_backslash():
    """What fleet_host_read.ps1 did before: '"{0}"' -f ($_ -replace '"', '\\"'), joined by spaces."""
    old = " ".join('"{}"'.format(a.replace('"', '\\"')) for a in ["C:\\Miniconda2\\", "--version"])
    assert split_command_line(old) == ['C:\\Miniconda2" --version']  # one argument, quote and all
    assert split_command_line(fh.command_line(["C:\\Miniconda2\\", "--version"])) == [
        "C:\\Miniconda2\\",
        "--version",
    ]


def test_runs_reach_the_host_as_a_file_and_one_command_line():
    run = {
        "id": "probe0",
        "argv": ["C:\\Python27\\ArcGIS10.4\\python.exe", "-E", "{script}", *TRICKY],
        "script": "x",
    }
    sent = fh.host_read_params(runs=[run])["parameters"]["Runs"][0]
    assert sent["file"] == "C:\\Python27\\ArcGIS10.4\\python.exe"
    assert split_command_line(sent["arguments"]) == ["-E", "probe0.py", *TRICKY]
    # The script takes both as they are: it neither quotes nor substitutes.
    assert "$psi.Arguments = [string] $spec.arguments" in fh.HOST_READ_SCRIPT
    assert "-replace '\"'" not in fh.HOST_READ_SCRIPT and "{script}" not in fh.HOST_READ_SCRIPT


def test_a_timeout_ends_the_process_tree_and_never_waits_for_ever_on_the_output():
    """No PowerShell here: the script's text carries the two rules the simulated host imitates."""
    script = fh.HOST_READ_SCRIPT
    assert "& taskkill.exe /T /F /PID $Process.Id" in script
    assert "ended its process tree ($(Stop-Tree $process))" in script
    assert "WaitAll([System.Threading.Tasks.Task[]] @($stdout, $stderr), 15000)" in script
    assert "$process.Kill()\n" not in script  # the old timeout action: only the launcher


def test_securing_a_tree_walks_it_without_following_links_then_runs_one_icacls():
    """The apply script's secure: no -Recurse (it follows junctions in Windows PowerShell and stops the
    batch on the first unlistable folder), each item in its own try, a reparse point reported and left
    alone, what no administrator owns moved aside, then the controller's one icacls command for the tree
    (never with a reparse point inside), its output returned for the controller to judge."""
    script = fh.APPLY_FILES_SCRIPT
    assert not [line for line in script.splitlines() if "Get-ChildItem" in line and "-Recurse" in line]
    assert "[System.IO.FileAttributes]::ReparsePoint" in script
    assert "$Record.skipped.Add(@{ path = $child.FullName; why = $_.Exception.Message })" in script
    assert "if ($owners -notcontains $security.owner)" in script and "Move-Aside $child.FullName" in script
    assert "if ($reset.Count -and -not $reparse) {" in script
    assert "Invoke-Icacls @($Item.tree_arguments)" in script
    item = fh.secure_item("C:\\Miniconda2")
    assert item["tree_arguments"] == ["C:\\Miniconda2\\*", "/reset", "/T", "/C", "/L", "/Q"]
    assert set(item["owners"]) < fh.ADMIN_SIDS


def test_icacls_failures_are_read_per_item_from_its_output():
    output = (
        "C:\\Miniconda2\\pkgs\\locked: Access is denied.\r\n"
        "Successfully processed 41 files; Failed processing 1 files"
    )
    assert fh.icacls_failures({"rc": 1, "output": output, "arguments": ["C:\\Miniconda2\\*"]}) == [
        {"path": "C:\\Miniconda2\\pkgs\\locked", "why": "icacls: Access is denied."}
    ]
    assert (
        fh.icacls_failures({"rc": 0, "output": "Successfully processed 41 files; Failed processing 0 files"})
        == []
    )
    assert fh.icacls_failures({"rc": 87, "output": "Invalid parameter", "arguments": ["C:\\x\\*"]}) == [
        {"path": "C:\\x\\*", "why": "icacls exit 87: Invalid parameter"}
    ]


# --- WinRM memory quotas ------------------------------------------------------------------------------

QUOTAS = {"shell_max_memory_mb": 1024, "plugin_max_memory_mb": 4096}


@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        ("winrm", (1024, fh.SHELL_QUOTA)),
        ("ansible.builtin.winrm", (1024, fh.SHELL_QUOTA)),
        (None, (1024, fh.SHELL_QUOTA)),  # a snapshot from before observe said: Ansible's default
        ("psrp", (4096, fh.PLUGIN_QUOTA)),
        ("ansible.builtin.psrp", (4096, fh.PLUGIN_QUOTA)),
        ("ssh", (None, None)),
    ],
)
def test_the_quota_of_the_configured_connection_is_the_one_judged(connection, expected):
    assert fh.memory_quota({**QUOTAS, "connection": connection}) == expected


def test_an_unset_quota_is_none():
    assert fh.memory_quota({"shell_max_memory_mb": 0, "connection": "winrm"}) == (None, None)
    assert fh.memory_quota({"connection": "psrp"}) == (None, None)


def test_the_host_script_reads_both_quotas_by_their_wsman_paths():
    assert fh.SHELL_QUOTA in fh.HOST_READ_SCRIPT and fh.PLUGIN_QUOTA in fh.HOST_READ_SCRIPT
    assert "shell_max_memory_mb = $quotas.shell; plugin_max_memory_mb = $quotas.plugin" in fh.HOST_READ_SCRIPT
