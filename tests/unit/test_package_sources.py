"""The licence-aware source policy: which source serves each installer and env, and what is refused."""

from __future__ import annotations

import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_plan as mp
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import package_sources as ps
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_spec import (
    EnvSettings,
    SpecError,
    plan_arcgis_env,
)

MAIN = "https://repo.anaconda.com/pkgs/main"
FREE = "https://repo.anaconda.com/pkgs/free"
DESKTOP = {
    "id": "desktop-10.4.1-32",
    "product": "desktop",
    "version": "10.4.1",
    "python_major_minor": "2.7",
    "python_version": "2.7.10",
    "bits": 32,
    "status": "ok",
    "packages": {"numpy": "1.9.2", "matplotlib": "1.4.3", "scipy": "0.15.1"},
}
PRO = {
    "id": "pro-3.3-64",
    "product": "pro",
    "version": "3.3",
    "python_major_minor": "3.11",
    "python_version": "3.11.8",
    "bits": 64,
    "status": "ok",
    "packages": {"numpy": "1.24.3", "matplotlib": "3.8.0", "scipy": "1.11.4"},
    "pro_conda_root": "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python",
    "python_exe": "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\envs\\arcgispro-py3\\python.exe",
}
M3 = {
    "flavour": "miniconda3-x64",
    "prefix": "C:\\Miniconda3",
    "conda_exe": "C:\\Miniconda3\\Scripts\\conda.exe",
}
M3.update(bits=64, python_major_minor="3.11", arcgis_ids=[])
M2 = {
    "flavour": "miniconda2-x86",
    "prefix": "C:\\Miniconda2",
    "conda_exe": "C:\\Miniconda2\\Scripts\\conda.exe",
}
M2.update(bits=32, python_major_minor="2.7", arcgis_ids=[])


def policy(licence: str = "licensed", mirror: str = "") -> ps.Policy:
    return ps.Policy.from_args(licence, mirror)


def source(p: ps.Policy, python: str, bits: int, clone: bool = False, **kw) -> ps.EnvSource:
    anaconda = (FREE, MAIN) if python == "2.7" else (MAIN,)
    return ps.env_source(p, python, bits, clone=clone, anaconda_channels=anaconda, who="ArcGIS X", **kw)


@pytest.mark.parametrize(
    ("licence", "python", "bits", "expected", "required"),
    [
        ("licensed", "2.7", 32, (FREE, MAIN), True),
        ("licensed", "2.7", 64, (FREE, MAIN), True),
        ("licensed", "3.11", 64, (MAIN,), True),
        ("not_licensed", "3.11", 64, (ps.CONDA_FORGE,), False),
        ("not_licensed", "3.7", 64, (ps.CONDA_FORGE,), False),
    ],
)
def test_each_stack_gets_the_source_the_policy_allows(licence, python, bits, expected, required):
    got = source(policy(licence), python, bits)
    assert got.host_channels == expected == got.upstream
    assert got.licence_required is required
    assert got.controller_map == {}


@pytest.mark.parametrize(("python", "bits", "why"), [("2.7", 32, "32-bit"), ("2.7", 64, "Python 2.7")])
def test_a_stack_only_anaconda_carries_is_refused_without_a_licence(python, bits, why):
    with pytest.raises(ps.SourceError) as err:
        source(policy("not_licensed"), python, bits)
    message = str(err.value)
    assert "ArcGIS X" in message and why in message
    assert (
        "fleet_anaconda_channels is not_licensed" in message and "Fix: set fleet_anaconda_channels" in message
    )


def test_custom_channels_on_anaconda_are_refused_without_a_licence():
    with pytest.raises(ps.SourceError, match="arcgis_env_channels lists Anaconda's"):
        source(policy("not_licensed"), "3.11", 64, custom=(MAIN,))
    mine = "https://conda.agency.example/forge"
    assert source(policy("not_licensed"), "3.11", 64, custom=(mine,)).host_channels == (mine,)


def test_pro_clone_takes_esris_channel_first():
    assert source(policy(), "3.11", 64, clone=True).host_channels == (ps.ESRI, MAIN)
    assert source(policy("not_licensed"), "3.11", 64, clone=True).host_channels == (ps.ESRI, ps.CONDA_FORGE)


def test_with_a_mirror_hosts_get_only_mirror_channels_and_the_controller_the_upstream():
    p = policy("mirror_only", "https://mirror.example/conda/")
    got = source(p, "2.7", 32)
    assert got.host_channels == (
        "https://mirror.example/conda/pkgs/free",
        "https://mirror.example/conda/pkgs/main",
    )
    assert got.controller_map == dict(zip(got.host_channels, (FREE, MAIN), strict=True))
    clone = source(p, "3.11", 64, clone=True)
    assert clone.host_channels == (
        "https://mirror.example/conda/esri",
        "https://mirror.example/conda/pkgs/main",
    )
    assert "through the mirror" in clone.label
    url = "https://mirror.example/conda/pkgs/free/win-32/python-2.7.10-0.tar.bz2"
    assert ps.upstream_url(url, got.controller_map) == FREE + "/win-32/python-2.7.10-0.tar.bz2"


def test_mirror_forms_and_mirror_only_without_a_mirror():
    assert ps.mirror_url("\\\\files01\\conda mirror\\") == "file://files01/conda%20mirror"
    assert ps.is_share(ps.mirror_url("\\\\files01\\conda"))
    assert ps.mirror_url("D:\\mirror") == "file:///D:/mirror" and not ps.is_share("file:///D:/mirror")
    assert not ps.is_share("https://m.example")
    with pytest.raises(ps.SourceError, match="mirror_only needs fleet_package_mirror"):
        policy("mirror_only")
    with pytest.raises(ps.SourceError, match="must be one of"):
        policy("maybe")
    with pytest.raises(ps.SourceError, match="neither a URL"):
        policy("licensed", "mirror/relative")


def test_installers_under_each_policy():
    official = mp.OFFICIAL_ARCHIVE
    got = ps.installer_source(policy(), "miniconda2-x86", "url", official)
    assert (got.kind, got.base, got.upstream) == ("url", official, "")
    with pytest.raises(ps.SourceError, match=r"Anaconda's archive .* not_licensed"):
        ps.installer_source(policy("not_licensed"), "miniconda3-x64", "url", official, who="h")
    with pytest.raises(ps.SourceError, match=r"Anaconda's archive .* not_licensed"):
        ps.installer_source(policy("not_licensed", "https://m.example/c"), "miniconda3-x64", "url", official)
    own = ps.installer_source(policy("not_licensed"), "miniconda3-x64", "host_path", "\\\\s\\i")
    assert own.base == "\\\\s\\i"
    web = ps.installer_source(policy("mirror_only", "https://m.example/c"), "m", "url", official)
    assert (web.kind, web.base, web.upstream) == ("url", "https://m.example/c/installers/", official)
    mine = ps.installer_source(policy("licensed", "https://m.example/c"), "m", "url", "https://x.example/")
    assert mine.upstream == "https://x.example/"
    unc = "\\\\files01\\conda"
    share = ps.installer_source(policy("licensed", unc), "m", "url", official, unc)
    assert (share.kind, share.base) == ("host_path", "\\\\files01\\conda\\installers")
    with pytest.raises(ps.SourceError, match="is not in the mirror"):
        ps.installer_source(policy("mirror_only", unc), "m", "host_path", "\\\\x\\i", unc)


def test_condarc_channels():
    assert ps.condarc_channels(policy(), ["defaults"], [MAIN, FREE]) is None
    free = ps.condarc_channels(policy("not_licensed"), ["defaults"], [MAIN, FREE])
    assert free.channels == free.default_channels == [ps.CONDA_FORGE] and free.extra == {}
    mirrored = ps.condarc_channels(policy("mirror_only", "https://m.example/c"), ["defaults"], [MAIN, FREE])
    assert mirrored.channels == ["defaults"]
    assert mirrored.default_channels == ["https://m.example/c/pkgs/main", "https://m.example/c/pkgs/free"]
    assert mirrored.extra == {"channel_alias": "https://m.example/c"}


def test_miniconda_plan_follows_the_policy():
    plan = mp.plan_miniconda(
        mp.PlanInputs(arcgis=[DESKTOP], anaconda="mirror_only", mirror="https://m.example/c"), 64
    )
    installer = plan["installs"][0]["installer"]
    assert installer["source"] == "https://m.example/c/installers/Miniconda2-py27_4.8.3-Windows-x86.exe"
    assert installer["upstream"] == mp.OFFICIAL_ARCHIVE + "Miniconda2-py27_4.8.3-Windows-x86.exe"
    settings = plan["condarc"]["settings"]
    assert all(c.startswith("https://m.example/c/") for c in settings["default_channels"])
    assert settings["channel_alias"] == "https://m.example/c"
    with pytest.raises(mp.PlanError, match=r"Miniconda2 x86 for desktop-10.4.1-32.*not_licensed"):
        mp.plan_miniconda(mp.PlanInputs(arcgis=[DESKTOP], anaconda="not_licensed"), 64)


def test_env_plans_name_their_sources_and_refuse_what_is_not_allowed():
    settings = EnvSettings(anaconda="not_licensed", pro_mode="conda")
    planned, _ = plan_arcgis_env("pc1", [PRO], [M3], settings)
    plan, spec = planned[0]
    assert plan.channels == spec.channels == (ps.CONDA_FORGE,)
    assert plan.source_label == "conda-forge, licence-free"
    with pytest.raises(SpecError, match=r"ArcGIS desktop 10.4.1 .*32-bit.*not_licensed"):
        plan_arcgis_env("pc1", [DESKTOP], [M2], settings)
    mirrored = EnvSettings(anaconda="licensed", mirror="\\\\files01\\conda")
    ((clone, clone_spec),) = plan_arcgis_env("pc1", [PRO], [M3], mirrored)[0]
    assert clone.kind == "pro_clone" and clone.channels == (
        "file://files01/conda/esri",
        "file://files01/conda/pkgs/main",
    )
    assert clone_spec is not None and clone_spec.channels == clone.channels  # solved so the mirror holds it
    assert (
        plan_arcgis_env("pc1", [PRO], [M3], EnvSettings())[0][0][1] is None
    )  # no mirror: the clone is not locked


def test_share_reads_are_marked_for_the_double_hop():
    changes = [
        {"role": "arcgis_env", "step": "command", "item": {"argv": ["conda"]}},
        {"role": "miniconda", "step": "command", "item": {"argv": ["x"]}},
    ]
    assert ps.mark_share_reads(changes, "https://m.example") == 0
    assert ps.mark_share_reads(changes, "file://files01/conda") == 1
    assert changes[0]["item"]["share_read"] is True and "share_read" not in changes[1]["item"]


def test_not_licensed_pro_takes_miniforge_given_by_file_and_checksum():
    file = "Miniforge3-24.3.0-0-Windows-x86_64.exe"
    sha = "ab" * 32
    inputs = mp.PlanInputs(
        arcgis=[PRO],
        anaconda="not_licensed",
        source=mp.MINIFORGE_RELEASES + "24.3.0-0/",
        installer_files={"miniconda3-x64": file},
        checksums={"miniconda3-x64": sha},
    )
    (install,) = mp.plan_miniconda(inputs, 64)["installs"]
    assert install["label"] == "Miniforge3 x64 custom into C:\\Miniconda3"
    assert install["installer"]["source"] == mp.MINIFORGE_RELEASES + "24.3.0-0/" + file
    assert (
        install["installer"]["sha256"] == sha and install["installer"]["source_label"] == "miniconda_source"
    )
    assert "C:\\Miniconda3\\Uninstall-Miniforge3.exe" in install["expected_files"]
    with pytest.raises(mp.PlanError, match="Miniforge3"):  # the fix names it
        mp.plan_miniconda(mp.PlanInputs(arcgis=[PRO], anaconda="not_licensed"), 64)
    with pytest.raises(mp.PlanError, match="is not a Miniconda2 x86 installer"):
        mp.choose_installer("miniconda2-x86", installer_file="Miniforge3-1-Windows-x86.exe", checksum=sha)
    absent = mp.plan_miniconda(mp.PlanInputs(state="absent", installer_files={"miniconda3-x64": file}), 64)
    assert {r["uninstaller"] for r in absent["removals"]} >= {"C:\\Miniconda3\\Uninstall-Miniforge3.exe"}


def test_the_licence_has_no_default_and_the_stop_names_the_choices_that_fit_each_stack():
    with pytest.raises(ps.SourceError, match="fleet_anaconda_channels is not set"):
        ps.Policy.from_args(None, "")
    text = ps.choice_needed([DESKTOP, PRO])
    assert all(f"({n}) {c}" in text for n, c in enumerate(("licensed", "not_licensed", "mirror_only"), 1))
    assert ps.TERMS_URL in text and ps.ACADEMIC_URL in text
    fits = ps.fitting_choices([DESKTOP, PRO])
    assert "only Anaconda's channels" in fits[0] and "licensed or mirror_only" in fits[0]
    assert "any of the three" in fits[1]
    assert ps.setting_label({}).startswith("Anaconda licence: not set")
    assert ps.setting_label(
        {"fleet_anaconda_channels": "mirror_only", "fleet_package_mirror": "https://m"}
    ) == ("Anaconda licence: mirror_only, mirror https://m")


@pytest.mark.parametrize("flavour", ["miniconda2-x86", "miniconda3-x86", "miniconda2-x64"])
def test_a_32_bit_or_python_2_miniconda_is_never_sent_to_miniforge(flavour):
    with pytest.raises(ps.SourceError) as err:
        ps.installer_source(policy("not_licensed"), flavour, "url", mp.OFFICIAL_ARCHIVE, who="h")
    assert "Miniforge3 installer" not in str(err.value) and "mirror_only" in str(err.value)
    with pytest.raises(ps.SourceError, match="Miniforge3 installer"):
        ps.installer_source(policy("not_licensed"), "miniconda3-x64", "url", mp.OFFICIAL_ARCHIVE, who="h")
