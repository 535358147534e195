"""Build a host's state from a scenario (``scenarios/<name>.yml``): base image + the scenario's installs.

The base image is a Windows 10/11 workstation with the default ACLs documented in ``host.py``; the
scenario adds accounts, profiles, ArcGIS installs (folders, Pythons, registry keys), the network
catalog (URL -> synthetic file) and the conda channel catalog.
"""

from __future__ import annotations

import ntpath
from pathlib import Path
from typing import Any

import yaml

from . import host as H

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def load_scenario(name: str, _seen: set[str] | None = None) -> dict[str, Any]:
    """The scenario's data with its ``include:`` scenarios merged in (lists appended, dicts merged;
    each scenario included once)."""
    seen = set() if _seen is None else _seen
    seen.add(name)
    data = yaml.safe_load((SCENARIOS / f"{name}.yml").read_text(encoding="utf-8")) or {}
    merged: dict[str, Any] = {}
    for inc in data.pop("include", []) or []:
        if inc not in seen:
            _merge(merged, load_scenario(inc, seen))
    _merge(merged, data)
    return merged


def _merge(into: dict[str, Any], data: dict[str, Any]) -> None:
    for key, value in data.items():
        if key in ("description",):
            into[key] = value if key not in into else f"{into[key]} + {value}"
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, list) and isinstance(into.get(key), list):
            into[key] = into[key] + value
        else:
            into[key] = value


def scenario_names(scale: bool = False) -> list[str]:
    """The shipped scenarios (``_*.yml`` are included by others). A scenario marked ``scale: true`` (its
    size is the point, e.g. 500 profiles) is left out of the lab tests and kept for the benchmarks."""
    names = sorted(p.stem for p in SCENARIOS.glob("*.yml") if not p.stem.startswith("_"))
    return [n for n in names if scale or not load_scenario(n).get("scale")]


# Entra ID (Azure AD) accounts' SIDs have the authority 12 and first sub-authority 1 (S-1-12-1-...), the
# object's GUID as four 32-bit sub-authorities; Windows puts an Entra ID user's profile in ProfileList
# under that SID and names the account AzureAD\<name>. No Microsoft Learn page found in this project's
# sources states the S-1-12-1 prefix (it is the form seen on Entra-joined devices); the selftest reads
# ProfileList on a real workstation.
ENTRA_AUTHORITY = "S-1-12-1"


def user_series(series: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Accounts generated from ``user_series`` entries ({prefix, count, domain?, entra?}), so a scenario
    can hold hundreds of profiles (a lab PC after a term) without listing them: ``<prefix>0001`` ...;
    domain accounts get the domain's SIDs (RIDs from 5001), Entra ID ones S-1-12-1-... SIDs."""
    out: dict[str, dict[str, Any]] = {}
    for entry in series:
        prefix, count = str(entry["prefix"]), int(entry["count"])
        for index in range(1, count + 1):
            name = f"{prefix}{index:04d}"
            if entry.get("entra"):
                guid = (0x1A2B0000 + index, 0x40D3C1E2, 0x8F7A9B6C, 0x11000000 + index)
                out[name] = {
                    "sid": f"{ENTRA_AUTHORITY}-" + "-".join(str(v) for v in guid),
                    "domain": "AzureAD",
                }
            else:
                domain_sid = "S-1-5-21-1004336348-1177238915-682003330"
                out[name] = {
                    "sid": f"{domain_sid}-{5000 + index}",
                    "domain": str(entry.get("domain") or "LAB"),
                }
    return out


def _dir_acl_root() -> list[dict[str, Any]]:
    return [
        H.ace(H.ADMINISTRATORS, "full"),
        H.ace(H.SYSTEM, "full"),
        H.ace(H.USERS, "read_execute"),
        H.ace(H.AUTHENTICATED_USERS, "modify", "both", inherit_only=True),
        H.ace(H.AUTHENTICATED_USERS, "create_dirs", "none"),
    ]


def _program_files_acl() -> list[dict[str, Any]]:
    """``C:\\Program Files`` as shipped, its inherit-only entries included (sources: host.py docstring)."""
    readers = (H.USERS, H.ALL_APP_PACKAGES, H.ALL_RESTRICTED_APP_PACKAGES)
    return [
        H.ace(H.TRUSTED_INSTALLER, "full", "none"),
        H.ace(H.TRUSTED_INSTALLER, "full", "container", inherit_only=True),
        H.ace(H.SYSTEM, "modify", "none"),
        H.ace(H.SYSTEM, "full", "both", inherit_only=True),
        H.ace(H.ADMINISTRATORS, "modify", "none"),
        H.ace(H.ADMINISTRATORS, "full", "both", inherit_only=True),
        *(H.ace(sid, "read_execute", "none") for sid in readers),
        *(H.ace(sid, "read_execute", "both", inherit_only=True) for sid in readers),
        H.ace(H.CREATOR_OWNER, "full", "both", inherit_only=True),
    ]


def _protected(host: H.Host, path: str, owner: str, acl: list[dict[str, Any]]) -> None:
    host.set_security(path, owner=owner, acl=acl, protected=True)
    host.reapply_inheritance(path)


def build_base(host: H.Host, users: dict[str, dict[str, Any]], computer: str) -> None:
    """Drive C:, the standard folders with their shipped ACLs, accounts and profiles."""
    host.state.update(
        {
            "computer": computer,
            "fs": {},
            "registry": {},
            "users": {},
            "cert_store": {H.ROOT_STORE: []},
            "processes": [],
            "faults": {},
            "network": {},
            "channels": {},
        }
    )
    rid = H.USER_RID_BASE
    for name, info in users.items():
        host.users()[name] = {
            "sid": info.get("sid") or f"{H.MACHINE_SID}-{rid}",
            "admin": bool(info.get("admin")),
        }
        # A domain account (SID translates to DOMAIN\\name) and its profile folder when it is not the
        # user name: Windows names a second profile of one name <name>.<DOMAIN> (ProfileImagePath rules).
        for extra in ("domain", "profile"):
            if info.get(extra):
                host.users()[name][extra] = info[extra]
        rid += 1
    system = host.principal("SYSTEM")
    host.fs()["c:\\"] = {
        "path": "C:\\",
        "type": "dir",
        "owner": H.TRUSTED_INSTALLER,
        "acl": _dir_acl_root(),
        "protected": True,
        "mtime": host.now,
    }
    for folder in (
        "C:\\Windows",
        "C:\\Program Files",
        "C:\\Program Files (x86)",
        "C:\\ProgramData",
        "C:\\Users",
    ):
        host.mkdir(folder, system)
    readonly = [H.ace(H.TRUSTED_INSTALLER, "full"), H.ace(H.SYSTEM, "full"), H.ace(H.ADMINISTRATORS, "full")]
    readonly.append(H.ace(H.USERS, "read_execute"))
    _protected(host, "C:\\Windows", H.TRUSTED_INSTALLER, readonly)
    for folder in ("C:\\Program Files", "C:\\Program Files (x86)"):
        _protected(host, folder, H.TRUSTED_INSTALLER, _program_files_acl())
    _protected(
        host,
        "C:\\ProgramData",
        H.SYSTEM,
        [
            H.ace(H.SYSTEM, "full"),
            H.ace(H.ADMINISTRATORS, "full"),
            H.ace(H.CREATOR_OWNER, "full", "both", inherit_only=True),
            H.ace(H.USERS, "read_execute"),
            H.ace(H.USERS, "create", "container"),
        ],
    )
    _protected(
        host,
        "C:\\Users",
        H.SYSTEM,
        [H.ace(H.SYSTEM, "full"), H.ace(H.ADMINISTRATORS, "full"), H.ace(H.USERS, "read_execute")],
    )
    for folder in ("C:\\Windows\\Temp", "C:\\Windows\\system32", "C:\\Windows\\system32\\config"):
        host.mkdir(folder, system)
    host.mkdir("C:\\Windows\\system32\\config\\systemprofile\\AppData\\Local\\Temp", system, parents=True)
    # The all-users Start Menu (FOLDERID_CommonPrograms), where menuinst puts an AllUsers conda's shortcuts.
    host.mkdir("C:\\ProgramData\\Microsoft\\Windows\\Start Menu\\Programs", system, parents=True)
    for name in [*users, "Default", "Public"]:
        profile = (users.get(name) or {}).get("profile") or f"C:\\Users\\{name}"
        host.mkdir(profile, system)
        if name in users:
            sid = host.users()[name]["sid"]
            _protected(
                host,
                profile,
                sid,
                [H.ace(H.SYSTEM, "full"), H.ace(H.ADMINISTRATORS, "full"), H.ace(sid, "full")],
            )
            host.reg_set(f"{H.PROFILE_LIST}\\{sid}", "ProfileImagePath", profile, "REG_EXPAND_SZ")
            host.reg_ensure(f"HKU\\{sid}\\Software")
            # The user's hive file (its content is the model's HKU\\<sid>; see scripts.user_keys).
            hive = {"size": 262144, "sha256": H.sha256_hex(f"NTUSER.DAT {sid}".encode()), "attrs": {}}
            host.write(f"{profile}\\NTUSER.DAT", None, system, synthetic=hive)
        for sub in ("AppData\\Local\\Temp", "AppData\\Roaming", "Documents"):
            host.mkdir(f"{profile}\\{sub}", system, parents=True)
    host.reg_set(
        f"{H.PROFILE_LIST}\\S-1-5-18", "ProfileImagePath", "%systemroot%\\system32\\config\\systemprofile"
    )
    for value, folder in (
        ("Default", "%SystemDrive%\\Users\\Default"),
        ("ProfilesDirectory", "%SystemDrive%\\Users"),
        ("Public", "%SystemDrive%\\Users\\Public"),
    ):
        host.reg_set(H.PROFILE_LIST, value, folder, "REG_EXPAND_SZ")
    for name, value in {
        "ComSpec": "%SystemRoot%\\system32\\cmd.exe",
        "OS": "Windows_NT",
        "Path": "C:\\Windows\\system32;C:\\Windows",
        "PATHEXT": ".COM;.EXE;.BAT;.CMD;.VBS;.JS;.PY",
        "PROCESSOR_ARCHITECTURE": "AMD64",
        "TEMP": "%SystemRoot%\\TEMP",
        "TMP": "%SystemRoot%\\TEMP",
    }.items():
        host.set_machine_env(name, value)


def _files_for_python(host: H.Host, actor: H.Principal, spec: dict[str, Any]) -> None:
    """An interpreter: python.exe (synthetic), Lib\\site-packages, its packages' metadata."""
    prefix = H.norm_path(spec["prefix"])
    version, bits = str(spec["version"]), int(spec["bits"])
    host.mkdir(prefix + "\\Lib\\site-packages", actor, parents=True)
    host.mkdir(prefix + "\\DLLs", actor, parents=True)
    exe = {"program": "python", "version": version, "bits": bits}
    host.write(prefix + "\\python.exe", None, actor, synthetic=_synth(f"python.exe {prefix}", exe))
    packages = dict(spec.get("packages") or {})
    if spec.get("layout", "site") == "conda":
        from .programs import write_conda_record

        write_conda_record(
            host, actor, prefix, "python", version, spec.get("python_build", "h0_0"), bits=bits
        )
        for name, value in packages.items():
            version_text, _, build = str(value).partition("=")
            write_conda_record(host, actor, prefix, name, version_text, build or "py_0")
        if spec.get("pinned"):
            host.write(prefix + "\\conda-meta\\pinned", "\n".join(spec["pinned"]).encode() + b"\n", actor)
    else:
        site = prefix + "\\Lib\\site-packages"
        for name, value in packages.items():
            meta = f"Metadata-Version: 1.1\nName: {name}\nVersion: {value}\n".encode()
            tag = "py{}.{}".format(*(int(x) for x in version.split(".")[:2]))
            host.write(f"{site}\\{name.replace('-', '_')}-{value}-{tag}.egg-info", meta, actor)
    for path, text in (spec.get("pth") or {}).items():
        host.write(ntpath.join(prefix, "Lib", "site-packages", path), text.encode("utf-8"), actor)


def _synth(seed: str, attrs: dict[str, Any], size: int = 98304) -> dict[str, Any]:
    return {"size": size, "sha256": H.sha256_hex(seed.encode()), "attrs": attrs}


def apply_scenario(host: H.Host, data: dict[str, Any]) -> None:
    system = host.principal("SYSTEM")
    for folder in data.get("dirs") or []:
        host.mkdir(folder, system, parents=True)
    for spec in data.get("pythons") or []:
        _files_for_python(host, system, spec)
    for path, spec in (data.get("files") or {}).items():
        host.mkdir(H.parent_of(path), system, parents=True)
        if "content" in spec:
            host.write(path, str(spec["content"]).encode("utf-8"), system)
        else:
            host.write(
                path, None, system, synthetic=_synth(path, spec.get("attrs") or {}, spec.get("size", 4096))
            )
    for conda in data.get("condas") or []:
        from .programs import install_conda_base

        # owner: a per-user install (its files are that user's, created in their profile)
        install_conda_base(host, host.principal(conda["owner"]) if conda.get("owner") else system, conda)
    for key, values in (data.get("registry") or {}).items():
        host.reg_ensure(key)
        for name, value in (values or {}).items():
            kind = "REG_DWORD" if isinstance(value, int) else "REG_SZ"
            host.reg_set(key, name, value, kind)
    # user_registry: {user: {key under that user's hive: values}}, i.e. HKU\\<sid>\\<key> (that user's HKCU)
    for user, keys in (data.get("user_registry") or {}).items():
        sid = host.users()[user]["sid"]
        for key, values in (keys or {}).items():
            host.reg_ensure(f"HKU\\{sid}\\{key}")
            for name, value in (values or {}).items():
                kind = "REG_DWORD" if isinstance(value, int) else "REG_SZ"
                host.reg_set(f"HKU\\{sid}\\{key}", name, value, kind)
    # logged_on: users whose hive is loaded (HKU\\<sid>); the others' NTUSER.DAT is loaded for a read.
    # locked_hives: users whose NTUSER.DAT cannot be loaded (reg load fails; see scripts.user_keys).
    host.state["logged_on"] = [host.users()[u]["sid"] for u in data.get("logged_on") or ["svc_fleet"]]
    host.state["locked_hives"] = [host.users()[u]["sid"] for u in data.get("locked_hives") or []]
    for share, spec in (data.get("unc_shares") or {}).items():
        root = H.norm_path(share)
        host.fs()[H.key_of(root)] = {
            "path": root,
            "type": "dir",
            "owner": H.ADMINISTRATORS,
            "acl": [H.ace(H.ADMINISTRATORS, "full"), H.ace(H.AUTHENTICATED_USERS, "read_execute")],
            "protected": True,
            "mtime": host.now,
        }
        for path, file in (spec.get("files") or {}).items():
            host.write(
                path,
                str(file.get("content", "")).encode("utf-8"),
                H.Principal("SYSTEM", H.SYSTEM, True, True),
            )
    host.state["network"].update(data.get("network") or {})
    host.state["channels"].update(data.get("channels") or {})
    host.state["pypi"] = dict(data.get("pypi") or {})
    host.store().extend(t.upper() for t in data.get("root_thumbprints") or [])
    host.state["session"] = {**host.session(), **(data.get("session") or {})}
    host.state["faults"] = data.get("faults") or {}
    host.state["processes"] = data.get("processes") or []
    host.state["scenario"] = data.get("name")


UNINSTALL_KEYS = (
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
    "HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
)


def upgrade(host: H.Host, scenario: str) -> None:
    """Run a newer release's installer over the host, as an ArcGIS upgrade does (e.g. pro33 -> pro35).

    Each conda root the scenario installs (Pro's ``bin\\Python``) is replaced with its ``arcgispro-py3``;
    environments elsewhere (clones in ProgramData or %LOCALAPPDATA%) stay as they were, with the old
    release's packages: Esri, "Upgrade an environment": "A conda environment created with one version of
    ArcGIS Pro will have a set of packages that are incompatible with another version of ArcGIS Pro", shown
    as "Version Mismatch" (https://pro.arcgis.com/en/pro-app/3.1/arcpy/get-started/upgrade-an-environment.htm).
    The old release's Uninstall entry (same DisplayName) gives way to the new one's; the product key's
    values are overwritten. Accounts, faults, processes and everything else on the host are kept.
    """
    data = load_scenario(scenario)
    system = host.principal("SYSTEM")
    for conda in data.get("condas") or []:
        host.delete(H.norm_path(conda["prefix"]), system)
    names = {
        str(values.get("DisplayName"))
        for key, values in (data.get("registry") or {}).items()
        if "\\uninstall\\" in key.lower() and values
    }
    for root in UNINSTALL_KEYS:
        for sub in host.reg_subkeys(root):
            key = f"{root}\\{sub}"
            if ((host.reg_values(key) or {}).get("DisplayName") or [None, None])[1] in names:
                host.reg_delete_key(key)
    apply_scenario(
        host,
        {k: data.get(k) for k in ("dirs", "pythons", "files", "condas", "registry")}
        | {
            "faults": host.state.get("faults"),
            "processes": host.state.get("processes"),
            "session": host.session(),
            "name": host.state.get("scenario"),
        },
    )
    host.save()


def create_host(state_dir: str | Path, scenario: str, computer: str | None = None) -> H.Host:
    """Write a fresh host state for a scenario into state_dir and return it."""
    data = load_scenario(scenario)
    data["name"] = scenario
    host = H.Host(state_dir, load=False)
    users = data.get("users") or {"svc_fleet": {"admin": True}, "student1": {}, "student2": {}}
    users = {**users, **user_series(list(data.get("user_series") or []))}
    build_base(host, users, computer or data.get("computer") or "LABPC")
    apply_scenario(host, data)
    host.save()
    (Path(state_dir) / "calls.jsonl").touch()
    return host
