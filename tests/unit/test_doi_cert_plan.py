"""doi_cert planner: conda/pip config rendering and parsing, conda's precedence, and whole runs
(present, again, rotation, absent) against an in-memory Windows host."""

from __future__ import annotations

import configparser
import dataclasses
import io
import json

import pytest
import yaml
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_bundle import (
    CertificateSource,
    prepare_bundle,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_plan import (
    CondarcSetting,
    CondaReader,
    HostState,
    PlanError,
    PlanSettings,
    effective_ssl_verify,
    ini_get,
    ini_remove,
    ini_set,
    observed_paths,
    plan_doi_cert,
    read_ssl_verify,
    remove_yaml_keys,
    render_condarc,
    restore_yaml_lines,
)
from doi_cert_fakehost import FakeHost
from doi_cert_testca import NOW, make_ca
from ruamel.yaml import YAML

BUNDLE_PATH = "C:\\ProgramData\\arcgis-conda\\certs\\ca-bundle.pem"
MANIFEST = "C:\\ProgramData\\arcgis-conda\\doi_cert-state.json"
MC2 = CondaReader(label="miniconda2-x86", prefix="C:\\Miniconda2", python_major_minor="2.7")
MC3 = CondaReader(label="miniconda3-x64", prefix="C:\\Miniconda3", python_major_minor="3.12")


def settings(**overrides) -> PlanSettings:
    base = PlanSettings(host="gis101-01", conda_installs=(MC2, MC3), users=("alice",))
    return dataclasses.replace(base, **overrides)


def bundle_for(*cas) -> dict:
    sources = [CertificateSource(label=f"ca {i}", data=ca.pem) for i, ca in enumerate(cas)]
    return dataclasses.asdict(prepare_bundle(sources, now=NOW))


@pytest.fixture(scope="module")
def cas():
    return make_ca("Test DOI Root CA"), make_ca("Test DOI Root CA G2")


def lab_host() -> FakeHost:
    host = FakeHost()
    host.mkdir("C:\\ProgramData")
    host.put("C:\\ProgramData\\conda\\.condarc", "channels:\n  - defaults\n")  # the miniconda role's file
    host.put("C:\\Miniconda2\\conda-meta\\history", "")
    host.put("C:\\Miniconda3\\conda-meta\\history", "")
    host.add_profile("GIS101-01\\alice", "C:\\Users\\alice")
    return host


def run(host: FakeHost, s: PlanSettings, bundle: dict | None) -> tuple[dict, list[str]]:
    plan = plan_doi_cert(s, host.scan(s, [c["sha1"] for c in (bundle or {}).get("certificates", [])]), bundle)
    data = plan.as_dict()
    return data, host.apply(data, s.manifest_path)


# --- rendering and parsing -------------------------------------------------------------------------


def test_rendered_condarc_parses_back_and_carries_condas_final_flag():
    text = render_condarc(BUNDLE_PATH, final=True)
    assert "\r\n" in text
    assert yaml.safe_load(text) == {"ssl_verify": BUNDLE_PATH}
    # conda reads the flag with ruamel's round-trip loader: commented_map.ca.items[key][2].value.strip()
    loaded = YAML().load(io.StringIO(text))
    assert loaded.ca.items["ssl_verify"][2].value.strip() == "#!final"
    setting, problem = read_ssl_verify("x", text)
    assert problem is None and setting == CondarcSetting("x", BUNDLE_PATH, True)
    plain = render_condarc(BUNDLE_PATH, final=False)
    assert read_ssl_verify("x", plain)[0] == CondarcSetting("x", BUNDLE_PATH, False)
    odd = render_condarc("C:\\it's here\\b.pem", final=True)
    assert yaml.safe_load(odd)["ssl_verify"] == "C:\\it's here\\b.pem"
    assert yaml.safe_load(render_condarc("truststore", final=True)) == {"ssl_verify": "truststore"}


@pytest.mark.parametrize(
    ("text", "value", "final"),
    [
        ("ssl_verify: false\n", False, False),
        ("ssl_verify: 'False'\n", False, False),
        ("verify_ssl: C:\\a\\b.pem  #!final\n", "C:\\a\\b.pem", True),
        ("ssl_verify: 'C:\\a #b\\c.pem'  #!final\n", "C:\\a #b\\c.pem", True),
        ("ssl_verify: C:\\a.pem  #!final # note\n", "C:\\a.pem", False),
    ],
)
def test_read_ssl_verify_matches_condas_rules(text, value, final):
    setting, _ = read_ssl_verify("f", text)
    assert (setting.value, setting.final) == (value, final)
    loaded = YAML().load(io.StringIO(text))
    key = next(iter(loaded))
    comment = loaded.ca.items.get(key, [None, None, None])[2]
    assert ((comment.value.strip() if comment else None) == "#!final") is final


def test_invalid_yaml_is_reported_not_raised():
    setting, problem = read_ssl_verify("C:\\Users\\bob\\.condarc", "ssl_verify: [unclosed\n")
    assert setting is None and "not valid YAML" in problem


def test_condas_merge_last_wins_unless_a_file_is_final():
    a, b, c = (CondarcSetting(p, p, f) for p, f in (("a", False), ("b", True), ("c", False)))
    assert effective_ssl_verify([a, c]) == c
    assert effective_ssl_verify([a, b, c]) == b
    assert effective_ssl_verify([]) is None


def test_ini_edits_keep_everything_else_and_parse_back():
    original = (
        "; team mirror\r\n[global]\r\nindex-url = https://mirror.example.org/simple\r\n"
        "cert = D:\\old.pem\r\n  more\r\n\r\n[install]\r\nuser = false\r\n"
    )
    updated = ini_set(original, "global", "cert", BUNDLE_PATH)
    assert "\r\n" in updated and "; team mirror" in updated
    parser = configparser.RawConfigParser()
    parser.read_string(updated)
    assert parser.get("global", "cert") == BUNDLE_PATH
    assert parser.get("global", "index-url") == "https://mirror.example.org/simple"
    assert parser.get("install", "user") == "false"
    removed = ini_remove(updated, "global", "cert")
    assert ini_get(removed, "global", "cert") is None and ini_get(removed, "global", "index-url")
    fresh = ini_set("", "global", "cert", BUNDLE_PATH)
    assert ini_get(fresh, "global", "cert") == BUNDLE_PATH
    assert ini_remove(fresh, "global", "cert") == ""


def test_yaml_key_removal_and_restore_round_trip():
    text = (
        "channels:\n  - defaults\nssl_verify: C:\\Users\\alice\\.certificates\\DOIRootCA.crt\n"
        "show_channel_urls: true\n"
    )
    stripped, removed = remove_yaml_keys(text, ("ssl_verify", "verify_ssl"))
    assert yaml.safe_load(stripped) == {"channels": ["defaults"], "show_channel_urls": True}
    assert removed == ["ssl_verify: C:\\Users\\alice\\.certificates\\DOIRootCA.crt"]
    restored = restore_yaml_lines(stripped, removed)
    assert yaml.safe_load(restored) == yaml.safe_load(text)
    assert restore_yaml_lines(text, removed) == text  # set again meanwhile: left alone


# --- validation --------------------------------------------------------------------------------------


def test_truststore_is_refused_while_a_miniconda2_base_reads_the_setting(cas):
    with pytest.raises(PlanError) as err:
        plan_doi_cert(
            settings(ssl_verify="truststore"),
            lab_host().scan(settings(ssl_verify="truststore"), []),
            bundle_for(cas[0]),
        )
    text = str(err.value)
    assert "host gis101-01" in text and "miniconda2-x86 (Python 2.7)" in text
    assert "Fix: keep doi_cert_ssl_verify: bundle" in text
    pro = CondaReader(label="pro-3.0", prefix=None, python_major_minor="3.9")
    s = settings(ssl_verify="truststore", conda_installs=(MC3,), other_conda_readers=(pro,))
    with pytest.raises(PlanError, match=r"pro-3\.0 \(Python 3\.9\)"):
        plan_doi_cert(s, HostState({}), bundle_for(cas[0]))
    ok = plan_doi_cert(
        dataclasses.replace(s, condarc_locations=("install_root",)), HostState({}), bundle_for(cas[0])
    )
    assert any("conda >= 23.9" in w for w in ok.warnings)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cert_dir": "certs"}, "not an absolute Windows folder path"),
        ({"cert_dir": "C:\\"}, "not an absolute Windows folder path"),
        ({"cert_dir": "C:\\Zertifikate\\Übersicht"}, "non-ASCII"),
        ({"condarc_filename": "doi_cert.yaml"}, "end the name with .yml"),
        ({"bundle_filename": "certs\\b.pem"}, "plain ASCII file name"),
        ({"roots_filename": "ca-bundle.pem"}, "give them different names"),
        ({"condarc_locations": ("install_root",), "conda_installs": ()}, "no conda install is known"),
    ],
)
def test_bad_settings_fail_before_any_change(overrides, message):
    with pytest.raises(PlanError, match=message):
        plan_doi_cert(
            settings(**overrides), HostState({}), {"bundle_pem": "", "roots_pem": "", "certificates": []}
        )


def test_a_user_name_matching_two_profiles_is_an_error(cas):
    host = lab_host()
    host.add_profile("LAB\\alice", "C:\\Users\\alice.LAB")
    s = settings()
    with pytest.raises(PlanError, match=r"matches 2 profiles.*Fix: write the account as DOMAIN"):
        plan_doi_cert(s, host.scan(s, []), bundle_for(cas[0]))


# --- whole runs --------------------------------------------------------------------------------------


def test_present_then_again_then_absent_restores_the_host_exactly(cas):
    host = lab_host()
    before = host.snapshot()
    s = settings()
    bundle = bundle_for(cas[0])
    plan, changed = run(host, s, bundle)
    paths = [w["path"] for w in plan["write_files"]]
    # the bundle is written before any configuration names it
    assert paths.index(BUNDLE_PATH) < paths.index("C:\\ProgramData\\conda\\condarc.d\\doi_cert.yml")
    assert host.text(BUNDLE_PATH) == bundle["bundle_pem"]
    for path in (
        "C:\\ProgramData\\conda\\condarc.d\\doi_cert.yml",
        "C:\\Miniconda2\\condarc.d\\doi_cert.yml",
        "C:\\Miniconda3\\condarc.d\\doi_cert.yml",
    ):
        assert yaml.safe_load(host.text(path)) == {"ssl_verify": BUNDLE_PATH}
    pip = configparser.RawConfigParser()
    pip.read_string(host.text("C:\\ProgramData\\pip\\pip.ini"))
    assert pip.get("global", "cert") == BUNDLE_PATH
    assert host.text("C:\\Users\\alice\\.certificates\\ca-bundle.pem") == bundle["bundle_pem"]
    assert host.text("C:\\Users\\alice\\.certificates\\doi-roots.pem") == bundle["roots_pem"]
    assert host.text("C:\\ProgramData\\conda\\.condarc") == "channels:\n  - defaults\n"  # not ours: untouched
    manifest = json.loads(host.text(MANIFEST))
    assert "C:\\ProgramData\\conda\\condarc.d" in manifest["dirs"]
    assert manifest["pip_ini"] == {
        "path": "C:\\ProgramData\\pip\\pip.ini",
        "created": True,
        "previous_cert": None,
    }
    assert plan["overrides"] == []
    assert changed

    again, changed_again = run(host, s, bundle)
    assert changed_again == []
    assert again["remove_files"] == [] and again["remove_dirs"] == []

    absent, _ = run(host, settings(state="absent"), None)
    assert host.snapshot() == before
    assert absent["remove_files"][0].endswith((".yml", ".ini"))  # configuration goes before the bundle
    assert absent["remove_files"][-1].endswith(".pem")
    assert run(host, settings(state="absent"), None)[1] == []  # absent is idempotent too


def test_rotation_adds_the_new_root_and_removes_the_old_one_everywhere(cas):
    old, new = cas
    host = lab_host()
    s = settings(windows_store=True)
    run(host, s, bundle_for(old))
    assert host.store == {old.sha1}
    run(host, s, bundle_for(old, new))  # overlap: both trusted
    assert host.store == {old.sha1, new.sha1}
    plan, _changed = run(host, s, bundle_for(new))
    assert host.store == {new.sha1}
    assert f"C:\\ProgramData\\arcgis-conda\\certs\\doi-root-{old.sha1}.crt" in plan["remove_files"]
    assert host.text(BUNDLE_PATH) == bundle_for(new)["bundle_pem"]
    assert (
        new.sha256 in host.text(BUNDLE_PATH).replace(":", "").lower()
        and old.sha256 not in host.text(BUNDLE_PATH).replace(":", "").lower()
    )
    assert run(host, s, bundle_for(new))[1] == []


def test_check_mode_plan_knows_the_import_file_is_not_there_yet(cas):
    host = lab_host()
    s = settings(windows_store=True)
    plan = plan_doi_cert(s, host.scan(s, [cas[0].sha1]), bundle_for(cas[0])).as_dict()
    assert plan["store_import"][0]["file_exists"] is False
    assert plan["harden_dirs"] == [{"path": "C:\\ProgramData\\arcgis-conda\\certs", "exists": False}]


def test_a_root_already_trusted_by_group_policy_is_never_removed(cas):
    host = lab_host()
    host.store.add(cas[0].sha1)
    s = settings(windows_store=True)
    plan, _ = run(host, s, bundle_for(cas[0]))
    assert plan["store_import"] == []
    assert any("already trusts" in line for line in plan["report"])
    run(host, settings(state="absent"), None)
    assert host.store == {cas[0].sha1}


def test_existing_pip_ini_is_backed_up_and_its_cert_restored_on_absent(cas):
    host = lab_host()
    original = "[global]\r\nindex-url = https://mirror.example.org/simple\r\ncert = D:\\certs\\old.pem\r\n"
    host.put("C:\\ProgramData\\pip\\pip.ini", original)
    plan, _ = run(host, settings(), bundle_for(cas[0]))
    (pip_write,) = [w for w in plan["write_files"] if w["path"].endswith("pip.ini")]
    assert pip_write["backup"] is True and host.backups == 1
    assert ini_get(host.text("C:\\ProgramData\\pip\\pip.ini"), "global", "cert") == BUNDLE_PATH
    assert run(host, settings(), bundle_for(cas[0]))[1] == []
    run(host, settings(state="absent"), None)
    restored = host.text("C:\\ProgramData\\pip\\pip.ini")
    assert ini_get(restored, "global", "cert") == "D:\\certs\\old.pem"
    assert ini_get(restored, "global", "index-url") == "https://mirror.example.org/simple"


def test_user_condarc_override_reported_or_managed_and_restored(cas):
    seed_line = "ssl_verify: C:\\Users\\alice\\.certificates\\DOIRootCA.crt"  # what the seed's steps write
    host = lab_host()
    host.put("C:\\Users\\alice\\.condarc", f"channels:\n  - defaults\n{seed_line}\n")

    final_plan, _ = run(host, settings(), bundle_for(cas[0]))
    assert final_plan["overrides"] == []  # '#!final' in the machine file wins over ~\.condarc

    plain, _ = run(host, settings(condarc_final=False), bundle_for(cas[0]))
    assert {o["decided_by"] for o in plain["overrides"]} == {"C:\\Users\\alice\\.condarc"}
    assert any(line.startswith("user alice gets ssl_verify=") for line in plain["report"])

    managed, _ = run(host, settings(condarc_final=False, manage_user_condarc=True), bundle_for(cas[0]))
    assert "ssl_verify" not in yaml.safe_load(host.text("C:\\Users\\alice\\.condarc"))
    assert any("removed ssl_verify" in line for line in managed["report"])
    assert json.loads(host.text(MANIFEST))["user_condarc"] == {"C:\\Users\\alice\\.condarc": [seed_line]}
    again, changed = run(host, settings(condarc_final=False, manage_user_condarc=True), bundle_for(cas[0]))
    assert changed == [] and again["overrides"] == []

    run(host, settings(state="absent"), None)
    assert (
        yaml.safe_load(host.text("C:\\Users\\alice\\.condarc"))["ssl_verify"] == seed_line.split(": ", 1)[1]
    )


def test_install_root_condarc_that_disables_verification(cas):
    host = lab_host()
    host.put(
        "C:\\Miniconda2\\.condarc", "ssl_verify: false\n"
    )  # `conda config --system --set ssl_verify false`
    # Our install-root condarc.d file is read after <root>\.condarc, so it wins there on its own ...
    assert run(host, settings(condarc_final=False, users=()), bundle_for(cas[0]))[0]["overrides"] == []
    # ... but with the ProgramData file alone, <root>\.condarc comes later and wins unless ours is final.
    only_pd = settings(condarc_final=False, users=(), condarc_locations=("programdata",))
    plan, _ = run(host, only_pd, bundle_for(cas[0]))
    assert plan["overrides"] == [
        {
            "user": None,
            "conda": "miniconda2-x86",
            "effective": False,
            "decided_by": "C:\\Miniconda2\\.condarc",
            "ours": BUNDLE_PATH,
        }
    ]
    final_pd = dataclasses.replace(only_pd, condarc_final=True)
    assert run(host, final_pd, bundle_for(cas[0]))[0]["overrides"] == []


def test_machine_variables_are_off_by_default_and_reported_when_foreign(cas):
    host = lab_host()
    host.env["REQUESTS_CA_BUNDLE"] = "C:\\Tools\\cacert.pem"
    plan, _ = run(host, settings(), bundle_for(cas[0]))
    assert plan["env_set"] == []
    assert any(
        "REQUESTS_CA_BUNDLE=C:\\Tools\\cacert.pem overrides conda's ssl_verify" in line
        for line in plan["report"]
    )
    run(host, settings(env_vars=("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")), bundle_for(cas[0]))
    assert host.env == {"REQUESTS_CA_BUNDLE": BUNDLE_PATH, "SSL_CERT_FILE": BUNDLE_PATH}
    run(host, settings(state="absent"), None)
    assert host.env == {"REQUESTS_CA_BUNDLE": "C:\\Tools\\cacert.pem"}


def test_users_without_a_profile_are_skipped_and_never_get_a_folder(cas):
    host = lab_host()
    plan, _ = run(host, settings(users=("alice", "bob")), bundle_for(cas[0]))
    assert plan["users"] == {"alice": "C:\\Users\\alice"}
    assert any(line.startswith("user bob: no profile") for line in plan["report"])
    assert host.listing("C:\\Users") == ["alice"]


def test_moving_the_cert_folder_repoints_everything_and_cleans_the_old_one(cas):
    host = lab_host()
    run(host, settings(), bundle_for(cas[0]))
    moved = settings(cert_dir="D:\\PKI\\arcgis")
    host.mkdir("D:\\")
    host.mkdir("D:\\PKI")
    _plan, _ = run(host, moved, bundle_for(cas[0]))
    assert host.text(BUNDLE_PATH) is None and host.listing("C:\\ProgramData\\arcgis-conda\\certs") is None
    new_path = "D:\\PKI\\arcgis\\ca-bundle.pem"
    assert ini_get(host.text("C:\\ProgramData\\pip\\pip.ini"), "global", "cert") == new_path
    assert yaml.safe_load(host.text("C:\\Miniconda2\\condarc.d\\doi_cert.yml")) == {"ssl_verify": new_path}
    assert run(host, moved, bundle_for(cas[0]))[1] == []


def test_observed_paths_cover_condas_search_path():
    paths = observed_paths(settings())
    assert "C:\\Miniconda2\\.condarc" in paths.files and "C:\\Miniconda2\\condarc.d" in paths.dirs
    assert "C:\\ProgramData\\conda\\condarc.d" in paths.dirs
    assert paths.user_files[:2] == (".config\\conda\\.condarc", ".config\\conda\\condarc")
    assert ".condarc" in paths.user_files and "AppData\\Roaming\\pip\\pip.ini" in paths.user_files
    assert paths.user_dirs[0] == ".certificates"


# --- which files each conda reads, by its version; ArcGIS Pro's own conda ---------------------------

PRO = CondaReader(label="pro-3.3.0-64", prefix="C:\\Pro\\bin\\Python", python_major_minor="3.11")


def test_user_files_a_hosts_conda_ignores_are_never_reported_or_edited(cas):
    """~\\.config\\conda is read from conda 4.11 (conda/conda#10982); condarc.d *.yaml from 4.3.13."""
    host = lab_host()
    host.put("C:\\Users\\alice\\.config\\conda\\.condarc", "ssl_verify: false\n")
    host.put("C:\\Users\\alice\\.conda\\condarc.d\\x.yaml", "ssl_verify: false\n")
    old = dataclasses.replace(MC2, conda_version="4.3.12")
    s = settings(condarc_final=False, manage_user_condarc=True, conda_installs=(old,))
    plan, _ = run(host, s, bundle_for(cas[0]))
    assert plan["overrides"] == [] and not [w for w in plan["write_files"] if "alice\\.conf" in w["path"]]
    new = dataclasses.replace(MC2, conda_version="4.11.0")
    plan, _ = run(host, dataclasses.replace(s, conda_installs=(new,)), bundle_for(cas[0]))
    edited = {w["path"] for w in plan["write_files"] if "alice\\.con" in w["path"]}
    assert edited == {
        "C:\\Users\\alice\\.config\\conda\\.condarc",
        "C:\\Users\\alice\\.conda\\condarc.d\\x.yaml",
    }


def test_a_conda_older_than_4_6_9_does_not_read_programdata(cas):
    host = lab_host()
    old = dataclasses.replace(MC2, conda_version="4.5.12")
    s = settings(condarc_final=False, users=(), condarc_locations=("programdata",), conda_installs=(old,))
    plan, _ = run(host, s, bundle_for(cas[0]))
    assert [o["decided_by"] for o in plan["overrides"]] == ["(conda's default: True)"]
    # No ProgramData file in what that conda reads (verify judges the same list).
    assert plan["reader_files"] == [
        {"label": "miniconda2-x86", "files": ["C:\\Miniconda2\\.condarc", "C:\\Miniconda2\\condarc"]}
    ]


def test_pros_conda_gets_our_file_in_its_root_only_when_programdata_does_not_reach_it(cas):
    host = lab_host()
    pro_file = "C:\\Pro\\bin\\Python\\condarc.d\\doi_cert.yml"
    default, _ = run(host, settings(other_conda_readers=(PRO,)), bundle_for(cas[0]))
    assert pro_file not in default["condarc_files"]
    # Pro's conda reads ProgramData, then its own root: verify judges both.
    (pro,) = [r for r in default["reader_files"] if r["label"] == PRO.label]
    assert (
        pro["files"][0] == "C:\\ProgramData\\conda\\.condarc"
        and "C:\\Pro\\bin\\Python\\.condarc" in pro["files"]
    )
    for s in (
        settings(other_conda_readers=(PRO,), condarc_locations=("install_root",)),
        settings(other_conda_readers=(dataclasses.replace(PRO, conda_version="4.5.11"),)),
    ):
        plan, _ = run(host, s, bundle_for(cas[0]))
        assert pro_file in plan["condarc_files"]
    assert "C:\\Pro\\bin\\Python\\conda-meta" not in str(observed_paths(settings()))
    assert observed_paths(settings(other_conda_readers=(PRO,))).conda_roots[-1] == PRO.prefix
