"""What a lab env carries for students (arcgis_env_students): the machine condarc, pip's site file, the
constraints, as conda and pip parse them."""

from __future__ import annotations

import configparser
import io
import nturl2path
import urllib.parse

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_env_students as st
from ruamel.yaml import YAML

PLAN = {
    "name": "arcpro33",
    "kind": "pro_clone",
    "product": "pro",
    "version": "3.3",
    "prefix": "C:\\ProgramData\\arcgis-conda\\envs\\arcpro33",
    "pins": {"numpy": "1.24.3", "matplotlib": "3.8.4", "scipy": ""},
    "python_major_minor": "3.11",
    "bits": 64,
    "clone_pinned_flag": True,
}


def test_machine_condarc_puts_each_accounts_own_folders_first() -> None:
    text = st.machine_condarc(
        ["C:\\ProgramData\\arcgis-conda\\envs"],
        ["C:\\Miniconda3", "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python", "C:\\Miniconda3"],
    )
    loaded = YAML(typ="safe").load(io.StringIO(text))
    assert loaded["envs_dirs"] == ["~\\.conda\\envs", "C:\\ProgramData\\arcgis-conda\\envs"]
    assert loaded["pkgs_dirs"] == [
        "~\\.conda\\pkgs",
        "C:\\Miniconda3\\pkgs",
        "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\pkgs",
    ]
    assert st.conda_root("C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\Scripts\\conda.exe") == (
        "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python"
    )


def test_pip_site_file_names_the_lab_envs_constraints_as_a_url_without_whitespace() -> None:
    prefix = "C:\\Program Files\\Lab envs\\arc1041"
    parser = configparser.RawConfigParser()  # as pip reads it (pip/_internal/configuration.py)
    parser.read_string(st.pip_ini_text(prefix))
    value = parser["install"]["constraint"]
    # pip splits the configured value on whitespace (cli/parser.py): it must stay one item.
    assert (
        value.split() == [value] == ["file:///C|/Program%20Files/Lab%20envs/arc1041/arcgis-constraints.txt"]
    )
    # current pip on Windows: url_to_path -> urllib.request.url2pathname (nturl2path) gives the path back.
    assert nturl2path.url2pathname(urllib.parse.urlsplit(value).path) == prefix + "\\arcgis-constraints.txt"
    # conda's clone replaces the source prefix's text in untracked files (conda/misc.py): not in the URL.
    assert prefix not in st.pip_ini_text(prefix)
    lines = [x for x in st.constraints_text(PLAN).splitlines() if not x.startswith("#")]
    assert lines == ["matplotlib==3.8.4", "numpy==1.24.3"]  # an unknown version is not pinned


def test_readme_tells_the_clone_command_of_this_conda() -> None:
    text = st.readme_text(PLAN)
    assert "conda create -n myarcpro33 --clone arcpro33 --pinned\r\n" in text
    assert "--pinned" not in st.readme_text({**PLAN, "clone_pinned_flag": False})
    # Pro has no bridge to link: the Pro way (Esri's active environment), never the bridge's command.
    assert "arcgis_conda_bridge" not in text and "proswap myarcpro33" in text
    desktop = {
        **PLAN,
        "name": "arc1041",
        "kind": "conda",
        "python_major_minor": "2.7",
        "clone_pinned_flag": False,
    }
    text = st.readme_text(desktop, "C:\\Python27\\ArcGIS10.4\\python.exe")
    assert "python -m arcgis_conda_bridge add myarc1041" in text and "proswap" not in text
    assert "only WARNS" in text  # pip 19 on Python 2.7: the legacy resolver installs and warns


def test_a_miniconda_serving_one_stack_pins_every_env_it_makes() -> None:
    desktop = {**PLAN, "name": "arc1041", "kind": "conda", "python_major_minor": "2.7"}
    desktop["pins"] = {"numpy": "1.9.2", "matplotlib": "1.4.3", "scipy": ""}
    loaded = YAML(typ="safe").load(io.StringIO(st.root_condarc(desktop)))
    assert loaded == {"pinned_packages": ["python 2.7.*", "matplotlib ==1.4.3", "numpy ==1.9.2"]}


def test_conda_wide_pins_only_where_one_miniconda_serves_one_stack() -> None:
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_env_role as role

    def conda(name: str, exe: str) -> dict[str, object]:
        return {**PLAN, "name": name, "kind": "conda", "conda_exe": exe}

    m2, m3 = "C:\\Miniconda2\\Scripts\\conda.exe", "C:\\Miniconda3\\Scripts\\conda.exe"
    pro = {**PLAN, "conda_exe": "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\Scripts\\conda.exe"}
    lines = role.root_condarc_lines([conda("arc1041", m2), conda("arc1082", m3), conda("arcpro33c", m3), pro])
    assert (
        lines[0] == "C:\\Miniconda2\\condarc.d\\arcgis_env.yml: every env of this conda keeps arc1041's pins"
    )
    assert lines[1].startswith(
        "C:\\Miniconda3 serves 2 ArcGIS stacks (arc1082, arcpro33c): no conda-wide pins"
    )
    assert len(lines) == 2  # Pro's own conda is never given conda-wide pins (its clones carry --pinned)
    # The admin's downloads: the Miniconda's cache, or the role's own folder for Pro's conda.
    assert role.conda_item(conda("arc1041", m2), ["x"], "C:\\H")["environment"] == {
        "CONDA_PKGS_DIRS": "C:\\Miniconda2\\pkgs"
    }
    assert role.conda_item(pro, ["x"], "C:\\H")["environment"] == {"CONDA_PKGS_DIRS": "C:\\H\\pkgs"}
