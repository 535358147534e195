"""The pure parts of the flow: the condarc as rendered, Esri's pinned file, snapshot look-ups, the
change list that skips what the host already has, and the batching of file changes into steps.

Ported from the tests of the deleted per-role task files (tests/unit/test_miniconda_condarc.py rendered
roles/miniconda/templates/condarc.j2; the same promises now hold for miniconda_role.render_system_condarc).
"""

from __future__ import annotations

import base64
import io

import pytest
import yaml
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_env_role as er
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import doi_cert_plan as dp
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import doi_cert_role as dr
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_changes as fc
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_plan as mp
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_role as mr
from ruamel.yaml import YAML

ARCGIS = [
    {
        "id": "desktop-10.4.1-32",
        "product": "desktop",
        "version": "10.4.1",
        "bits": 32,
        "python_major_minor": "2.7",
        "python_exe": "C:\\Python27\\ArcGIS10.4\\python.exe",
        "status": "ok",
    }
]
ADMINS = "S-1-5-32-544"
USERS = "S-1-5-32-545"


def plan_for(**inputs) -> dict:
    return mp.plan_miniconda(mp.PlanInputs(arcgis=ARCGIS, **inputs), os_bits=64)


def condarc_of(plan: dict) -> str:
    return mr.render_system_condarc(plan["condarc"]["marker"], plan["condarc"]["settings"])


# --- render_system_condarc----------------------------------------------------------------------------


def test_rendered_condarc_reads_back_as_the_planned_settings():
    plan = plan_for()
    text = condarc_of(plan)
    assert text.startswith(mp.CONDARC_MARKER)
    assert mp.condarc_is_managed(text)
    assert yaml.safe_load(text) == plan["condarc"]["settings"]
    assert YAML(typ="safe").load(io.StringIO(text)) == plan["condarc"]["settings"]


def test_rendered_condarc_uses_crlf_throughout():
    text = condarc_of(plan_for())
    assert "\r\n" in text and text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    # The comment naming the folder keeps its backslashes.
    assert "C:\\ProgramData\\conda\\condarc.d\\" in text


def test_mirror_proxy_and_extra_survive_rendering():
    plan = plan_for(
        channels=["defaults", "conda-forge"],
        channel_mirror="https://conda.lab.example.org",
        free_channel=True,
        proxy="http://user:p%40ss@proxy.lab:3128",
        proxy_password_readable_by_users=True,
        remote_connect_timeout_secs=12.5,
        condarc_extra={
            "channel_alias": "https://conda.lab.example.org/conda",
            "report_errors": False,
            "custom_channels": {"esri": "https://conda.lab.example.org/esri-mirror"},
            "pinned_packages": [],
            "envs_dirs": ["D:\\conda\\envs"],
            "create_default_packages": [{"nested": ["value"]}],
        },
    )
    loaded = YAML(typ="safe").load(io.StringIO(condarc_of(plan)))
    assert loaded == plan["condarc"]["settings"]
    assert loaded["default_channels"][1] == "https://conda.lab.example.org/pkgs/free"
    assert loaded["proxy_servers"]["https"] == "http://user:p%40ss@proxy.lab:3128"
    assert loaded["remote_connect_timeout_secs"] == 12.5
    assert loaded["report_errors"] is False
    assert loaded["custom_channels"] == {"esri": "https://conda.lab.example.org/esri-mirror"}
    assert loaded["pinned_packages"] == []
    assert loaded["envs_dirs"] == ["D:\\conda\\envs"]
    assert plan["condarc"]["secret"] is True


def test_sample_rendering():
    text = condarc_of(plan_for(proxy="http://proxy.lab:3128"))
    assert text.replace("\r\n", "\n").splitlines()[3:] == [
        "channels:",
        '  - "defaults"',
        "default_channels:",
        '  - "https://repo.anaconda.com/pkgs/main"',
        '  - "https://repo.anaconda.com/pkgs/free"',
        '  - "https://repo.anaconda.com/pkgs/r"',
        '  - "https://repo.anaconda.com/pkgs/msys2"',
        "remote_max_retries: 5",
        "remote_connect_timeout_secs: 30.0",
        "remote_read_timeout_secs: 120.0",
        "proxy_servers:",
        '  "http": "http://proxy.lab:3128"',
        '  "https": "http://proxy.lab:3128"',
    ]


def test_values_that_look_like_yaml_stay_strings():
    plan = plan_for(channels=["defaults", "yes", "1.0", "#not-a-comment", "a: b"])
    loaded = YAML(typ="safe").load(io.StringIO(condarc_of(plan)))
    assert loaded["channels"] == ["defaults", "yes", "1.0", "#not-a-comment", "a: b"]


def test_empty_collections_render_as_empty_yaml_values():
    loaded = YAML(typ="safe").load(
        io.StringIO(mr.render_system_condarc("# m", {"a": [], "b": {}, "c": None}))
    )
    assert loaded == {"a": [], "b": {}, "c": None}


# --- merge_pinned ------------------------------------------------------------------------------------


def test_merge_pinned_replaces_the_package_line_and_appends_new_pins():
    esri = "python 3.9.*\r\narcpy ==3.0\r\nnumpy=1.20\r\nnumpy-base 1.20\r\n"
    merged = er.merge_pinned(esri, ["numpy 1.22.4", "ipython 8.4.0"])
    assert merged == "python 3.9.*\narcpy ==3.0\nnumpy 1.22.4\nnumpy-base 1.20\nipython 8.4.0\n"


def test_merge_pinned_without_an_esri_file():
    assert er.merge_pinned(None, ["spyder 5.3.3"]) == "spyder 5.3.3\n"
    assert er.merge_pinned("", []) == "\n"


def test_merge_pinned_is_idempotent():
    once = er.merge_pinned("numpy 1.20\n", ["numpy 1.22.4", "jupyter 1.0.0"])
    assert er.merge_pinned(once, ["numpy 1.22.4", "jupyter 1.0.0"]) == once


# --- Snapshot ----------------------------------------------------------------------------------------


def raw_entry(path: str, type_: str = "file", data: bytes | None = None, **extra) -> dict:
    """One host_read answer; an administrator's, writable by no one else, unless ``extra`` says otherwise."""
    entry = {"path": path, "type": type_, "owner": ADMINS, "protected": True, "acl": [], **extra}
    if data is not None:
        entry.update(
            size=len(data), sha256=fc.sha256(data).upper(), content_b64=base64.b64encode(data).decode()
        )
    return entry


SNAP = fh.Snapshot(
    {
        "reads": [
            raw_entry("C:\\ProgramData\\conda\\.condarc", data=b"channels: []\r\n"),
            raw_entry("C:\\Big\\file.bin", size=3),
            raw_entry(
                "C:\\ProgramData\\conda",
                "dir",
                children=[{"name": ".condarc", "dir": False}, {"name": "condarc.d", "dir": True}],
                owner=ADMINS,
            ),
            raw_entry("C:\\Missing", "missing"),
            {
                "path": "C:\\Miniconda3\\envs\\*\\conda-meta\\history",
                "type": "glob",
                "matches": [raw_entry("C:\\Miniconda3\\envs\\py27\\conda-meta\\history", size=10)],
            },
        ],
        "env": {"conda_pkgs_dirs": "D:\\pkgs"},
        "store": {"abcdef": 1},
        "runs": [{"id": "miniconda-miniconda3-x64", "rc": 0, "stdout": "conda 4.8.3"}],
    }
)


def test_snapshot_looks_paths_up_case_insensitively():
    assert SNAP.text("c:\\programdata\\CONDA\\.CONDARC") == "channels: []\r\n"
    assert SNAP.sha256("C:\\ProgramData\\conda\\.condarc\\") == fc.sha256(b"channels: []\r\n")
    assert SNAP.is_dir("C:\\programdata\\conda")
    assert SNAP.env["CONDA_PKGS_DIRS"] == "D:\\pkgs" and SNAP.store == {"ABCDEF": True}
    assert SNAP.runs["miniconda-miniconda3-x64"]["rc"] == 0


def test_snapshot_answers_for_children_of_a_folder_it_listed():
    assert SNAP.is_dir("C:\\ProgramData\\conda\\condarc.d")
    assert not SNAP.exists("C:\\ProgramData\\conda\\other.txt")
    assert sorted(SNAP.listing("C:\\ProgramData\\conda")) == [".condarc", "condarc.d"]
    assert SNAP.text("C:\\ProgramData\\conda\\condarc.d") is None  # a folder has no text


def test_snapshot_answers_below_a_missing_folder_and_inside_a_glob():
    assert not SNAP.exists("C:\\Missing\\deeper")
    assert SNAP.text("C:\\Missing") is None and SNAP.listing("C:\\Missing") is None
    assert SNAP.glob("c:\\miniconda3\\ENVS\\*\\conda-meta\\history") == [
        "C:\\Miniconda3\\envs\\py27\\conda-meta\\history"
    ]
    assert SNAP.exists("C:\\Miniconda3\\envs\\py27\\conda-meta\\history")
    assert not SNAP.exists("C:\\Miniconda3\\envs\\other\\conda-meta\\history")


@pytest.mark.parametrize(
    "ask",
    [
        lambda s: s.exists("C:\\Never\\read.txt"),
        lambda s: s.exists("C:\\Miniconda3\\envs\\py27\\conda-meta\\other.json"),  # not the glob's shape
        lambda s: s.sha256("C:\\Big\\file.bin"),  # read without detail: no checksum
        lambda s: s.data("C:\\Big\\file.bin"),  # read without content
        lambda s: s.glob("C:\\Other\\*"),
        lambda s: s.listing("C:\\ProgramData\\conda\\condarc.d"),  # known from a listing only
    ],
    ids=["unread-path", "outside-glob", "no-sha", "no-content", "unread-glob", "no-listing"],
)
def test_snapshot_raises_not_observed_for_what_observe_did_not_read(ask):
    with pytest.raises(fh.NotObserved):
        ask(SNAP)


def test_snapshot_round_trips_through_its_raw_form():
    again = fh.Snapshot(SNAP.to_raw())
    assert again.text("C:\\ProgramData\\conda\\.condarc") == "channels: []\r\n"
    assert again.glob("C:\\Miniconda3\\envs\\*\\conda-meta\\history") == SNAP.glob(
        "C:\\Miniconda3\\envs\\*\\conda-meta\\history"
    )
    assert again.listing("C:\\ProgramData\\conda") == SNAP.listing("C:\\ProgramData\\conda")


def test_merge_reads_keeps_one_read_per_path_and_kind():
    merged = fh.merge_reads(
        [fh.Read("C:\\A"), fh.Read("c:\\a\\", content=True), fh.Read("C:\\A", "dir"), fh.Read("C:\\B")]
    )
    assert [(r.path, r.kind, r.content) for r in merged] == [
        ("C:\\A", "file", True),
        ("C:\\A", "dir", False),
        ("C:\\B", "file", False),
    ]


# --- Changes -----------------------------------------------------------------------------------------

FOLDER_SNAP = fh.Snapshot(
    {
        "reads": [
            raw_entry("C:\\ProgramData", "dir", children=[{"name": "conda", "dir": True}]),
            raw_entry(
                "C:\\ProgramData\\conda",
                "dir",
                owner=ADMINS,
                protected=True,
                acl=[{"sid": USERS, "type": "allow", "rights": 1179817}],
                children=[{"name": ".condarc", "dir": False}],
            ),
            raw_entry("C:\\ProgramData\\conda\\.condarc", data=b"same\r\n"),
            raw_entry("C:\\ProgramData\\open", "dir", owner=USERS, children=[]),
            raw_entry(
                "C:\\ProgramData\\writable",
                "dir",
                owner=ADMINS,
                acl=[{"sid": USERS, "type": "allow", "rights": 278}],
                children=[{"name": "theirs", "dir": True}],
            ),
            raw_entry("C:\\ProgramData\\writable\\theirs", "dir", owner=USERS, children=[]),
            raw_entry("C:\\ProgramData\\arcgis-conda-fleet", "missing"),
        ]
    }
)


def changes(role: str = "miniconda", planned: dict | None = None, gone: set | None = None) -> fc.Changes:
    return fc.Changes(role, FOLDER_SNAP, {} if planned is None else planned, gone)


def test_changes_skip_what_the_host_already_has():
    c = changes()
    c.mkdir("C:\\ProgramData\\conda", "exists")
    c.write("C:\\ProgramData\\conda\\.condarc", "same\r\n", "same bytes")
    c.delete("C:\\ProgramData\\conda\\gone.txt", "not there")
    c.copy("C:\\x", "C:\\ProgramData\\conda\\.condarc", "kept", force=False)
    c.secure("C:\\ProgramData\\conda", "already admin-only")
    assert c.items == []


def test_changes_emit_what_differs_with_parents_first():
    c = changes()
    c.write("C:\\ProgramData\\conda\\.condarc", "other\r\n", "new bytes", backup=True)
    c.mkdir("C:\\ProgramData\\arcgis-conda-fleet\\installers", "installers")
    c.secure("C:\\ProgramData\\writable", "users can add to it")
    assert [(i["action"], i["target"]) for i in c.items] == [
        ("write", "C:\\ProgramData\\conda\\.condarc"),
        ("mkdir", "C:\\ProgramData\\arcgis-conda-fleet"),
        ("mkdir", "C:\\ProgramData\\arcgis-conda-fleet\\installers"),
        ("secure", "C:\\ProgramData\\writable"),
    ]
    write = c.items[0]
    assert write["role"] == "miniconda" and write["step"] == "files"
    assert base64.b64decode(write["item"]["content_b64"]) == b"other\r\n" and write["item"]["backup"]
    assert "content_b64" not in fc.brief(write)["item"]


def test_a_folder_a_user_made_is_moved_aside_and_made_anew_admin_only_never_adopted():
    c = changes()
    c.secure("C:\\ProgramData\\writable\\theirs", "users own it")
    assert [(i["action"], i["target"], i["item"]["op"]) for i in c.items] == [
        ("move", "C:\\ProgramData\\writable\\theirs.untrusted", "move"),
        ("mkdir", "C:\\ProgramData\\writable\\theirs", "mkdir"),
    ]
    assert c.items[0]["item"]["src"] == "C:\\ProgramData\\writable\\theirs"
    assert c.items[1]["item"] == fc.secure_mkdir("C:\\ProgramData\\writable\\theirs")
    c.write(
        "C:\\ProgramData\\writable\\theirs\\x.yml", "x", "a file in it"
    )  # written anew, no diff against theirs
    assert c.items[-1]["action"] == "write" and c.items[-1]["diff"]["before"] == ""
    # Under an admin-only parent a new folder inherits its ACL: a plain mkdir is enough.
    c.secure("C:\\ProgramData\\open", "users own it")
    assert [(i["action"], i["item"]) for i in c.items[-2:]] == [
        ("move", {"op": "move", "src": "C:\\ProgramData\\open", "path": "C:\\ProgramData\\open.untrusted"}),
        ("mkdir", {"op": "mkdir", "path": "C:\\ProgramData\\open"}),
    ]


def test_a_folder_the_run_creates_and_then_secures_is_admin_only_from_its_creation():
    c = changes()
    c.mkdir("C:\\ProgramData\\writable\\new\\installers", "installers")
    c.write("C:\\ProgramData\\writable\\new\\installers\\a.exe", b"x", "installer")
    c.secure("C:\\ProgramData\\writable\\new", "admin only")
    # Secured at its creation (its own mkdir), before the installer is written into it; no secure after.
    assert [(i["action"], i["target"], i["item"].get("secure")) for i in c.items] == [
        ("mkdir", "C:\\ProgramData\\writable\\new", True),
        ("mkdir", "C:\\ProgramData\\writable\\new\\installers", None),
        ("write", "C:\\ProgramData\\writable\\new\\installers\\a.exe", None),
    ]
    assert c.items[0]["item"] == fc.secure_mkdir("C:\\ProgramData\\writable\\new")


def test_a_folder_planned_by_one_role_is_not_made_again_by_the_next():
    planned: dict[str, str] = {}
    first, second = changes("miniconda", planned), changes("doi_cert", planned)
    first.mkdir("C:\\ProgramData\\arcgis-conda-fleet\\installers", "installers")
    first.write("C:\\ProgramData\\conda\\.condarc", "first\r\n", "the first role changes it")
    second.mkdir("C:\\ProgramData\\arcgis-conda-fleet", "certs")
    # The host has these bytes now, but the first role's write comes before: the second must still write.
    second.write("C:\\ProgramData\\conda\\.condarc", "same\r\n", "back to what the host had")
    assert [i["action"] for i in first.items] == ["mkdir", "mkdir", "write"]
    assert [i["action"] for i in second.items] == ["write"]
    assert planned["c:\\programdata\\arcgis-conda-fleet"] == "miniconda"


def test_a_folder_is_removed_once_everything_in_it_is_gone():
    gone: set[str] = set()
    c = changes(gone=gone)
    c.rmdir_empty("C:\\ProgramData\\conda", "not yet empty")
    assert c.items == []
    c.delete("C:\\ProgramData\\conda\\.condarc", "ours")
    c.delete("C:\\ProgramData\\conda\\.condarc", "only once")
    c.rmdir_empty("C:\\ProgramData\\conda", "now empty")
    c.rmdir_empty("C:\\ProgramData\\open", "empty already")
    assert [(i["action"], i["target"]) for i in c.items] == [
        ("delete", "C:\\ProgramData\\conda\\.condarc"),
        ("rmdir_empty", "C:\\ProgramData\\conda"),
        ("rmdir_empty", "C:\\ProgramData\\open"),
    ]
    assert c.is_gone("c:\\programdata\\CONDA\\.condarc")


def test_a_pre_existing_condarc_is_kept_before_the_role_writes_its_own():
    plan = plan_for()
    user = b"channels:\r\n  - my-channel\r\n"
    snap = fh.Snapshot(
        {
            "reads": [
                raw_entry(mp.CONDARC_PATH, data=user),
                raw_entry(mp.CONDARC_ORIGINAL, "missing"),
                raw_entry("C:\\ProgramData\\conda", "dir", children=[{"name": ".condarc", "dir": False}]),
            ]
        }
    )
    c = fc.Changes("miniconda", snap, {})
    mr.miniconda_changes({**plan, "installs": []}, snap, c)
    assert [(i["action"], i["target"]) for i in c.items] == [
        ("copy", mp.CONDARC_ORIGINAL),
        ("write", mp.CONDARC_PATH),
    ]
    assert c.items[0]["item"] == {
        "op": "copy",
        "src": mp.CONDARC_PATH,
        "path": mp.CONDARC_ORIGINAL,
        "force": False,
    }
    assert base64.b64decode(c.items[1]["item"]["content_b64"]).decode() == condarc_of(plan)


STUDENT = "S-1-5-21-1-1001"
ASIDE_SNAP = fh.Snapshot(
    {
        "reads": [
            raw_entry("C:\\ProgramData\\conda\\.condarc", data=b"mine\n", owner=STUDENT),
            raw_entry("C:\\ProgramData\\conda\\.condarc.untrusted", data=b"an earlier run's\n"),
            raw_entry(
                "C:\\ProgramData\\conda",
                "dir",
                children=[{"name": ".condarc", "dir": False}, {"name": ".condarc.untrusted", "dir": False}],
            ),
            raw_entry("C:\\Unlisted\\pip.ini", data=b"theirs\n", owner=STUDENT),
        ]
    }
)


def test_a_file_is_moved_aside_once_under_a_free_name_and_never_after_a_role_wrote_it():
    planned: dict[str, str] = {}
    gone: set[str] = set()
    moved: dict[str, str] = {}
    first = fc.Changes("miniconda", ASIDE_SNAP, planned, gone, None, moved)
    second = fc.Changes("doi_cert", ASIDE_SNAP, planned, gone, None, moved)
    first.write("C:\\ProgramData\\conda\\.condarc", "ours\r\n", "system condarc")
    second.quarantine("C:\\ProgramData\\conda\\.condarc", "not an administrator's")
    second.quarantine("C:\\Unlisted\\pip.ini", "not an administrator's")
    assert [(i["action"], i["target"]) for i in first.items] == [
        ("copy", "C:\\ProgramData\\conda\\.condarc.untrusted.1"),
        ("delete", "C:\\ProgramData\\conda\\.condarc"),
        ("write", "C:\\ProgramData\\conda\\.condarc"),
    ]
    assert first.items[0]["item"]["exclusive"] is True
    # A folder observe did not list: a name from the file's own SHA-256 (and the host refuses to replace).
    assert [(i["action"], i["target"]) for i in second.items] == [
        ("copy", "C:\\Unlisted\\pip.ini.untrusted-" + fc.sha256(b"theirs\n")[:12]),
        ("delete", "C:\\Unlisted\\pip.ini"),
    ]


# --- group_steps -------------------------------------------------------------------------------------


def one(role: str, step: str, target: str) -> dict:
    return fc.change(role, step, "x", target, "r", {})


def test_group_steps_batches_consecutive_file_changes_of_one_role():
    steps = fc.group_steps(
        [
            one("miniconda", "files", "a"),
            one("miniconda", "files", "b"),
            one("miniconda", "download", "c"),
            one("miniconda", "download", "d"),
            one("miniconda", "files", "e"),
            one("doi_cert", "files", "f"),
            one("doi_cert", "cert", "g"),
        ]
    )
    assert [(s["index"], s["role"], s["kind"], [c["target"] for c in s["changes"]]) for s in steps] == [
        (0, "miniconda", "files", ["a", "b"]),
        (1, "miniconda", "download", ["c"]),
        (2, "miniconda", "download", ["d"]),
        (3, "miniconda", "files", ["e"]),
        (4, "doi_cert", "files", ["f"]),
        (5, "doi_cert", "cert", ["g"]),
    ]


def test_group_steps_of_nothing():
    assert fc.group_steps([]) == []


def test_conda_versions_come_from_the_roots_conda_meta_names():
    """doi_cert judges each conda by the files its version reads; observe reads conda-meta\\conda-*.json."""
    pro = "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python"
    names = ["conda-23.7.4-py311haa95532_0.json", "conda-package-handling-2.2.0-py311_0.json"]
    snap = fh.Snapshot(
        {
            "reads": [
                {
                    "path": fh.conda_meta_glob(pro),
                    "type": "glob",
                    "matches": [
                        {"path": f"{pro}\\conda-meta\\{n}", "type": "file", "size": 1} for n in names
                    ],
                },
                {"path": fh.conda_meta_glob("C:\\Miniconda2"), "type": "glob", "matches": []},
            ]
        }
    )
    assert dr.conda_versions(snap, [pro, "C:\\Miniconda2", "D:\\never-read"]) == {
        pro.lower(): "23.7.4",
        "c:\\miniconda2": None,
        "d:\\never-read": None,
    }
    settings = dp.PlanSettings(
        host="pc1",
        other_conda_readers=(dp.CondaReader(label="pro-3.3-64", prefix=pro, python_major_minor="3.11"),),
    )
    assert fh.Read(fh.conda_meta_glob(pro), "glob", detail=False) in dr.doi_cert_reads(settings, None, [])


# --- miniconda_judge ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_miniconda2_conda_answering_its_version_on_stderr_is_complete(stream):
    """conda 4.8.3 on Python 2.7 prints ``--version`` to stderr (argparse before 3.4, bpo-18920)."""
    plan = mp.plan_miniconda(mp.PlanInputs(flavours=["miniconda2-x86"]), os_bits=64)
    install = plan["installs"][0]
    run = {"id": "miniconda-miniconda2-x86", "rc": 0, "stdout": "", "stderr": "", stream: "conda 4.8.3\r\n"}
    snap = fh.Snapshot(
        {"reads": [{"path": p, "type": "file"} for p in install["expected_files"]], "runs": [run]}
    )
    assert mr.miniconda_judge(plan, snap, "ws01") == []
    run[stream] = "Traceback (most recent call last):\r\n"
    assert (
        "exited 0 with 'Traceback"
        in mr.miniconda_judge(plan, fh.Snapshot(snap.to_raw() | {"runs": [run]}), "ws01")[0]
    )


def half_done_snapshot(plan: dict, conda: bool, record: bool) -> fh.Snapshot:
    install = plan["installs"][0]
    prefix = install["prefix"]
    return fh.Snapshot(
        {
            "reads": [
                raw_entry(plan["download_dir"], "dir", children=[]),
                raw_entry(ntpath_dirname(plan["download_dir"]), "dir", children=[]),
                # As the installer leaves it: C:\'s Authenticated Users Modify, inherited.
                raw_entry(
                    prefix,
                    "dir",
                    children=[],
                    protected=False,
                    acl=[{"sid": "S-1-5-11", "type": "allow", "rights": 1245631}],
                ),
                raw_entry(install["conda_exe"], data=b"exe")
                if conda
                else raw_entry(install["conda_exe"], "missing"),
                raw_entry(install["marker"], "missing"),
                raw_entry(install["started"], data=b"{}")
                if record
                else raw_entry(install["started"], "missing"),
                raw_entry(install["installer"]["dest"], data=b"installer"),
            ]
        }
    )


def ntpath_dirname(path: str) -> str:
    return path.rsplit("\\", 1)[0]


def test_an_install_this_fleet_started_is_finished_or_repaired_and_another_one_is_left():
    plan = plan_for(manage_condarc=False)
    install = plan["installs"][0]

    def planned(conda: bool, record: bool) -> list[tuple[str, str]]:
        c = fc.Changes("miniconda", half_done_snapshot(plan, conda, record), {})
        mr.miniconda_changes(plan, c.snapshot, c)
        return [(i["action"], i["target"]) for i in c.items]

    # The installer ran (conda.exe there), the connection dropped: secure and mark it.
    assert planned(conda=True, record=True) == [("secure", install["prefix"]), ("write", install["marker"])]
    # No record: not this fleet's install, not marked (only secured, as any Miniconda the run uses).
    assert planned(conda=True, record=False) == [("secure", install["prefix"])]
    # The installer stopped before conda.exe: its folder is removed, then installed again.
    repaired = planned(conda=False, record=True)
    assert repaired[0] == ("delete", install["prefix"]) and ("install", install["prefix"]) in repaired


def test_uninstall_names_a_miniconda_it_does_not_remove():
    plan = mp.plan_miniconda(mp.PlanInputs(state="absent"), None)
    removal = plan["removals"][0]
    reads = [raw_entry(removal["prefix"], "dir", children=[])]
    for other in plan["removals"]:
        if other is not removal:
            reads.append(raw_entry(other["prefix"], "missing"))
        reads += [raw_entry(other["marker"], "missing"), raw_entry(other["started"], "missing")]
    snap = fh.Snapshot({"reads": reads})
    (warning,) = [w for w in mr.not_removed(plan, snap, "pc1") if removal["prefix"] in w]
    assert warning.startswith(f"pc1: {removal['prefix']} is not removed") and "Fix:" in warning


def test_the_audit_reports_reparse_points_programs_users_made_and_pythons_not_run():
    student = "S-1-5-21-1-1001"
    snap = fh.Snapshot(
        {
            "reads": [
                raw_entry(
                    "C:\\ProgramData\\conda\\condarc.d",
                    "dir",
                    owner=ADMINS,
                    protected=True,
                    children=[
                        {"name": "link", "dir": True, "reparse": True},
                        {"name": "a.yml", "dir": False},
                    ],
                ),
                raw_entry("C:\\ProgramData\\conda\\condarc.d\\a.yml", owner=ADMINS, protected=True),
                raw_entry("C:\\Miniconda2\\Scripts\\conda.exe", owner=student),
                raw_entry("C:\\Miniconda2\\envs\\j", "dir", owner=ADMINS, protected=True, reparse=True),
                raw_entry("C:\\Elsewhere\\x.exe", owner=student),  # not trusted by the run: not judged
            ]
        }
    )
    facts = [
        {
            "python_exe": "C:\\Python27\\ArcGIS10.4\\python.exe",
            "status": "unsecured",
            "problems": ["not run: X"],
        },
        {"python_exe": "C:\\Pro\\python.exe", "status": "ok", "problems": []},
    ]
    found = {f["path"]: f["why"] for f in fc.audit(snap, ["C:\\ProgramData\\conda", "C:\\Miniconda2"], facts)}
    assert sorted(found) == [
        "C:\\Miniconda2\\Scripts\\conda.exe",
        "C:\\Miniconda2\\envs\\j",
        "C:\\ProgramData\\conda\\condarc.d\\link",
        "C:\\Python27\\ArcGIS10.4\\python.exe",
    ]
    assert found["C:\\ProgramData\\conda\\condarc.d\\link"].startswith("a junction or symbolic link")
    assert found["C:\\Miniconda2\\envs\\j"].startswith("a junction or symbolic link")
    assert found["C:\\Miniconda2\\Scripts\\conda.exe"].startswith(
        "a program or start-up file a non-admin made"
    )
    assert found["C:\\Python27\\ArcGIS10.4\\python.exe"] == "not run: X"


def test_a_profile_or_the_folder_of_profiles_is_never_moved_aside():
    """A user owns their profile: the run writes into it (the bridge, doi_cert's user files) as theirs and
    never moves it, or C:\\Users above it, aside as a folder a user made."""
    snap = fh.Snapshot(
        {
            "reads": [
                raw_entry("C:\\Users", "dir", owner="S-1-5-18", children=[{"name": "s1", "dir": True}]),
                raw_entry("C:\\Users\\s1", "dir", owner="S-1-5-21-1-1001", children=[]),
            ],
            "profiles": [{"sid": "S-1-5-21-1-1001", "path": "C:\\Users\\s1"}],
        }
    )
    c = fc.Changes("doi_cert", snap, {})
    c.mkdir("C:\\Users\\s1\\.config\\conda", "the user's condarc folder")
    c.secure("C:\\Users\\s1", "never")
    assert [i["action"] for i in c.items if i["action"] == "move"] == []
