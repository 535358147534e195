"""Observe loads an offline profile's hive only when a role needs that user's data (issue 23 item 7)."""

from __future__ import annotations

from ansible_collections.arcgis_conda.fleet.plugins.action.fleet_observe import merge_answers
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.startup_bridge_role import bridge_hives

ENTRA = "S-1-12-1-439025665-1087619554-2407177068-285212673"
PROFILES = [
    {"sid": "S-1-5-21-1-1001", "path": "C:\\Users\\svc", "account": "LABPC\\svc", "hive_read": True},
    {"sid": "S-1-5-21-9-5001", "path": "C:\\Users\\ann", "account": "LAB\\ann", "hive_read": False},
    {"sid": ENTRA, "path": "C:\\Users\\bo", "account": "AzureAD\\bo", "hive_read": False},
    {"sid": "S-1-5-21-9-5002", "path": "C:\\Users\\cy", "account": "LAB\\cy", "hive_read": False},
]


def test_machine_scope_needs_no_hive() -> None:
    assert bridge_hives(PROFILES, "machine", ["ann", "bo"]) == []


def test_user_scope_needs_the_listed_users_unread_hives_only() -> None:
    assert bridge_hives(PROFILES, "user", ["ann", "AzureAD\\bo", "svc", "nobody"]) == [
        "S-1-5-21-9-5001",
        ENTRA,
    ]


def test_second_answer_hives_merge_into_the_first_answers_profiles() -> None:
    first = {"profiles": [dict(p, appdata=None, hive_error=None) for p in PROFILES]}
    redirected = "\\\\fs\\bo\\AppData\\Roaming"
    second = {"user_hives": [{"sid": ENTRA, "appdata": redirected, "hive_error": None, "hive_read": True}]}
    merged = merge_answers([first, second], True)
    by_sid = {p["sid"]: p for p in merged["profiles"]}
    assert by_sid[ENTRA]["hive_read"] and by_sid[ENTRA]["appdata"] == redirected
    assert fh.redirected_appdata(by_sid[ENTRA]) == redirected
    assert not by_sid["S-1-5-21-9-5002"]["hive_read"]


def test_host_read_params_pass_the_hives_to_load() -> None:
    assert fh.host_read_params(load_hives=[ENTRA])["parameters"]["LoadHives"] == [ENTRA]
    assert fh.host_read_params()["parameters"]["LoadHives"] == []
