"""Role doi_cert: conda and pip trust the organisation's root CA (the DOI's TLS interception).

Everything the fleet flow needs of this role, in one place (see ``fleet_role``): what observe reads (in
its first call, the record of what an earlier run added; in its second, the files each conda and pip
reads), the plan (the pure planner is ``doi_cert_plan``; the CA bundle is built once per distinct input
by ``doi_cert_bundle``), the changes against the snapshot, what verify reads, and its judgement (every
conda's machine-scope files end with our ssl_verify). No Ansible imports.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import ntpath
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import doi_cert_plan as dp
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_changes as fc
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_host as fh
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_bundle import bundle_from_args
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_changes import TRUSTED, Changes, sha256
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_host import Read, Snapshot
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import (
    Fleet,
    HostPlanError,
    HostPlanning,
    Observation,
    ObserveContext,
    PlanError,
    Role,
    RoleContext,
    RolePlan,
)

# Where the record of what the role added lives unless doi_cert_manifest_path says otherwise.
MANIFEST_DEFAULT = "C:\\ProgramData\\arcgis-conda\\doi_cert-state.json"
# SHA-256 of files/demo-lab-root-ca.crt, the example inventory's throw-away CA (its key was discarded).
DEMO_CA_SHA256 = "cc433e11eb2fcadc815385a27f3c69ca33d35b26a80af3e9e3b9ef0fb22538f4"


# The planner's arguments, in two parts (the bundle, built once per distinct input; the plan), as Ansible
# argument specs (roles/doi_cert/vars/plan.yml wires the role's public variables to them).
DOI_CERT_BUNDLE_SPEC: dict[str, Any] = {
    "certificates": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "path": {"type": "str"},
            "content": {"type": "str"},
        },
        "mutually_exclusive": [["path", "content"]],
        "required_one_of": [["path", "content"]],
    },
    "fingerprints": {"type": "list", "elements": "str", "default": []},
    "expiry_warn_days": {"type": "int", "default": 30},
    "public_roots": {"type": "str", "default": "certifi", "choices": ["certifi", "file", "none"]},
    "public_roots_file": {"type": "str", "default": ""},
}

DOI_CERT_PLAN_SPEC: dict[str, Any] = {
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "bundle": {"type": "dict"},
    "cert_dir": {"type": "str", "required": True},
    "bundle_filename": {"type": "str", "default": "ca-bundle.pem"},
    "roots_filename": {"type": "str", "default": "doi-roots.pem"},
    "manifest_path": {"type": "str", "required": True},
    "users": {"type": "list", "elements": "str", "default": []},
    "user_dirname": {"type": "str", "default": ".certificates"},
    "conda": {"type": "bool", "default": True},
    "condarc_locations": {
        "type": "list",
        "elements": "str",
        "default": ["programdata", "install_root"],
        "choices": ["programdata", "install_root"],
    },
    # Entries of miniconda_installs / ansible_facts.arcgis pass through as they are; see _readers.
    "conda_installs": {"type": "list", "elements": "dict", "default": []},
    "other_conda_readers": {"type": "list", "elements": "dict", "default": []},
    "condarc_filename": {"type": "str", "default": "doi_cert.yml"},
    "ssl_verify": {"type": "str", "default": "bundle", "choices": ["bundle", "truststore"]},
    "condarc_final": {"type": "bool", "default": True},
    "manage_user_condarc": {"type": "bool", "default": False},
    "pip": {"type": "bool", "default": True},
    "pip_ini": {"type": "str", "default": "C:\\ProgramData\\pip\\pip.ini"},
    "env_vars": {
        "type": "list",
        "elements": "str",
        "default": [],
        "choices": ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"],
    },
    "windows_store": {"type": "bool", "default": False},
}

DOI_CERT_PLAN_SPEC.update(
    harden_acl={"type": "bool", "default": True},
    fail_on_override={"type": "bool", "default": False},
)


def doi_cert_paths(
    paths: dp.ObservedPaths, manifest_text: str | None, profiles: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[str], dict[str, list[dict[str, Any]]]]:
    """(files, folders, profiles per listed user) the plan looks at: the settings' own paths, what the
    previous run's record names, and the files of each listed user whose profile is unambiguous."""
    prev, _rest = dp.Manifest.parse(manifest_text)
    files = list(paths.files) + sorted(prev.files) + list(prev.user_condarc or {})
    if prev.pip_ini and isinstance(prev.pip_ini, Mapping) and prev.pip_ini.get("path"):
        files.append(str(prev.pip_ini["path"]))
    dirs = list(paths.dirs) + sorted(prev.dirs)
    by_user: dict[str, list[dict[str, Any]]] = {}
    for user in paths.users:
        found = by_user[user] = fh.match_profiles(profiles, user)
        if len(found) == 1:  # several: the plan stops on the ambiguity, naming the profiles
            files += [ntpath.join(found[0]["path"], rel) for rel in paths.user_files]
            dirs += [ntpath.join(found[0]["path"], rel) for rel in paths.user_dirs]
    return files, dirs, by_user


def doi_cert_reads(
    settings: dp.PlanSettings, manifest_text: str | None, profiles: Sequence[Mapping[str, Any]]
) -> list[Read]:
    """Observe's reads for the plan (call 1 has already read the previous run's record and the profiles)."""
    paths = dp.observed_paths(settings)
    files, dirs, _rest = doi_cert_paths(paths, manifest_text, profiles)
    reads = [Read(settings.manifest_path, content=True)]
    reads += [Read(fh.conda_meta_glob(root), "glob", detail=False) for root in paths.conda_roots]
    # The PEM files the role writes from the bundle the controller builds: their hash, never their bytes
    # (a CA bundle is most of a host's facts otherwise); the record's thumbprints give --diff its summary.
    reads += [Read(f, content=not pem_of_ours(settings, f)) for f in files]
    for d in dirs:
        reads.append(Read(d, "dir"))
        reads.append(Read(ntpath.dirname(d), "dir"))
        if d.lower().endswith("condarc.d"):
            reads += [
                Read(ntpath.join(d, "*.yml"), "glob", True),
                Read(ntpath.join(d, "*.yaml"), "glob", True),
            ]
    # What it writes there, with owners and ACLs: a file a user put in its place is never trusted.
    return [*reads, Read(ntpath.join(settings.cert_dir, "*"), "glob")]


def pem_of_ours(settings: dp.PlanSettings, path: str) -> bool:
    """A bundle or roots file by the role's names (the machine one and each user's copy)."""
    return ntpath.basename(path).lower() in {
        settings.bundle_filename.lower(),
        settings.roots_filename.lower(),
    }


def conda_versions(snap: Snapshot, roots: Sequence[str]) -> dict[str, str | None]:
    """Each conda root's conda version, from its ``conda-meta\\conda-<version>-<build>.json`` (None: not
    installed, or not observed)."""
    out: dict[str, str | None] = {}
    for root in roots:
        try:
            packages = fh.conda_packages(snap.glob(fh.conda_meta_glob(root)))
        except fh.NotObserved:
            packages = {}
        out[root.lower()] = (packages.get("conda") or (None, ""))[0]
    return out


def doi_cert_host_state(
    settings: dp.PlanSettings, snap: Snapshot, thumbprints: Sequence[str]
) -> tuple[dp.HostState, list[str]]:
    """The plan's view of the host, read from the snapshot, and the machine-wide files it does not trust
    (not an administrator's: never read, moved aside by the changes)."""
    files: dict[str, str | None] = {}
    dirs: dict[str, list[str] | None] = {}
    manifest_path = settings.manifest_path
    manifest_entry = snap.entry(manifest_path)
    # A record a user wrote or can write would steer what the admin run deletes: never read it.
    manifest_text = snap.text(manifest_path) if manifest_entry.trusted() else None
    files[manifest_path] = manifest_text
    prev, _rest = dp.Manifest.parse(manifest_text)
    wanted_files, wanted_dirs, profiles = doi_cert_paths(
        dp.observed_paths(settings), manifest_text, snap.profiles
    )
    homes = [fh.key(p["path"]) for found in profiles.values() for p in found]
    untrusted: list[str] = []

    def text(path: str, content: bool = True) -> str | None:
        """A machine-wide file's text only when an admin wrote it (a user's own profile files are theirs);
        without ``content`` (a PEM of ours, hashed by observe) "" for a file that is there."""
        entry = snap.entry(path)
        mine = any(fh.key(path).startswith(h + "\\") for h in homes)
        if entry.type == "file" and not mine and not entry.trusted():
            untrusted.append(path)
            return None
        if not content:
            return "" if entry.type == "file" else None
        return snap.text(path)

    for path in wanted_files:
        if path.lower().endswith(".json") and path != manifest_path:
            files[path] = None if not snap.exists(path) else ""
        else:
            files[path] = text(path, content=not pem_of_ours(settings, path))
    for path in wanted_dirs:
        names = snap.listing(path)
        dirs[path] = names
        if names is not None and path.lower().endswith("condarc.d"):
            for name in names:
                if name.lower().endswith((".yml", ".yaml")):
                    files[ntpath.join(path, name)] = text(ntpath.join(path, name))
    untrusted_set = {fh.key(p) for p in untrusted}
    for path in untrusted_set:
        dirs_of = ntpath.dirname(path)
        for d, names in dirs.items():
            if fh.key(d) == dirs_of and names is not None:
                dirs[d] = [n for n in names if fh.key(ntpath.join(d, n)) not in untrusted_set]
    if manifest_entry.type == "file" and manifest_text is None:
        untrusted.insert(0, manifest_path)
    state = dp.HostState(
        {
            "files": files,
            "dirs": dirs,
            "profiles": profiles,
            "env": {name: snap.env.get(name.upper()) for name in dp.WATCHED_ENV},
            "store": {t: snap.store.get(t.upper(), False) for t in [*thumbprints, *sorted(prev.store)]},
        }
    )
    return state, list(dict.fromkeys(untrusted))


def doi_cert_changes(
    plan: Mapping[str, Any], snap: Snapshot, c: Changes, manifest_path: str, untrusted: Sequence[str] = ()
) -> None:
    """Quarantine, create, write, import and set what the plan says, then the record."""
    planned = [
        str(w["content"]).encode("utf-8") for w in plan["write_files"] if "BEGIN CERTIFICATE" in w["content"]
    ]
    for digest, thumbs in (plan.get("known_certificates") or {}).items():
        # What an earlier run wrote, summarised from its record (subjects from the bundle written now).
        c.known[digest] = functools.partial(
            fc.summary_from_thumbprints, thumbs, planned[0] if planned else None
        )
    for path in untrusted:
        c.quarantine(path, "not an administrator's: conda or pip would read it in the admin run")
    early = plan.get("intent_text")
    if early is not None:
        c.mkdir(ntpath.dirname(manifest_path), "the record of what the role added")
        c.write(
            manifest_path,
            early,
            "the record of what this run adds, first: an interrupted run is not forgotten",
        )
    profiles = [fh.key(u) for u in (plan.get("users") or {}).values()]
    for path in plan["create_dirs"]:
        c.mkdir(path, "certificates and settings")
    for path in plan["create_dirs"] if plan["harden_dirs"] else ():
        if not any(fh.key(path).startswith(p + "\\") for p in profiles):
            c.secure(path, TRUSTED)
    for item in plan["write_files"]:
        c.write(item["path"], item["content"], item["why"], backup=bool(item.get("backup")))
    for item in plan["store_import"]:
        c.other(
            "cert",
            "import",
            f"Cert:\\LocalMachine\\Root\\{item['thumbprint']}",
            item["subject"],
            {
                "path": item["path"],
                "store_name": "Root",
                "store_location": "LocalMachine",
                "state": "present",
            },
        )
    for item in plan["env_set"]:
        c.other(
            "env_var",
            "set",
            item["name"],
            "point at the bundle",
            {"name": item["name"], "value": item["value"], "level": "machine", "state": "present"},
        )
    for name in plan["env_remove"]:
        c.other(
            "env_var",
            "remove",
            name,
            "set by an earlier run",
            {"name": name, "level": "machine", "state": "absent"},
        )
    for thumbprint in plan["store_remove"]:
        c.other(
            "cert",
            "remove",
            f"Cert:\\LocalMachine\\Root\\{thumbprint}",
            "imported by an earlier run",
            {
                "thumbprint": thumbprint,
                "store_name": "Root",
                "store_location": "LocalMachine",
                "state": "absent",
            },
        )
    for path in plan["remove_files"]:
        c.delete(path, "written by an earlier run, no longer needed")
    for path in plan["remove_dirs"]:
        c.rmdir_empty(path, "created by an earlier run, now empty of anything else")
    if plan.get("manifest_text") is not None and plan["manifest_text"] != early:
        c.write(manifest_path, plan["manifest_text"], "the record of what the role added")
    if plan.get("remove_manifest"):
        c.delete(manifest_path, "the record of what the role added")


def doi_cert_verify(plan: Mapping[str, Any], settings: dp.PlanSettings) -> list[Read]:
    if settings.state != "present":
        return []
    reads = [Read(settings.bundle_path), *(Read(p, content=True) for p in plan["condarc_files"])]
    # Every conda's machine-scope files (Miniconda's and Pro's own): verify judges what each one ends with.
    reads += [Read(p, content=True) for r in plan.get("reader_files") or [] for p in r["files"]]
    if settings.pip:
        reads.append(Read(settings.pip_ini, content=True))
    return reads


def build_bundle(args: Mapping[str, Any], read: Callable[[str], bytes]) -> dict[str, Any]:
    """The CA bundle for these inputs, built on the controller (certificates validated, public roots)."""
    return bundle_from_args(args, lambda path, _what: read(path), dt.datetime.now(dt.UTC)).as_dict()


def doi_cert_thumbprints(
    args: Mapping[str, Any], manifest: str | None, read: Callable[[str], bytes]
) -> list[str]:
    """The Root-store thumbprints the plan asks about: the organisation roots now, and those an earlier run
    imported (its record). A bad certificate input yields none here; the plan reports it."""
    found: list[str] = []
    if args["plan"].get("state") == "present":
        with contextlib.suppress(ValueError, OSError):
            found += [str(c["sha1"]).upper() for c in build_bundle(args["bundle"], read)["certificates"]]
    prev, _rest = dp.Manifest.parse(manifest)
    found += [str(t).upper() for t in sorted(prev.store)]
    return list(dict.fromkeys(found))


def doi_cert_judge(judge: Mapping[str, Any], settings: dp.PlanSettings, snap: Snapshot) -> list[str]:
    import yaml  # the controller's (ansible-core requires PyYAML); imported where used, as before

    if settings.state != "present":
        return []
    problems = []
    if snap.sha256(settings.bundle_path) != judge["bundle_sha256"]:
        problems.append(
            f"host {settings.host}: {settings.bundle_path} is missing or differs from the bundle built on "
            "the controller. Fix: look for another process rewriting it, then run again."
        )
    for path in judge["plan"]["condarc_files"]:
        text = snap.text(path)
        value = (yaml.safe_load(text) or {}).get("ssl_verify") if text else None
        if value != settings.ssl_verify_value:
            problems.append(
                f"host {settings.host}: {path} does not set ssl_verify to {settings.ssl_verify_value}"
            )
    problems += doi_cert_judge_readers(judge["plan"].get("reader_files") or [], settings, snap)
    if settings.pip and f"cert = {settings.bundle_path}" not in (snap.text(settings.pip_ini) or ""):
        problems.append(f"host {settings.host}: {settings.pip_ini} has no 'cert = {settings.bundle_path}'")
    return problems


def doi_cert_judge_readers(
    readers: Sequence[Mapping[str, Any]], settings: dp.PlanSettings, snap: Snapshot
) -> list[str]:
    """Each conda's machine-scope result (Miniconda's and ArcGIS Pro's own conda): the value its files end
    with, by conda's precedence (last wins, first ``#!final`` wins)."""
    problems = []
    ours = str(settings.ssl_verify_value)
    for reader in readers:
        found = []
        for path in reader["files"]:
            text = snap.text(path)
            setting = dp.read_ssl_verify(path, text)[0] if text else None
            if setting:
                found.append(setting)
        winner = dp.effective_ssl_verify(found)
        value = winner.value if winner else True
        if not (isinstance(value, str) and value.lower() == ours.lower()):
            where = winner.path if winner else "no file sets it (conda's default: True)"
            problems.append(
                f"host {settings.host}: {reader['label']}'s conda ends with ssl_verify={value!r} ({where}), "
                f"not {ours}: it does not trust the organisation's CA. Fix: remove ssl_verify from that "
                "file, or keep doi_cert_condarc_final true and programdata in doi_cert_condarc_locations."
            )
    return problems


class DoiCert(Role):
    name = "doi_cert"
    argument_parts: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "bundle": DOI_CERT_BUNDLE_SPEC,
        "plan": DOI_CERT_PLAN_SPEC,
    }
    column = "Trusted root CAs"

    def first_reads(self, args: Mapping[str, Any] | None) -> list[Read]:
        return [Read(self.manifest_path(args), content=True)]

    @staticmethod
    def manifest_path(args: Mapping[str, Any] | None) -> str:
        return str(((args or {}).get("plan") or {}).get("manifest_path") or MANIFEST_DEFAULT)

    def observe(self, args: Mapping[str, Any], octx: ObserveContext) -> Observation:
        settings = dp.settings_from_args(args["plan"], octx.host)
        try:
            dp.validate_settings(settings)
        except PlanError:
            return Observation()  # the plan reports the bad input
        manifest = octx.first.text(self.manifest_path(args))
        return Observation(
            reads=doi_cert_reads(settings, manifest, octx.first.profiles),
            # The organisation roots' and an earlier run's Root-store entries: the plan imports or removes.
            thumbprints=doi_cert_thumbprints(args, manifest, octx.read_file),
            env_names=list(dp.WATCHED_ENV),  # the variables that point Python and pip at a bundle
        )

    def plan_fleet(self, hosts: Sequence[HostPlanning], fleet: Fleet) -> None:
        # One bundle per distinct certificate input, for the whole batch (the hosts of a lab share it).
        bundles: dict[str, dict[str, Any]] = {}
        for host in hosts:
            key = json.dumps(host.args["bundle"], sort_keys=True, default=str)
            if host.args["plan"]["state"] == "present" and key not in bundles:
                try:
                    bundles[key] = build_bundle(host.args["bundle"], fleet.read_file)
                except (ValueError, OSError) as exc:
                    bundles[key] = {"error": str(exc)}
            bundle = bundles.get(key) if host.args["plan"]["state"] == "present" else None
            try:
                if bundle and "error" in bundle:
                    raise HostPlanError(f"{host.ctx.host}: doi_cert_certificates: {bundle['error']}")
                host.plan = self.plan_with_bundle(host.args, host.ctx, bundle)
            except HostPlanError as exc:
                host.error = str(exc)

    def plan(self, args: Mapping[str, Any], ctx: RoleContext, fleet: Fleet) -> RolePlan:
        bundle = build_bundle(args["bundle"], ctx.read_file) if args["plan"]["state"] == "present" else None
        return self.plan_with_bundle(args, ctx, bundle)

    def plan_with_bundle(
        self, role_args: Mapping[str, Any], ctx: RoleContext, bundle: dict[str, Any] | None
    ) -> RolePlan:
        args = role_args["plan"]
        settings = dp.settings_from_args(dict(args), ctx.host)
        present = settings.state == "present"
        try:
            warnings = dp.validate_settings(settings)
            if present and bundle is None:
                bundle = build_bundle(role_args["bundle"], ctx.read_file)
        except (PlanError, ValueError) as exc:  # ValueError: doi_cert_bundle's refusal of a certificate
            raise HostPlanError(f"{ctx.host}: doi_cert: {exc}") from None
        out = RolePlan(warnings=list(warnings) + list((bundle or {}).get("warnings") or []))
        certificates = (bundle or {}).get("certificates") or []
        if present and any(str(c.get("sha256", "")).lower() == DEMO_CA_SHA256 for c in certificates):
            out.warnings.append(
                "doi_cert trusts the example inventory's DEMO CA (files/demo-lab-root-ca.crt), not your "
                "organisation's: set doi_cert_certificates (and doi_cert_fingerprints) to your root CA"
            )
        if present and bundle:
            out.lines = [
                f"trust {r['subject']} (sha256 {r['sha256'][:16]}..., until {r['not_after']})"
                for r in bundle["certificates"]
            ]
            out.lines.append(
                f"bundle: {bundle['public_roots_count']} public + {len(bundle['certificates'])} roots"
            )
        if ctx.snapshot is None:
            return out
        snap = ctx.snapshot
        settings = dp.with_conda_versions(
            settings, conda_versions(snap, dp.observed_paths(settings).conda_roots)
        )
        state, untrusted = doi_cert_host_state(settings, snap, [str(c["sha1"]) for c in certificates])
        try:
            plan = dp.plan_doi_cert(settings, state, bundle if present else None).as_dict()
        except PlanError as exc:
            raise HostPlanError(str(exc)) from None
        if not args.get("harden_acl", True):
            plan["harden_dirs"] = []
        if present and args.get("fail_on_override") and plan["overrides"]:
            raise HostPlanError(
                f"host {ctx.host}: after this run {len(plan['overrides'])} conda set-up(s) would use another "
                f"ssl_verify: {plan['overrides']}. Fix: keep doi_cert_condarc_final true, set "
                "doi_cert_manage_user_condarc true, or fix the named files."
            )
        out.warnings += list(plan["warnings"]) + list(plan["report"])
        out.warnings += [
            f"{p}: not an administrator's file, so not trusted; moved aside to {p}.untrusted (or the next "
            "free .untrusted.<n>: the planned changes name it) unless an earlier role of this run replaces it"
            for p in untrusted
        ]
        out.make_changes = lambda c: doi_cert_changes(plan, c.snapshot, c, settings.manifest_path, untrusted)
        out.verify_reads = doi_cert_verify(plan, settings)
        out.judge = {
            "plan": {"condarc_files": plan["condarc_files"], "reader_files": plan["reader_files"]},
            "args": dict(args),
            "bundle_sha256": sha256(str(bundle["bundle_pem"])) if present and bundle else None,
        }
        return out

    def judge(self, judge: Mapping[str, Any], host: str, snap: Snapshot) -> list[str]:
        if not judge:
            return []
        return doi_cert_judge(judge, dp.settings_from_args(dict(judge["args"]), host), snap)
