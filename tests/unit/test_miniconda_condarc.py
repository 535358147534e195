"""The system condarc, rendered for real: the role's template through Ansible's Templar with the settings
win_template uses (CRLF line ends, backslashes not escaped), then read back as YAML by PyYAML and by
ruamel.yaml (the YAML library conda itself uses)."""

from __future__ import annotations

import io

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import miniconda_plan as mp
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


@pytest.fixture(scope="module")
def template_text(repo_root):
    return (repo_root / "roles" / "miniconda" / "templates" / "condarc.j2").read_text(encoding="utf-8")


def render(template_text: str, plan: dict) -> str:
    """Render as ansible.windows.win_template does (its defaults: newline_sequence CRLF, trim_blocks)."""
    templar = Templar(loader=DataLoader(), variables={"__miniconda_plan": plan})
    return templar.template(
        trust_as_template(template_text),
        escape_backslashes=False,
        overrides={"newline_sequence": "\r\n", "trim_blocks": True},
    )


def plan_for(**inputs) -> dict:
    return mp.build_plan(mp.PlanInputs(arcgis=ARCGIS, **inputs), os_bits=64)


def test_rendered_condarc_reads_back_as_the_planned_settings(template_text):
    plan = plan_for()
    text = render(template_text, plan)
    assert text.startswith(mp.CONDARC_MARKER)
    assert mp.condarc_is_managed(text)
    assert yaml.safe_load(text) == plan["condarc"]["settings"]
    assert YAML(typ="safe").load(io.StringIO(text)) == plan["condarc"]["settings"]


def test_rendered_condarc_uses_crlf_throughout(template_text):
    text = render(template_text, plan_for())
    assert "\r\n" in text
    assert "\n" not in text.replace("\r\n", "")
    # The comment naming the folder keeps its backslashes.
    assert "C:\\ProgramData\\conda\\condarc.d\\" in text


def test_mirror_proxy_and_extra_survive_rendering(template_text):
    plan = plan_for(
        channels=["defaults", "conda-forge"],
        channel_mirror="https://conda.lab.example.org",
        free_channel=True,
        proxy="http://user:p%40ss@proxy.lab:3128",
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
    text = render(template_text, plan)
    loaded = yaml.safe_load(text)
    assert loaded == plan["condarc"]["settings"]
    assert loaded["default_channels"][1] == "https://conda.lab.example.org/pkgs/free"
    assert loaded["proxy_servers"]["https"] == "http://user:p%40ss@proxy.lab:3128"
    assert loaded["remote_connect_timeout_secs"] == 12.5
    assert loaded["report_errors"] is False
    assert loaded["custom_channels"] == {"esri": "https://conda.lab.example.org/esri-mirror"}
    assert loaded["pinned_packages"] == []
    assert loaded["envs_dirs"] == ["D:\\conda\\envs"]
    assert plan["condarc"]["secret"] is True


def test_sample_rendering(template_text):
    text = render(template_text, plan_for(proxy="http://proxy.lab:3128"))
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


def test_values_that_look_like_yaml_stay_strings(template_text):
    plan = plan_for(channels=["defaults", "yes", "1.0", "#not-a-comment", "a: b"])
    loaded = YAML(typ="safe").load(io.StringIO(render(template_text, plan)))
    assert loaded["channels"] == ["defaults", "yes", "1.0", "#not-a-comment", "a: b"]
