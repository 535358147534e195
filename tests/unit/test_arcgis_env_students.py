"""What a lab env carries for students (arcgis_env_students): the machine condarc, pip's site file, the
constraints, as conda and pip parse them."""

from __future__ import annotations

import configparser
import io

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_env_students as st
from ruamel.yaml import YAML

PLAN = {
    "name": "arcpro33",
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


def test_pip_site_file_names_the_constraints_beside_it() -> None:
    parser = configparser.ConfigParser()
    parser.read_string(st.pip_ini_text(PLAN["prefix"]))
    assert parser["install"]["constraint"] == PLAN["prefix"] + "\\arcgis-constraints.txt"
    lines = [x for x in st.constraints_text(PLAN).splitlines() if not x.startswith("#")]
    assert lines == ["matplotlib==3.8.4", "numpy==1.24.3"]  # an unknown version is not pinned


def test_readme_tells_the_clone_command_of_this_conda() -> None:
    text = st.readme_text(PLAN)
    assert "conda create -n myarcpro33 --clone arcpro33 --pinned\r\n" in text
    assert "--pinned" not in st.readme_text({**PLAN, "clone_pinned_flag": False})
    assert "python -m arcgis_conda_bridge add myarcpro33" in text
