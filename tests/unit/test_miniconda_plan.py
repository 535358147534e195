"""Every decision of the miniconda role (plugins/module_utils/miniconda_plan.py), as plain Python."""

from __future__ import annotations

import re

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_plan as mp
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.miniconda_plan import PlanError, PlanInputs


def arcgis(ident, product, bits, py, version="10.4.1", status="ok", **extra):
    install = {
        "id": ident,
        "product": product,
        "version": version,
        "bits": bits,
        "python_major_minor": py,
        "python_exe": f"C:\\Python27\\{ident}\\python.exe",
        "prefix": f"C:\\Python27\\{ident}",
        "status": status,
    }
    install.update(extra)
    return install


DESKTOP = arcgis("desktop-10.4.1-32", "desktop", 32, "2.7")
BGP = arcgis("desktop_bgp-10.4.1-64", "desktop_bgp", 64, "2.7")
PRO = arcgis("pro-2.9-64", "pro", 64, "3.7", version="2.9")
SERVER_PY2 = arcgis("server-10.8.1-64", "server", 64, "2.7", version="10.8.1")
SERVER_PY3 = arcgis("server-11.1-64", "server", 64, "3.9", version="11.1")


def flavours_of(assignments):
    return [(a.flavour, a.arcgis_ids) for a in assignments]


# --- Flavour choice ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("install", "expected"),
    [
        (DESKTOP, "miniconda2-x86"),
        (BGP, "miniconda2-x64"),
        (PRO, "miniconda3-x64"),
        (SERVER_PY2, "miniconda2-x64"),
        (SERVER_PY3, "miniconda3-x64"),
    ],
)
def test_flavour_follows_python_version_and_bits(install, expected):
    assert mp.natural_flavour(install) == (expected, [])


@pytest.mark.parametrize(
    ("install", "expected"),
    [
        (arcgis("d", "desktop", 32, None, status="broken"), "miniconda2-x86"),
        (arcgis("b", "desktop_bgp", 64, None, status="broken"), "miniconda2-x64"),
        (arcgis("p", "pro", 64, None, status="broken"), "miniconda3-x64"),
        (arcgis("s", "server", 64, None, version="10.8.1", status="broken"), "miniconda2-x64"),
        (arcgis("s", "server", 64, None, version="10.9", status="broken"), "miniconda3-x64"),
        (arcgis("s", "server", 64, None, version="11.3", status="broken"), "miniconda3-x64"),
        (arcgis("d", "desktop", None, None, status="broken"), "miniconda2-x86"),
    ],
)
def test_broken_python_falls_back_to_the_product_with_a_warning(install, expected):
    flavour, warnings = mp.natural_flavour(install)
    assert flavour == expected
    assert warnings == [
        f"ArcGIS install {install['id']!r}: its Python did not answer; flavour {expected} chosen from its "
        f"product {install['product']!r}."
    ]


def test_broken_python_of_unknown_product_cannot_be_decided():
    with pytest.raises(PlanError, match=r"has no Python version .* unknown product 'mystery'"):
        mp.natural_flavour(arcgis("m-1-64", "mystery", 64, None, status="broken"))


def test_python_26_is_served_by_miniconda2_with_a_free_channel_warning():
    flavour, warnings = mp.natural_flavour(arcgis("desktop-10.0-32", "desktop", 32, "2.6"))
    assert flavour == "miniconda2-x86"
    assert "will need the old `free` channel" in warnings[0]


def test_bad_bits_and_python_4_are_refused():
    with pytest.raises(PlanError, match=r"bits = 16; expected 32 or 64"):
        mp.natural_flavour(arcgis("x", "desktop", 16, "2.7"))
    with pytest.raises(PlanError, match=r"reports Python '4.0'; only Python 2 and 3"):
        mp.natural_flavour(arcgis("x", "pro", 64, "4.0"))


def test_desktop_and_pro_get_both_flavours_in_flavour_order():
    assignments, warnings = mp.choose_flavours([PRO, DESKTOP])
    assert flavours_of(assignments) == [
        ("miniconda2-x86", [DESKTOP["id"]]),
        ("miniconda3-x64", [PRO["id"]]),
    ]
    assert warnings == []


def test_background_geoprocessing_gets_its_own_64_bit_miniconda2():
    assignments, _ = mp.choose_flavours([DESKTOP, BGP])
    assert flavours_of(assignments) == [
        ("miniconda2-x86", [DESKTOP["id"]]),
        ("miniconda2-x64", [BGP["id"]]),
    ]


def test_installs_of_one_flavour_share_it():
    assignments, _ = mp.choose_flavours([BGP, SERVER_PY2, PRO, SERVER_PY3])
    assert flavours_of(assignments) == [
        ("miniconda2-x64", [BGP["id"], SERVER_PY2["id"]]),
        ("miniconda3-x64", [PRO["id"], SERVER_PY3["id"]]),
    ]


def test_empty_probe_means_nothing_to_install():
    assert mp.choose_flavours([]) == ([], [])


def test_no_probe_needs_explicit_flavours():
    with pytest.raises(PlanError) as exc:
        mp.choose_flavours(None)
    assert str(exc.value) == (
        "no ArcGIS probe ran (ansible_facts.arcgis is undefined) and miniconda_flavours is empty, so there "
        "is nothing to decide from. Fix: run arcgis_conda.fleet.arcgis_facts first (site.yml does), or set "
        "miniconda_flavours, e.g. [miniconda2-x86]."
    )


def test_no_probe_uses_the_explicit_flavours_in_flavour_order():
    assignments, warnings = mp.choose_flavours(None, ["miniconda3-x64", "miniconda2-x86"], {"pro": "none"})
    assert flavours_of(assignments) == [("miniconda2-x86", []), ("miniconda3-x64", [])]
    assert warnings == ["miniconda_flavour_overrides ignored: no ArcGIS probe ran on this host."]


def test_explicit_flavours_replace_the_automatic_choice():
    assignments, warnings = mp.choose_flavours([DESKTOP, PRO], ["miniconda2-x86", "miniconda2-x64"])
    assert flavours_of(assignments) == [("miniconda2-x86", [DESKTOP["id"]]), ("miniconda2-x64", [])]
    assert warnings == [
        f"ArcGIS install {PRO['id']!r} needs miniconda3-x64, which miniconda_flavours leaves out; it gets no "
        "Miniconda."
    ]


def test_unknown_flavour_is_refused_with_the_allowed_ones():
    with pytest.raises(PlanError) as exc:
        mp.choose_flavours(None, ["miniconda4-x64"])
    assert str(exc.value) == (
        "miniconda_flavours = 'miniconda4-x64' is not a Miniconda flavour. Fix: use one of miniconda2-x86, "
        "miniconda2-x64, miniconda3-x86, miniconda3-x64."
    )


def test_override_none_by_product_and_id_leaves_installs_out():
    assignments, warnings = mp.choose_flavours([DESKTOP, BGP, PRO], overrides={"desktop_bgp": "none"})
    assert flavours_of(assignments) == [("miniconda2-x86", [DESKTOP["id"]]), ("miniconda3-x64", [PRO["id"]])]
    assert warnings == [f"ArcGIS install {BGP['id']!r} left without Miniconda (miniconda_flavour_overrides)."]
    assignments, _ = mp.choose_flavours([DESKTOP, PRO], overrides={PRO["id"]: "none"})
    assert flavours_of(assignments) == [("miniconda2-x86", [DESKTOP["id"]])]


def test_override_by_id_wins_over_product():
    assignments, _ = mp.choose_flavours([PRO], overrides={"pro": "none", PRO["id"]: "miniconda3-x64"})
    assert flavours_of(assignments) == [("miniconda3-x64", [PRO["id"]])]


def test_override_that_mismatches_the_python_is_refused():
    with pytest.raises(PlanError) as exc:
        mp.choose_flavours([BGP], overrides={"desktop_bgp": "miniconda2-x86"})
    assert str(exc.value) == (
        f"miniconda_flavour_overrides gives ArcGIS install {BGP['id']!r} flavour 'miniconda2-x86', but its "
        "Python is 2.7 64-bit, which needs 'miniconda2-x64': an env of another Python or bitness cannot load "
        f"into it. Fix: use 'miniconda2-x64' or none for {BGP['id']!r}."
    )


def test_override_decides_for_a_broken_install_of_unknown_product():
    broken = arcgis("m-1-64", "mystery", 64, None, status="broken")
    assignments, _ = mp.choose_flavours([broken], overrides={"m-1-64": "miniconda3-x64"})
    assert flavours_of(assignments) == [("miniconda3-x64", ["m-1-64"])]


def test_override_with_unknown_flavour_or_unmatched_key():
    with pytest.raises(PlanError, match=r"miniconda_flavour_overrides\['pro'\] = 'conda' is not a"):
        mp.choose_flavours([PRO], overrides={"pro": "conda"})
    _, warnings = mp.choose_flavours([PRO], overrides={"server": "none"})
    assert warnings == ["miniconda_flavour_overrides key 'server' matches no ArcGIS install here."]


def test_probe_that_is_not_a_list_is_refused():
    with pytest.raises(PlanError, match=r"ansible_facts.arcgis = 'oops' is not a list"):
        mp.choose_flavours("oops")


# --- Windows bitness -----------------------------------------------------------------------------------


def test_64_bit_flavour_on_32_bit_windows_is_refused():
    with pytest.raises(PlanError) as exc:
        mp.check_os_bits(["miniconda2-x86", "miniconda3-x64"], 32)
    assert str(exc.value) == (
        "flavour miniconda3-x64 is 64-bit but this Windows is 32-bit. Fix: use miniconda3-x86 (set "
        "miniconda_flavours or miniconda_flavour_overrides), or leave that ArcGIS install out with none."
    )
    mp.check_os_bits(["miniconda2-x86", "miniconda3-x64"], 64)
    mp.check_os_bits(["miniconda2-x86", "miniconda3-x86"], 32)


@pytest.mark.parametrize(
    ("value", "bits"),
    [("x86_64", 64), ("AMD64", 64), ("ARM64", 64), ("i386", 32), ("x86", 32), ("64-bit", 64)],
)
def test_os_bits_from_facts_or_registry(value, bits):
    assert mp.os_bits_from(value) == bits


def test_os_bits_unknown_value_is_an_error():
    with pytest.raises(PlanError, match=r"cannot tell whether Windows is 32- or 64-bit from 'sparc'"):
        mp.os_bits_from("sparc")


# --- Prefixes ------------------------------------------------------------------------------------------


def test_prefix_normalization_drops_trailing_backslash_and_turns_slashes():
    assert mp.check_prefix("C:\\Miniconda2\\", "p") == ("C:\\Miniconda2", [])
    assert mp.check_prefix("D:/Tools/Miniconda3/", "p") == ("D:\\Tools\\Miniconda3", [])
    assert mp.check_prefix("C:\\\\Tools\\\\Miniconda3", "p") == ("C:\\Tools\\Miniconda3", [])
    assert mp.normalize_windows_path("\\\\fs01\\\\sw\\") == "\\\\fs01\\sw"


def test_prefix_with_spaces_is_refused():
    with pytest.raises(PlanError) as exc:
        mp.check_prefix("C:\\Program Files\\Miniconda2", "miniconda_prefixes['miniconda2-x86']")
    assert str(exc.value) == (
        "miniconda_prefixes['miniconda2-x86'] = 'C:\\\\Program Files\\\\Miniconda2' contains a space: "
        "the silent installer then leaves an incomplete install and still exits 0 "
        "(ContinuumIO/anaconda-issues#225). Fix: use a short absolute path on a local drive, "
        "e.g. C:\\Miniconda2."
    )


def test_prefix_length_limit_is_100_characters():
    ok = "C:\\" + "a" * 97
    assert len(ok) == 100
    assert mp.check_prefix(ok, "p")[0] == ok
    too_long = ok + "b"
    with pytest.raises(PlanError) as exc:
        mp.check_prefix(too_long, "p")
    assert str(exc.value).startswith(f"p = {too_long!r} is 101 characters long; from about 118 the installer")
    with pytest.raises(PlanError, match=r"is 118 characters long"):
        mp.check_prefix("C:\\" + "c" * 115, "p")


def test_prefix_longer_than_46_characters_warns():
    path = "C:\\" + "x" * 44
    assert len(path) == 47
    _, warnings = mp.check_prefix(path, "p")
    assert warnings and "longer than 46 characters" in warnings[0]


@pytest.mark.parametrize(
    "raw",
    [
        "Miniconda2",
        "%UserProfile%\\Miniconda2",
        "\\\\server\\share\\Miniconda2",
        "C:\\",
        "C:Miniconda",
        "~\\m",
    ],
)
def test_prefix_must_be_absolute_on_a_drive(raw):
    with pytest.raises(PlanError, match=r"is not an absolute path on a drive"):
        mp.check_prefix(raw, "p")


@pytest.mark.parametrize("raw", ["C:\\Mini=conda", "C:\\Mini,conda", "C:\\Mini!conda", "C:\\a^b", "C:\\a;b"])
def test_prefix_characters_the_installer_refuses(raw):
    with pytest.raises(PlanError, match=r"which the installer refuses"):
        mp.check_prefix(raw, "p")


def test_prefix_must_be_ascii_and_not_empty():
    with pytest.raises(PlanError, match=r"is not plain ASCII"):
        mp.check_prefix("C:\\Minicondä", "p")
    with pytest.raises(PlanError, match=r"is empty"):
        mp.check_prefix("  ", "p")


def test_default_prefixes_are_valid_and_distinct():
    prefixes, warnings = mp.resolve_prefixes({})
    assert prefixes == mp.DEFAULT_PREFIXES
    assert warnings == []
    mp.check_prefix_conflicts(prefixes, [DESKTOP, BGP, PRO])


def test_prefixes_may_not_nest_or_repeat_in_any_case():
    with pytest.raises(PlanError, match=r"one inside the other"):
        mp.check_prefix_conflicts({"miniconda2-x86": "C:\\Conda", "miniconda3-x64": "C:\\conda\\three"}, [])
    with pytest.raises(PlanError, match=r"one inside the other"):
        mp.check_prefix_conflicts({"miniconda2-x86": "C:\\Conda", "miniconda3-x64": "c:\\CONDA"}, [])
    mp.check_prefix_conflicts({"miniconda2-x86": "C:\\Conda2", "miniconda3-x64": "C:\\Conda"}, [])


def test_prefix_may_not_overlap_arcgis():
    desktop = dict(DESKTOP, install_dir="C:\\ArcGIS\\Desktop10.4\\")
    with pytest.raises(PlanError) as exc:
        mp.check_prefix_conflicts({"miniconda2-x86": "C:\\ArcGIS"}, [desktop])
    expected = "overlaps ArcGIS install 'desktop-10.4.1-32' (install_dir C:\\ArcGIS\\Desktop10.4)"
    assert expected in str(exc.value)
    with pytest.raises(PlanError, match=r"\(prefix C:\\Python27\\desktop-10.4.1-32\)"):
        mp.check_prefix_conflicts({"miniconda2-x86": "C:\\Python27\\desktop-10.4.1-32\\conda"}, [DESKTOP])


def test_prefixes_reject_unknown_flavour_keys():
    with pytest.raises(PlanError, match=r"miniconda_prefixes key = 'miniconda2' is not a Miniconda flavour"):
        mp.resolve_prefixes({"miniconda2": "C:\\M2"})


def test_download_dir_must_be_specific_because_absent_deletes_it():
    assert mp.check_download_dir("C:\\ProgramData\\arcgis-conda\\installers\\") == mp.DEFAULT_DOWNLOAD_DIR
    for raw in ("C:\\", "C:\\Temp", "installers", ""):
        with pytest.raises(PlanError, match=r"miniconda_download_dir"):
            mp.check_download_dir(raw)


# --- Installer table and checksum choice ---------------------------------------------------------------


def test_table_rows_are_well_formed():
    seen = set()
    for row in mp.INSTALLERS:
        spec = mp.FLAVOURS[row.flavour]
        assert row.file.startswith(spec.product + "-") and row.file.endswith(spec.file_suffix), row
        assert row.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", row.sha256), row
        assert (row.sha256 is None) == row.source.startswith("unverified"), row
        assert (row.flavour, row.version) not in seen
        seen.add((row.flavour, row.version))


def test_every_default_version_is_a_verified_table_row():
    for flavour, version in mp.DEFAULT_VERSIONS.items():
        row = mp.lookup_installer(flavour, version)
        assert row is not None and row.sha256 is not None, flavour


def test_32_bit_miniconda3_stops_at_4_12_and_miniconda2_at_4_8_3():
    assert mp.known_versions("miniconda3-x86") == ["4.12.0"]
    assert mp.DEFAULT_VERSIONS["miniconda2-x86"] == "4.8.3" == mp.DEFAULT_VERSIONS["miniconda2-x64"]


def test_default_installer_uses_the_table_checksum():
    chosen = mp.choose_installer("miniconda2-x86")
    assert chosen == mp.ChosenInstaller(
        "Miniconda2-py27_4.8.3-Windows-x86.exe",
        "4.8.3",
        "c8049d26f8b6b954b57bcd4e99ad72d1ffa13f4a6b218e64e641504437b2617b",
        "table",
        "2.7",
    )


def test_other_known_version_and_matching_checksum_in_any_case():
    row = mp.lookup_installer("miniconda3-x64", "4.12.0")
    chosen = mp.choose_installer("miniconda3-x64", "4.12.0", checksum=row.sha256.upper())
    assert (chosen.file, chosen.checksum_source, chosen.python_major_minor) == (row.file, "table", "3.9")


def test_checksum_contradicting_the_table_is_refused():
    with pytest.raises(PlanError) as exc:
        mp.choose_installer("miniconda2-x86", checksum="0" * 64)
    assert str(exc.value).startswith(
        "miniconda_checksums['miniconda2-x86'] = " + "0" * 64 + " differs from the SHA-256 Anaconda "
        "publishes for Miniconda2-py27_4.8.3-Windows-x86.exe (c8049d26"
    )


def test_unverified_row_requires_the_checksum_variable():
    with pytest.raises(PlanError) as exc:
        mp.choose_installer("miniconda3-x64", "24.5.0-0")
    assert str(exc.value) == (
        "installer Miniconda3-py312_24.5.0-0-Windows-x86_64.exe for miniconda3-x64 cannot be verified: its "
        "SHA-256 is unverified in the role's table. Fix: set miniconda_checksums['miniconda3-x64'] to the "
        "SHA-256 listed for it at https://repo.anaconda.com/miniconda/ (never a value computed from an "
        "unchecked download)."
    )
    chosen = mp.choose_installer("miniconda3-x64", "24.5.0-0", checksum="AB" * 32)
    assert (chosen.sha256, chosen.checksum_source) == ("ab" * 32, "variable")
    assert chosen.python_major_minor == "3.12"


def test_unknown_version_lists_the_known_ones():
    with pytest.raises(PlanError, match=r"'4.9.2' is not in the role's table .* \(known: 4.12.0, 23.5.2-0"):
        mp.choose_installer("miniconda3-x64", "4.9.2")


def test_custom_file_needs_a_checksum_and_the_right_flavour():
    file = "Miniconda3-py310_22.11.1-1-Windows-x86_64.exe"
    with pytest.raises(PlanError, match=r"cannot be verified: it is not in the role's table"):
        mp.choose_installer("miniconda3-x64", installer_file=file)
    chosen = mp.choose_installer("miniconda3-x64", installer_file=file, checksum="1" * 64)
    assert (chosen.file, chosen.version, chosen.python_major_minor) == (file, "custom", "3.10")
    with pytest.raises(PlanError, match=r"is not a Miniconda3 x86 installer"):
        mp.choose_installer("miniconda3-x86", installer_file=file, checksum="1" * 64)
    with pytest.raises(PlanError, match=r"must be a bare .exe file name"):
        mp.choose_installer("miniconda3-x64", installer_file="https://x/" + file, checksum="1" * 64)


def test_custom_file_that_is_in_the_table_uses_the_table():
    chosen = mp.choose_installer("miniconda2-x64", installer_file="Miniconda2-4.7.12.1-Windows-x86_64.exe")
    assert (chosen.version, chosen.checksum_source) == ("4.7.12.1", "table")


@pytest.mark.parametrize(
    "file",
    [
        "Miniconda2-4.3.21-Windows-x86.exe",
        "Miniconda2-4.0.5-Windows-x86.exe",
        "Miniconda2-3.19.0-Windows-x86.exe",
    ],
)
def test_installers_older_than_miniconda_4_4_are_refused(file):
    """constructor < 2.0 ignores /AddToPath=0 and /RegisterPython=0 (see SILENT_OPTIONS_SINCE)."""
    with pytest.raises(PlanError) as err:
        mp.choose_installer("miniconda2-x86", installer_file=file, checksum="1" * 64)
    text = str(err.value)
    assert text.startswith(f"miniconda_installer_files['miniconda2-x86'] = '{file}' is Miniconda ")
    assert "constructor < 2.0" in text and "/AddToPath=0" in text and "system PATH" in text
    assert "Fix: remove the entry to use the role's installer (Miniconda 4.8.3)" in text


def test_installers_from_miniconda_4_4_on_are_accepted():
    for file in ("Miniconda2-4.4.10-Windows-x86.exe", "Miniconda2-latest-Windows-x86.exe"):
        chosen = mp.choose_installer("miniconda2-x86", installer_file=file, checksum="1" * 64)
        assert chosen.file == file
    old3 = "Miniconda3-4.3.31-Windows-x86_64.exe"
    with pytest.raises(PlanError, match=r"is Miniconda 4.3.31, made with constructor < 2.0"):
        mp.choose_installer("miniconda3-x64", installer_file=old3, checksum="1" * 64)


@pytest.mark.parametrize("bad", ["abc", "g" * 64, "0" * 63, "sha256:" + "0" * 64])
def test_checksum_must_be_64_hex_characters(bad):
    with pytest.raises(PlanError, match=r"is not a SHA-256 \(64 hexadecimal characters\)"):
        mp.choose_installer("miniconda2-x86", checksum=bad)


# --- Installer command line ----------------------------------------------------------------------------


def test_arguments_spell_out_every_default_and_end_with_unquoted_d():
    args = mp.installer_arguments("C:\\Miniconda2")
    assert args == [
        "/InstallationType=AllUsers",
        "/RegisterPython=0",
        "/AddToPath=0",
        "/S",
        "/D=C:\\Miniconda2",
    ]
    assert args[-1].startswith("/D=") and '"' not in " ".join(args)


# --- Sources -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind", "base"),
    [
        ("https://repo.anaconda.com/miniconda", "url", "https://repo.anaconda.com/miniconda/"),
        ("http://mirror.lab/miniconda/", "url", "http://mirror.lab/miniconda/"),
        ("\\\\fs01\\software\\miniconda\\", "host_path", "\\\\fs01\\software\\miniconda"),
        ("D:\\installers", "host_path", "D:\\installers"),
        ("/srv/installers/miniconda/", "controller", "/srv/installers/miniconda"),
    ],
)
def test_source_kinds(raw, kind, base):
    assert mp.classify_source(raw) == (kind, base)


def test_source_that_is_none_of_them_is_refused():
    with pytest.raises(PlanError, match=r"is neither a URL, a Windows folder or UNC share"):
        mp.classify_source("ftp.lab/miniconda")


def test_installer_location_per_kind():
    file = "Miniconda2-py27_4.8.3-Windows-x86.exe"
    assert mp.installer_location("url", "https://m/x/", file) == "https://m/x/" + file
    assert mp.installer_location("host_path", "\\\\fs\\sw", file) == "\\\\fs\\sw\\" + file
    assert mp.installer_location("controller", "/srv/i", file) == "/srv/i/" + file


def test_fetch_url_only_with_a_controller_source():
    assert mp.check_fetch_url("", "url") is None
    assert mp.check_fetch_url("https://repo.anaconda.com/miniconda", "controller") == (
        "https://repo.anaconda.com/miniconda/"
    )
    with pytest.raises(PlanError, match=r"only applies when miniconda_source is a controller folder"):
        mp.check_fetch_url("https://x/", "url")
    with pytest.raises(PlanError, match=r"is not a URL"):
        mp.check_fetch_url("/srv/x", "controller")


# --- Condarc -------------------------------------------------------------------------------------------


def test_condarc_defaults_restore_free_after_main():
    assert mp.condarc_settings() == {
        "channels": ["defaults"],
        "default_channels": [
            "https://repo.anaconda.com/pkgs/main",
            "https://repo.anaconda.com/pkgs/free",
            "https://repo.anaconda.com/pkgs/r",
            "https://repo.anaconda.com/pkgs/msys2",
        ],
        "remote_max_retries": 5,
        "remote_connect_timeout_secs": 30.0,
        "remote_read_timeout_secs": 120.0,
    }


def test_condarc_mirror_proxy_and_no_free_channel():
    settings = mp.condarc_settings(
        channels=["defaults", "conda-forge"],
        mirror="https://conda.lab.example.org/",
        free_channel=False,
        proxy="http://proxy.lab:8080/",
        extra={"channel_alias": "https://conda.lab.example.org/conda"},
    )
    assert settings["channels"] == ["defaults", "conda-forge"]
    assert settings["default_channels"] == [
        "https://conda.lab.example.org/pkgs/main",
        "https://conda.lab.example.org/pkgs/r",
        "https://conda.lab.example.org/pkgs/msys2",
    ]
    assert settings["proxy_servers"] == {"http": "http://proxy.lab:8080", "https": "http://proxy.lab:8080"}
    assert settings["channel_alias"] == "https://conda.lab.example.org/conda"


def test_condarc_explicit_default_channels_win():
    settings = mp.condarc_settings(explicit_default_channels=["file:///D:/channel", "https://m/pkgs/main/"])
    assert settings["default_channels"] == ["file:///D:/channel", "https://m/pkgs/main"]


def test_condarc_refuses_ssl_keys_which_belong_to_doi_cert():
    with pytest.raises(PlanError) as exc:
        mp.condarc_settings(extra={"ssl_verify": "C:\\certs\\doi.pem"})
    assert str(exc.value) == (
        "miniconda_condarc_extra sets 'ssl_verify': SSL settings belong to the doi_cert role, in its own "
        "file under C:\\ProgramData\\conda\\condarc.d. Fix: remove it here and configure doi_cert."
    )


def test_condarc_refuses_managed_keys_in_extra_and_bad_values():
    with pytest.raises(PlanError, match=r"key 'Channel Alias' is not a conda setting name"):
        mp.condarc_settings(extra={"Channel Alias": "x"})
    with pytest.raises(PlanError, match=r"sets 'channels', which the role manages"):
        mp.condarc_settings(extra={"channels": ["x"]})
    with pytest.raises(PlanError, match=r"miniconda_proxy = 'proxy:8080' is not a URL"):
        mp.condarc_settings(proxy="proxy:8080")
    with pytest.raises(PlanError, match=r"miniconda_channel_mirror = 'mirror' is not a URL"):
        mp.condarc_settings(mirror="mirror")
    with pytest.raises(PlanError, match=r"miniconda_remote_max_retries = -1"):
        mp.condarc_settings(remote_max_retries=-1)
    with pytest.raises(PlanError, match=r"miniconda_remote_read_timeout_secs = 0"):
        mp.condarc_settings(remote_read_timeout_secs=0)
    with pytest.raises(PlanError, match=r"miniconda_channels"):
        mp.condarc_settings(channels=[])


def test_condarc_marker_detection():
    assert mp.condarc_is_managed(mp.CONDARC_MARKER + " Local edits are overwritten.\r\nchannels: []\r\n")
    assert mp.condarc_is_managed("\ufeff" + mp.CONDARC_MARKER + "\n")
    assert not mp.condarc_is_managed("channels:\n  - defaults\n" + mp.CONDARC_MARKER)
    assert not mp.condarc_is_managed("")
    assert not mp.condarc_is_managed(None)


def test_proxy_credentials_are_detected():
    assert mp.proxy_has_credentials("http://user:pw@proxy:8080")
    assert not mp.proxy_has_credentials("http://proxy:8080")
    assert not mp.proxy_has_credentials(None)


# --- Whole plans ---------------------------------------------------------------------------------------


def test_plan_for_desktop_and_pro():
    plan = mp.plan_miniconda(PlanInputs(arcgis=[DESKTOP, PRO]), os_bits=64)
    assert [i["flavour"] for i in plan["installs"]] == ["miniconda2-x86", "miniconda3-x64"]
    m2, m3 = plan["installs"]
    assert m2["arguments_string"] == (
        "/InstallationType=AllUsers /RegisterPython=0 /AddToPath=0 /S /D=C:\\Miniconda2"
    )
    assert m2["installer"] == {
        "file": "Miniconda2-py27_4.8.3-Windows-x86.exe",
        "sha256": "c8049d26f8b6b954b57bcd4e99ad72d1ffa13f4a6b218e64e641504437b2617b",
        "checksum_source": "table",
        "source_kind": "url",
        "source": "https://repo.anaconda.com/miniconda/Miniconda2-py27_4.8.3-Windows-x86.exe",
        "fetch_url": None,
        "source_label": "Anaconda's archive, licensed",
        "upstream": None,
        "dest": "C:\\ProgramData\\arcgis-conda\\installers\\Miniconda2-py27_4.8.3-Windows-x86.exe",
    }
    assert m3["conda_exe"] == "C:\\Miniconda3\\Scripts\\conda.exe"
    assert m3["expected_files"][-1] == "C:\\Miniconda3\\Uninstall-Miniconda3.exe"
    assert plan["published"] == [
        {
            "flavour": "miniconda2-x86",
            "prefix": "C:\\Miniconda2",
            "conda_exe": "C:\\Miniconda2\\Scripts\\conda.exe",
            "python_major_minor": "2.7",
            "bits": 32,
            "arcgis_ids": [DESKTOP["id"]],
        },
        {
            "flavour": "miniconda3-x64",
            "prefix": "C:\\Miniconda3",
            "conda_exe": "C:\\Miniconda3\\Scripts\\conda.exe",
            "python_major_minor": "3.11",
            "bits": 64,
            "arcgis_ids": [PRO["id"]],
        },
    ]
    assert plan["arcgis_pythons"] == [
        {"id": DESKTOP["id"], "python_exe": DESKTOP["python_exe"]},
        {"id": PRO["id"], "python_exe": PRO["python_exe"]},
    ]
    assert plan["condarc"]["path"] == "C:\\ProgramData\\conda\\.condarc"
    assert plan["condarc"]["dir"] == "C:\\ProgramData\\conda"
    assert plan["warnings"] == []


def test_plan_fails_before_anything_on_a_32_bit_host_with_pro():
    with pytest.raises(PlanError, match=r"flavour miniconda3-x64 is 64-bit but this Windows is 32-bit"):
        mp.plan_miniconda(PlanInputs(arcgis=[DESKTOP, PRO]), os_bits=32)


def test_plan_with_share_source_and_controller_source():
    plan = mp.plan_miniconda(PlanInputs(arcgis=[DESKTOP], source="\\\\fs01\\sw\\miniconda"), 64)
    assert plan["installs"][0]["installer"]["source"] == (
        "\\\\fs01\\sw\\miniconda\\Miniconda2-py27_4.8.3-Windows-x86.exe"
    )
    plan = mp.plan_miniconda(
        PlanInputs(
            arcgis=[DESKTOP],
            source="/srv/installers",
            controller_fetch_url="https://repo.anaconda.com/miniconda/",
        ),
        64,
    )
    installer = plan["installs"][0]["installer"]
    assert installer["source_kind"] == "controller"
    assert installer["source"] == "/srv/installers/Miniconda2-py27_4.8.3-Windows-x86.exe"
    assert (
        installer["fetch_url"] == "https://repo.anaconda.com/miniconda/Miniconda2-py27_4.8.3-Windows-x86.exe"
    )


def test_a_proxy_password_is_refused_unless_the_admin_accepts_every_user_can_read_it():
    """Issue 22 item 5: C:\\ProgramData\\conda\\.condarc is readable by every account."""
    with pytest.raises(PlanError) as err:
        mp.plan_miniconda(PlanInputs(arcgis=[DESKTOP], proxy="http://jdoe:s3cret@proxy:3128"), 64)
    message = str(err.value)
    assert "s3cret" not in message and "jdoe" not in message  # the refusal never prints the secret
    assert "miniconda_proxy_password_readable_by_users: true" in message and "~/.condarc" in message
    # Not planted in the condarc at all (manage_condarc false), or nothing installed (absent): no refusal.
    mp.plan_miniconda(PlanInputs(arcgis=[DESKTOP], proxy="http://u:p@proxy:3128", manage_condarc=False), 64)
    mp.plan_miniconda(PlanInputs(state="absent", proxy="http://u:p@proxy:3128"), None)


def test_plan_keeps_proxy_credentials_out_of_downloads_and_marks_them_secret():
    accepted = {"proxy_password_readable_by_users": True}
    plan = mp.plan_miniconda(PlanInputs(arcgis=[DESKTOP], proxy="http://u:p@proxy:3128", **accepted), 64)
    assert plan["download_proxy"] is None
    assert plan["condarc"]["secret"] is True
    plan = mp.plan_miniconda(PlanInputs(arcgis=[DESKTOP], proxy="http://proxy:3128"), 64)
    assert plan["download_proxy"] == "http://proxy:3128"
    assert plan["condarc"]["secret"] is False


def test_plan_without_condarc_management_has_no_settings():
    plan = mp.plan_miniconda(PlanInputs(arcgis=[DESKTOP], manage_condarc=False), 64)
    assert plan["condarc"]["manage"] is False
    assert "settings" not in plan["condarc"]


def test_plan_with_no_arcgis_warns_nothing_to_install():
    plan = mp.plan_miniconda(PlanInputs(arcgis=[]), 64)
    assert plan["installs"] == [] and plan["published"] == []
    assert plan["condarc"]["manage"] is False
    assert plan["warnings"] == ["no ArcGIS Python on this host needs a Miniconda: nothing to install."]


def test_absent_plan_looks_at_every_flavour_and_needs_no_probe():
    plan = mp.plan_miniconda(PlanInputs(state="absent", prefixes={"miniconda3-x64": "D:\\Conda3\\"}), None)
    assert [r["flavour"] for r in plan["removals"]] == list(mp.FLAVOURS)
    m3 = plan["removals"][-1]
    assert m3 == {
        "flavour": "miniconda3-x64",
        "label": "Miniconda3 x64 from D:\\Conda3",
        "prefix": "D:\\Conda3",
        "started": "C:\\ProgramData\\arcgis-conda\\installers\\miniconda3-x64.install-started.json",
        "marker": "D:\\Conda3\\.arcgis-conda-fleet",
        "uninstaller": "D:\\Conda3\\Uninstall-Miniconda3.exe",
        "uninstall_arguments": "/S _?=D:\\Conda3",
    }
    assert plan["installs"] == []
    # Every prefix where a Miniconda of ours may be is published, so arcgis_env's removal (which runs
    # before this role's) still finds each conda.exe.
    published = {p["flavour"]: p for p in plan["published"]}
    assert list(published) == list(mp.FLAVOURS)
    assert published["miniconda3-x64"]["conda_exe"] == "D:\\Conda3\\Scripts\\conda.exe"
    assert published["miniconda2-x86"]["bits"] == 32
    assert published["miniconda2-x86"]["python_major_minor"] == "2.7"


def test_plan_rejects_unknown_state_and_bad_keys():
    with pytest.raises(PlanError, match=r"miniconda_state = 'gone'"):
        mp.plan_miniconda(PlanInputs(state="gone", flavours=["miniconda2-x86"]), 64)
    with pytest.raises(PlanError, match=r"miniconda_checksums key = 'm2' is not a Miniconda flavour"):
        mp.plan_miniconda(PlanInputs(flavours=["miniconda2-x86"], checksums={"m2": "0" * 64}), 64)


# --- Judging results -----------------------------------------------------------------------------------


def _install():
    return mp.plan_miniconda(PlanInputs(flavours=["miniconda2-x86"]), 64)["installs"][0]


def test_complete_install_with_python2_conda_printing_to_stderr():
    install = _install()
    present = dict.fromkeys(install["expected_files"], True)
    verdict = mp.judge_install(install, present, 0, "\nconda 4.8.3\n", "ws01")
    assert verdict == {
        "ok": True,
        "flavour": "miniconda2-x86",
        "prefix": "C:\\Miniconda2",
        "conda_version": "4.8.3",
        "missing": [],
        "message": "",
    }


def test_incomplete_install_names_what_is_missing():
    install = _install()
    present = dict.fromkeys(install["expected_files"], False)
    present["C:\\Miniconda2\\Uninstall-Miniconda2.exe"] = True
    verdict = mp.judge_install(install, present, None, "", "ws01")
    assert verdict["ok"] is False
    assert verdict["missing"] == install["expected_files"][:-1]
    assert verdict["message"].startswith(
        "ws01: Miniconda2 x86 4.8.3 into C:\\Miniconda2 is incomplete: missing C:\\Miniconda2\\python.exe, "
        "C:\\Miniconda2\\Scripts\\conda.exe, C:\\Miniconda2\\condabin\\conda.bat, "
        "C:\\Miniconda2\\conda-meta\\history; C:\\Miniconda2\\Scripts\\conda.exe was not run."
    )


def test_conda_that_does_not_answer_is_incomplete_even_with_all_files():
    install = _install()
    present = dict.fromkeys(install["expected_files"], True)
    verdict = mp.judge_install(install, present, 1, "ImportError: No module named conda", "ws01")
    assert verdict["ok"] is False and verdict["missing"] == []
    assert "`C:\\Miniconda2\\Scripts\\conda.exe --version` exited 1 with 'ImportError" in verdict["message"]
    assert mp.judge_install(install, present, 0, "something else", "ws01")["ok"] is False


def test_checksum_problem_message():
    install = _install()
    assert mp.checksum_problem(install, install["installer"]["sha256"].upper(), "ws01") == ""
    message = mp.checksum_problem(install, "ff" * 32, "ws01")
    assert message.startswith(
        "ws01: installer C:\\ProgramData\\arcgis-conda\\installers\\Miniconda2-py27_4.8.3-Windows-x86.exe "
        "(from https://repo.anaconda.com/miniconda/Miniconda2-py27_4.8.3-Windows-x86.exe) has SHA-256 "
        + "ff"
        * 32
    )
    assert "nothing was installed" in message
