"""startup_bridge's path decisions, on Windows-shaped facts (ntpath), as the fleet's hosts have them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import startup_bridge_plan as bp

FILES = Path(__file__).resolve().parent.parent.parent / "roles" / "startup_bridge" / "files"


def desktop(bits: int = 32, **over):
    x64 = "x64" if bits == 64 else ""
    prefix = f"C:\\Python27\\ArcGIS{x64}10.8"
    fact = {
        "id": f"{'desktop_bgp' if bits == 64 else 'desktop'}-10.8.1-{bits}",
        "product": "desktop_bgp" if bits == 64 else "desktop",
        "version": "10.8.1",
        "install_dir": "C:\\Program Files (x86)\\ArcGIS\\Desktop10.8\\",
        "python_exe": prefix + "\\python.exe",
        "python_version": "2.7.18",
        "python_major_minor": "2.7",
        "bits": bits,
        "prefix": prefix,
        "site_packages": [prefix, prefix + "\\lib\\site-packages"],
        "user_site": "C:\\Users\\svc\\AppData\\Roaming\\Python\\Python27\\site-packages",
        "user_site_enabled": True,
        "packages": {"numpy": "1.9.3"},
        "pro_conda_root": None,
        "pro_conda_env": None,
        "status": "ok",
        "problems": [],
    }
    fact.update(over)
    return fact


def pro(**over):
    prefix = "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\envs\\arcgispro-py3"
    fact = desktop(
        64,
        id="pro-3.1.0-64",
        product="pro",
        version="3.1.0",
        install_dir="C:\\Program Files\\ArcGIS\\Pro\\",
        python_exe=prefix + "\\python.exe",
        python_version="3.9.16",
        python_major_minor="3.9",
        prefix=prefix,
        site_packages=[prefix, prefix + "\\Lib\\site-packages"],
        pro_conda_root="C:\\Program Files\\ArcGIS\\Pro\\bin\\Python",
        pro_conda_env="arcgispro-py3",
    )
    fact.update(over)
    return fact


def env_for(install, name=None, **over):
    root = (
        "C:\\Miniconda2"
        if install["python_major_minor"] == "2.7" and install["bits"] == 32
        else "C:\\Miniconda3"
    )
    name = name or "arc" + install["id"].split("-")[1].replace(".", "")
    prefix = f"{root}\\envs\\{name}"
    env = {
        "arcgis_id": install["id"],
        "name": name,
        "prefix": prefix,
        "python_exe": prefix + "\\python.exe",
        "site_packages": [prefix + "\\Lib\\site-packages"],
        "python_major_minor": install["python_major_minor"],
        "bits": install["bits"],
        "kind": "conda",
    }
    env.update(over)
    return env


def test_the_shipped_shim_is_recognised_as_ours():
    # Changing files/usercustomize.py? Add its new sha1 to SHIM_SHA1S and keep the old ones, or a host's
    # older shim would be taken for the user's own file and backed up.
    assert bp.sha1((FILES / bp.SHIM_NAME).read_bytes()) in bp.SHIM_SHA1S


@pytest.mark.parametrize(
    ("python", "bits", "folder"),
    [
        ("2.7", 32, "Python27"),
        ("2.7", 64, "Python27"),  # ArcMap and 64-bit Background Geoprocessing share it
        ("3.9", 32, "Python39"),
        ("3.10", 32, "Python310-32"),  # bpo-41627, from Python 3.10
        ("3.11", 64, "Python311"),
    ],
)
def test_user_site_folder_follows_site_py(python, bits, folder):
    base = "C:\\Users\\u\\AppData\\Roaming\\Python"
    assert bp.user_site_folder(base, python, bits) == f"{base}\\{folder}\\site-packages"


def test_profile_userbase_is_appdata_python():
    assert bp.profile_userbase("C:\\Users\\Default") == "C:\\Users\\Default\\AppData\\Roaming\\Python"


def test_pairs_refuse_other_bitness_or_version_and_name_the_fix():
    arcmap = desktop(32)
    pairs, skips = bp.pair_up(
        [arcmap, desktop(64), pro(status="broken", problems=["python.exe missing"]), pro(id="pro-2.9-64")],
        [
            env_for(arcmap, bits=64),
            env_for(arcmap, name="py3", python_major_minor="3.9"),
            env_for(pro()),
            env_for(arcmap, name="orphan", arcgis_id="desktop-9.3-32"),
        ],
    )
    assert pairs == []
    why = {s.what.split(" (")[0]: s.why for s in skips}
    assert "'%1 is not a valid Win32 application'" in why["conda env arc1081 for desktop-10.8.1-32"]
    assert "does not match ArcGIS's 2.7" in why["conda env py3 for desktop-10.8.1-32"]
    assert "python.exe missing" in why["conda env arc310 for pro-3.1.0-64"]
    assert "probe again" in why["conda env orphan for desktop-9.3-32"]
    assert why["ArcGIS Python desktop_bgp-10.8.1-64"].startswith("no conda env")


def test_env_sees_arcgis_site_packages_and_esris_arcpy_folders_arcgis_sees_only_the_env():
    arcmap, bgp, arcpro = desktop(32), desktop(64), pro()
    interps = {
        i.key: i
        for i in bp.interpreters(
            bp.pair_up([arcmap, bgp, arcpro], [env_for(arcmap), env_for(bgp, "arc1081x64"), env_for(arcpro)])[
                0
            ]
        )
    }
    env = interps["env:desktop-10.8.1-32:arc1081"].entries[0]
    assert env.match == {"python": "2.7", "bits": 32, "prefix": "C:\\Miniconda2\\envs\\arc1081"}
    assert env.site_dirs == ["C:\\Python27\\ArcGIS10.8\\lib\\site-packages"]
    desk = "C:\\Program Files (x86)\\ArcGIS\\Desktop10.8\\"
    assert env.paths == [desk + "bin", desk + "arcpy", desk + "ArcToolbox\\Scripts"]
    assert env.dll_dirs == []
    assert interps["env:desktop_bgp-10.8.1-64:arc1081x64"].entries[0].paths[0] == desk + "bin64"
    pro_env = interps["env:pro-3.1.0-64:arc310"].entries[0]
    assert pro_env.paths == [
        "C:\\Program Files\\ArcGIS\\Pro\\bin",
        "C:\\Program Files\\ArcGIS\\Pro\\Resources\\ArcPy",
        "C:\\Program Files\\ArcGIS\\Pro\\Resources\\ArcToolbox\\Scripts",
    ]
    assert pro_env.dll_dirs == [
        "C:\\Program Files\\ArcGIS\\Pro\\bin",
        arcpro["prefix"] + "\\Library\\bin",
    ]
    # Anaconda's Python 3.9 ignores os.add_dll_directory without it (conda/conda#10897).
    assert pro_env.environ == {"CONDA_DLL_SEARCH_MODIFICATION_ENABLE": "1"}
    assert interps["arcgis:desktop-10.8.1-32"].entries[0].dll_dirs == []  # ArcGIS's own DLLs must win
    # Never an entry for arcgispro-py3: the bridge does not write into Esri's env.
    assert "arcgis:pro-3.1.0-64" not in interps


@pytest.mark.parametrize("scope", ["machine", "user"])
def test_pro_clone_gets_nothing_written_only_verified_and_arcgispro_py3_is_never_a_target(scope):
    arcpro = pro(python_major_minor="3.11", python_version="3.11.8", version="3.3.0", id="pro-3.3.0-64")
    clone = env_for(
        arcpro, "arcpro33", kind="pro_clone", prefix="C:\\ProgramData\\arcgis_conda\\envs\\arcpro33"
    )
    clone["python_exe"] = clone["prefix"] + "\\python.exe"
    clone["site_packages"] = [clone["prefix"] + "\\Lib\\site-packages"]
    plan = bp.build_bridge_plan(
        [arcpro], [clone], scope=scope, state="present", profiles=["C:\\Users\\Default"], verify_arcpy=True
    )
    assert plan.copies == plan.contents == plan.dirs == []
    assert [(v["key"], v["verify_only"], v["argv"][1:], v["expect"]) for v in plan.verify] == [
        ("env:pro-3.3.0-64:arcpro33", True, ["-E", "-s", "-", "--arcpy"], [])
    ]
    # What an earlier version left in arcgispro-py3 (machine scope) is removed, nothing is written there.
    if scope == "machine":
        assert arcpro["prefix"] + "\\Lib\\site-packages\\arcgis_conda_bridge.py" in plan.removes
    # A plain conda env for Pro 3.11 gets DLL folders but no variable (3.10+ honour add_dll_directory).
    interps = bp.interpreters(bp.pair_up([arcpro], [env_for(arcpro)])[0])
    assert [(i.key, i.entries[0].environ) for i in interps] == [("env:pro-3.3.0-64:arc330", {})]


def test_machine_scope_writes_into_each_pythons_own_site_packages():
    arcmap = desktop(32)
    plan = bp.build_bridge_plan([arcmap], [env_for(arcmap)], scope="machine", state="present")
    sp, env_sp = (
        "C:\\Python27\\ArcGIS10.8\\lib\\site-packages",
        "C:\\Miniconda2\\envs\\arc1081\\Lib\\site-packages",
    )
    assert plan.folders == [sp, env_sp]
    assert plan.copies == [
        {"src": "arcgis_conda_bridge.py", "dest": sp + "\\arcgis_conda_bridge.py"},
        {"src": "arcgis_conda_bridge.py", "dest": env_sp + "\\arcgis_conda_bridge.py"},
    ]
    dests = [c["dest"] for c in plan.contents]
    assert dests == [
        sp + "\\arcgis_conda_bridge.json",
        sp + "\\zzz_arcgis_conda_bridge.pth",
        env_sp + "\\arcgis_conda_bridge.json",
        env_sp + "\\zzz_arcgis_conda_bridge.pth",
    ]
    data = json.loads(plan.contents[0]["content"])
    assert data["schema"] == 1 and [e["id"] for e in data["entries"]] == ["desktop-10.8.1-32<-arc1081"]
    assert plan.dirs == plan.backups == plan.removes == []
    # The .pth names its own data file, as a literal both Python 2.7 and 3 read the same.
    pth = plan.contents[1]["content"]
    assert pth.startswith("# arcgis_conda_bridge") and pth.splitlines()[1].startswith('import sys; exec(u"')
    code = eval(pth.splitlines()[1][len("import sys; exec(") : -1])
    compile(code, "pth", "exec")
    argument = re.search(r"arcgis_conda_bridge\.run\((u\".*\")\)", code)
    assert argument and eval(argument.group(1)) == sp + "\\arcgis_conda_bridge.json"
    # The machine hook alone: no user site (-s), and no PYTHON* variable of the admin's session (-E).
    assert [r["argv"][1:3] for r in plan.verify] == [["-E", "-s"], ["-E", "-s"]]


def test_py_literal_reads_back_exactly():
    for text in ["C:\\Program Files (x86)\\ArcGIS", 'a"b', "C:\\Users\\Zoë\\émoji 😀", "line\nbreak"]:
        assert eval(bp.py_literal(text)) == text


def test_data_file_is_deterministic():
    arcmap = desktop(32)
    one = bp.build_bridge_plan([arcmap], [env_for(arcmap)], scope="machine", state="present")
    two = bp.build_bridge_plan([arcmap], [env_for(arcmap)], scope="machine", state="present")
    assert one.as_dict() == two.as_dict()


def test_user_scope_shares_one_folder_between_arcmap_and_background_geoprocessing():
    arcmap, bgp = desktop(32), desktop(64)
    profiles = ["C:\\Users\\Default", "C:\\Users\\alice"]
    plan = bp.build_bridge_plan(
        [arcmap, bgp],
        [env_for(arcmap), env_for(bgp, "arc1081x64")],
        scope="user",
        state="present",
        profiles=profiles,
    )
    base = "C:\\Users\\Default\\AppData\\Roaming\\Python\\Python27\\site-packages"
    assert plan.folders == [base, base.replace("Default", "alice")]
    data = json.loads(
        next(c["content"] for c in plan.contents if c["dest"] == base + "\\arcgis_conda_bridge.json")
    )
    assert {(e["match"]["bits"], e["match"]["prefix"]) for e in data["entries"]} == {
        (32, "C:\\Python27\\ArcGIS10.8"),
        (32, "C:\\Miniconda2\\envs\\arc1081"),
        (64, "C:\\Python27\\ArcGISx6410.8"),
        (64, "C:\\Miniconda3\\envs\\arc1081x64"),
    }
    assert {"src": "usercustomize.py", "dest": base + "\\usercustomize.py"} in plan.copies
    assert not any(c["dest"].endswith(".pth") for c in plan.contents)
    assert plan.verify[0]["environment"] == {"PYTHONUSERBASE": "C:\\Users\\Default\\AppData\\Roaming\\Python"}


def test_user_scope_skips_a_python_whose_user_site_is_disabled():
    arcmap = desktop(32, user_site_enabled=False)
    plan = bp.build_bridge_plan(
        [arcmap], [env_for(arcmap)], scope="user", state="present", profiles=["C:\\Users\\x"]
    )
    assert [s["what"] for s in plan.skipped] == [
        "ArcGIS Python desktop-10.8.1-32 (C:\\Python27\\ArcGIS10.8\\python.exe)",
        "the verify of the user-scope bridge",  # only alice-like profiles: the admin never runs there
    ]
    assert "use scope machine" in plan.skipped[0]["why"]


def test_user_scope_verify_runs_only_in_the_default_profile_never_a_users():
    """Issue 22 item 6: the admin's Python with PYTHONUSERBASE in a student's profile would run their
    usercustomize.py and .pth files as admin; only the Default profile (admin-only) is used."""
    arcmap = desktop(32)
    users_only = bp.build_bridge_plan(
        [arcmap], [env_for(arcmap)], scope="user", state="present", profiles=["C:\\Users\\student1"]
    )
    assert [r for r in users_only.verify if r["environment"]] == []
    assert all("-E" in r["argv"] for r in users_only.verify)
    assert users_only.skipped[-1]["what"] == "the verify of the user-scope bridge"
    with_default = bp.build_bridge_plan(
        [arcmap],
        [env_for(arcmap)],
        scope="user",
        state="present",
        profiles=["C:\\Users\\student1", "C:\\Users\\Default"],
    )
    assert {r["environment"].get("PYTHONUSERBASE") for r in with_default.verify} == {
        "C:\\Users\\Default\\AppData\\Roaming\\Python"
    }


SITE = "C:\\Users\\alice\\AppData\\Roaming\\Python\\Python27\\site-packages"
SHIM, BAK = SITE + "\\usercustomize.py", SITE + "\\usercustomize.py.arcgis_conda_bridge.bak"
OURS, THEIRS = next(iter(bp.SHIM_SHA1S)), "0" * 40


@pytest.mark.parametrize(
    ("existing", "backups", "error"),
    [
        ({}, [], None),
        ({SHIM: THEIRS}, [{"src": SHIM, "dest": BAK}], None),
        ({SHIM.upper(): THEIRS}, [{"src": SHIM, "dest": BAK}], None),  # Windows paths are case-blind
        ({SHIM: OURS, BAK: THEIRS}, [], None),
        ({SHIM: OURS}, [], None),
        ({SHIM: THEIRS, BAK: THEIRS}, [], "merge the two"),
    ],
)
def test_user_scope_present_backs_up_a_users_own_file_once(existing, backups, error):
    arcmap = desktop(32)
    args = {"scope": "user", "state": "present", "profiles": ["C:\\Users\\alice"], "existing": existing}
    if error:
        with pytest.raises(bp.PlanError, match=error):
            bp.build_bridge_plan([arcmap], [env_for(arcmap)], **args)
        return
    plan = bp.build_bridge_plan([arcmap], [env_for(arcmap)], **args)
    assert plan.backups == backups
    assert {"src": "usercustomize.py", "dest": SHIM} in plan.copies


@pytest.mark.parametrize(
    ("existing", "restores", "shim_removed", "kept"),
    [
        ({SHIM: OURS, BAK: THEIRS}, [{"src": BAK, "dest": SHIM}], False, False),
        ({BAK: THEIRS}, [{"src": BAK, "dest": SHIM}], False, False),
        ({SHIM: OURS}, [], True, False),
        ({SHIM: THEIRS}, [], False, False),
        ({SHIM: THEIRS, BAK: THEIRS}, [], False, True),
        ({}, [], False, False),
    ],
)
def test_user_scope_absent_restores_the_users_file_and_never_deletes_it(
    existing, restores, shim_removed, kept
):
    arcmap = desktop(32)
    plan = bp.build_bridge_plan(
        [arcmap],
        [env_for(arcmap)],
        scope="user",
        state="absent",
        profiles=["C:\\Users\\alice"],
        existing=existing,
    )
    assert [r for r in plan.restores if r["dest"] == SHIM] == restores
    assert (SHIM in plan.removes) == shim_removed
    assert (BAK in plan.removes) == bool(restores)
    assert any(s["what"] == BAK for s in plan.skipped) == kept
    assert (
        SITE + "\\arcgis_conda_bridge.py" in plan.removes
        and SITE + "\\arcgis_conda_bridge.json" in plan.removes
    )
    if shim_removed or restores:
        assert SITE + "\\usercustomize.pyc" in plan.removes  # Python 2.7 compiled the shim beside it
    assert plan.remove_if_empty[:2] == [SITE + "\\__pycache__", SITE]
    assert plan.verify == []


def test_absent_cleans_every_python_the_facts_name_even_unpaired_ones():
    arcmap, arcpro = desktop(32), pro()
    stale_env = env_for(arcmap, bits=64)  # no longer a valid pair, but an earlier run may have bridged it
    plan = bp.build_bridge_plan([arcmap, arcpro], [stale_env], scope="machine", state="absent")
    assert plan.skipped == []
    pth = {p.rsplit("\\", 1)[0] for p in plan.removes if p.endswith(bp.PTH_NAME)}
    assert pth == {
        "C:\\Python27\\ArcGIS10.8\\lib\\site-packages",
        arcpro["prefix"] + "\\Lib\\site-packages",
        "C:\\Miniconda2\\envs\\arc1081\\Lib\\site-packages",
    }


def test_select_profiles_never_invents_a_profile_folder():
    chosen, skips = bp.select_profiles(
        ["C:\\Users\\Default", "C:\\Users\\ALICE", "C:\\Users\\Public", "C:\\Users\\Default User"],
        ["alice", "bob"],
        True,
    )
    assert chosen == ["C:\\Users\\Default", "C:\\Users\\ALICE"]
    assert [(s.what, "Default at first logon" in s.why) for s in skips] == [("profile bob", True)]


def test_verify_runs_import_arcpy_only_from_envs_when_asked():
    arcmap = desktop(32)
    plan = bp.build_bridge_plan(
        [arcmap], [env_for(arcmap)], scope="machine", state="present", verify_arcpy=True
    )
    by_side = {r["side"]: r for r in plan.verify}
    assert "--arcpy" in by_side["env"]["argv"] and "--arcpy" not in by_side["arcgis"]["argv"]
    assert by_side["env"]["expect"] == ["C:\\Python27\\ArcGIS10.8\\lib\\site-packages"]
    assert by_side["arcgis"]["expect"] == ["C:\\Miniconda2\\envs\\arc1081\\Lib\\site-packages"]
    assert by_side["env"]["argv"][:4] == ["C:\\Miniconda2\\envs\\arc1081\\python.exe", "-E", "-s", "-"]


PROFILE_LIST = [
    {"sid": "S-1-5-21-9-1001", "path": "C:\\Users\\jsmith", "account": "LABPC\\jsmith"},
    {"sid": "S-1-5-21-8-1105", "path": "C:\\Users\\jsmith.LAB", "account": "LAB\\jsmith"},
    {"sid": "S-1-5-21-8-1106", "path": "D:\\Profiles\\ann", "account": "LAB\\ann"},
    {
        "sid": "S-1-5-21-8-1107",
        "path": "C:\\Users\\bo",
        "account": "LAB\\bo",
        "appdata": "\\\\fs\\redirect\\%USERNAME%\\AppData\\Roaming",
    },
    {
        "sid": "S-1-5-21-8-1108",
        "path": "C:\\Users\\cy",
        "account": "LAB\\cy",
        "appdata": "%USERPROFILE%\\AppData\\Roaming",
    },
    {"sid": "S-1-5-21-8-1109", "path": "C:\\Users\\gone", "account": "LAB\\gone"},
]
EXISTING = [
    "C:\\Users\\Default",
    "C:\\Users\\jsmith",
    "C:\\Users\\jsmith.LAB",
    "C:\\Users\\bo",
    "C:\\Users\\cy",
    "D:\\Profiles\\ann",
]


def test_select_profiles_resolves_users_by_account_through_profile_list():
    chosen, skips = bp.select_profiles(
        EXISTING, ["LAB\\jsmith", "jsmith", "ann", "bo", "cy", "gone", "nobody"], True, records=PROFILE_LIST
    )
    # By folder name, LAB\jsmith would be C:\Users\jsmith (another account) and ann would be missed.
    assert chosen == ["C:\\Users\\Default", "C:\\Users\\jsmith.LAB", "D:\\Profiles\\ann", "C:\\Users\\cy"]
    why = {s.what: s.why for s in skips}
    assert (
        "matches 2 accounts in ProfileList: LABPC\\jsmith (C:\\Users\\jsmith), LAB\\jsmith"
        in why["profile jsmith"]
    )
    assert "redirected to \\\\fs\\redirect\\bo\\AppData\\Roaming" in why["profile bo (C:\\Users\\bo)"]
    assert "startup_bridge_scope machine" in why["profile bo (C:\\Users\\bo)"]
    assert why["profile gone"].startswith("its ProfileList folder C:\\Users\\gone does not exist")
    assert why["profile nobody"].startswith("no profile of that account in ProfileList")


def test_plan_for_host_lists_the_folders_profile_list_puts_profiles_in():
    listed = []

    def list_dirs(folder):
        listed.append(folder)
        return [d for d in EXISTING if d.rsplit("\\", 1)[0].lower() == folder.lower()]

    arcmap = desktop(32)
    plan = bp.plan_startup_bridge(
        [arcmap],
        [env_for(arcmap)],
        scope="user",
        state="present",
        users=["ann"],
        default_profile=False,
        profiles_dir="C:\\Users",
        verify_arcpy=False,
        list_dirs=list_dirs,
        checksums=lambda _: {},
        records=PROFILE_LIST,
    )
    assert listed == ["C:\\Users", "D:\\Profiles"]
    assert plan.copies and all(
        c["dest"].startswith("D:\\Profiles\\ann\\AppData\\Roaming\\Python\\") for c in plan.copies
    )
