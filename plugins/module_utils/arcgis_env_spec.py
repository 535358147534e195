"""From ArcGIS Python facts to conda env specs and per-host env plans (pure, controller side).

One ``EnvSpec`` describes a Python stack: platform, Python line, numpy/matplotlib/scipy pinned to the
versions ArcGIS ships, IPython/Jupyter/Spyder capped to what that Python line can run, extra packages
and the channels. Hosts with the same ArcGIS stack get an equal spec, hence the same ``key``: the
lock step solves each key once per fleet.

Plain data in, plain data out; no Ansible imports. ``rattler`` (py-rattler) parses conda match specs.
"""

from __future__ import annotations

import hashlib
import json
import ntpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

from ansible_collections.arcgis_conda.fleet.plugins.module_utils import package_sources as ps
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_release import PRODUCTS
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.optional_lib import missing

try:
    from rattler import MatchSpec, Version, VersionSpec
    from rattler.exceptions import InvalidMatchSpecError, InvalidVersionError, InvalidVersionSpecError
except ImportError as _exc:  # optional: the feature that needs it fails, naming it
    RATTLER_IMPORT_ERROR: ImportError | None = _exc
    _why = "to parse the conda match specs of arcgis_env"
    MatchSpec = missing("MatchSpec", "py-rattler", _why, _exc)
    Version = missing("Version", "py-rattler", _why, _exc)
    VersionSpec = missing("VersionSpec", "py-rattler", _why, _exc)
    InvalidMatchSpecError = missing("InvalidMatchSpecError", "py-rattler", _why, _exc)
    InvalidVersionError = missing("InvalidVersionError", "py-rattler", _why, _exc)
    InvalidVersionSpecError = missing("InvalidVersionSpecError", "py-rattler", _why, _exc)
else:
    RATTLER_IMPORT_ERROR = None

# The packages whose versions must equal ArcGIS's own: arcpy's compiled modules are built against them.
PINNED_PACKAGES = ("numpy", "matplotlib", "scipy")
TOOLS = ("ipython", "notebook", "spyder")
PRO_MODES = ("clone", "conda")
PACKAGE_FORMATS = ("auto", "tar_bz2", "prefer_conda")

# Bounds of the interactive tools per Python line; the channel's own metadata decides the rest.
#  - IPython: 6.0 dropped Python 2.7 ("use the IPython 5.x LTS release"); 7.0 requires 3.5+, 7.10+
#    requires 3.6+, 7.17+ requires 3.7+ (ipython.readthedocs.io/en/6.x/about/index.html and the
#    "IPython versions and Python Support" table of IPython's README).
#  - Jupyter Notebook: 6.0 dropped Python 2 (notebook changelog, as quoted in OpenBSD's
#    jupyter-notebook 6.0.3 update; Python 2 users stay on 5.7.x).
#  - Spyder: 5 is Python 3 only (spyder-ide/spyder#10963). For 2.7 we stay on 3.x: the 2.7-era stack
#    comes from the frozen `free` channel, whose Spyder builds are 3.x; admins can override with an
#    extra package such as `spyder=4`.
#  - Python 3.13 (ArcGIS Pro 3.6/3.7): IPython and Notebook need no bound. Esri itself ships IPython
#    8.37/8.38 and Notebook 7.3.3 on 3.13 (arcgis-dist.json, plugins/module_utils/arcgis_pro_dist.py), and
#    IPython 9.x builds for 3.13 exist on `main` (anaconda.org/anaconda/ipython, py313 builds of 9.11.0).
#    Spyder is first known good on 3.13 with 6.2: "After PR #26171 we can be certain that Spyder works
#    without issues with Python 3.13", its installers moving to 3.13 for 6.2.0a2 (spyder-ide/spyder#26201).
#    Esri ships no Spyder, so a Pro clone gets it from the channels; an extra `spyder=...` overrides this.
TOOL_CAPS: dict[str, dict[str, str]] = {
    "2.7": {"ipython": "<6", "notebook": "<6", "spyder": "<4"},
    "3.4": {"ipython": "<7"},
    "3.5": {"ipython": "<7.10"},
    "3.6": {"ipython": "<7.17"},
    "3.13": {"spyder": ">=6.2"},
}
# Python lines whose packages live in Anaconda's frozen `free` channel (removed from `defaults` in
# conda 4.7): ArcMap/ArcGIS Server 10.x (2.7) and ArcGIS Pro 1.x-2.0 (3.4/3.5).
FREE_CHANNEL_LINES = frozenset({"2.7", "3.4", "3.5"})
# Esri added `conda create --clone ... --pinned` (copy the source env's conda-meta/pinned) in Pro 3.2;
# the Pro 3.0/3.1 help shows the clone command without it (pro.arcgis.com .../what-is-conda.htm), the 3.2
# help first says "The --pinned flag is introduced by Esri", and Esri's upstream proposal of the flag is
# conda/conda#12499 (2023-03-18, after Pro 3.1). A claim that Pro has had it "since at least 3.0.3" found
# no source, so the boundary stays 3.2: an unknown flag would fail the clone, while leaving it out loses
# nothing (the role writes the clone's conda-meta\pinned itself, see fleet_changes.merge_pinned).
PRO_PINNED_FLAG_SINCE = (3, 2)

_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


# Shortcuts, decided: conda on Windows makes a package's menu/*.json Start-menu shortcuts with menuinst
# (conda/core/path_actions.py MakeMenuAction, on when context.shortcuts; `--no-shortcuts` turns it off) and
# removes them when the package or the env is removed (RemoveMenuAction, whatever that setting). menuinst
# puts them in the all-users Start Menu when the conda root has no `.nonadmin` marker and the run is
# elevated (menuinst 1.4 __init__.install, mode 'system'), which is the miniconda role's AllUsers install
# run by the admin account: lab-wide "Spyder (<env>)" / "Jupyter Notebook (<env>)" that `absent` (conda
# remove --all) takes away again. arcgis_env_shortcuts: false passes --no-shortcuts to every create/install.
SHORTCUTS_NOTE = "conda's menuinst: all-users Start-menu shortcuts, removed with the env"


class SpecError(ValueError):
    """Bad input: names the ArcGIS install or variable, the bad value and the fix."""


@dataclass(frozen=True)
class EnvSettings:
    """Fleet-wide choices, from the role's variables."""

    channel_base: str = "https://repo.anaconda.com/pkgs"
    channels: tuple[str, ...] = ()
    tools: tuple[str, ...] = TOOLS
    extra_packages: tuple[str, ...] = ()
    products: tuple[str, ...] = ("desktop", "desktop_bgp", "pro")
    names: Mapping[str, str] = field(default_factory=dict)
    pro_mode: str = "clone"
    pro_modes: Mapping[str, str] = field(default_factory=dict)
    prefix_root: str = "C:\\ProgramData\\arcgis-conda\\envs"
    host_lock_dir: str = "C:\\ProgramData\\arcgis-conda\\arcgis_env\\locks"
    package_format: str = "auto"
    # The source policy (module_utils/package_sources.py): fleet_anaconda_channels, fleet_package_mirror.
    # fleet_anaconda_channels has no default (the plan stops without it); this one serves direct callers.
    anaconda: str = "licensed"
    mirror: str = ""
    conda_forge_channel: str = ps.CONDA_FORGE
    esri_channel: str = ps.ESRI
    # Start-menu shortcuts of the tools (Spyder, Jupyter Notebook): see SHORTCUTS_NOTE.
    shortcuts: bool = True

    @cached_property
    def policy(self) -> ps.Policy:
        try:
            return ps.Policy.from_args(self.anaconda, self.mirror)
        except ps.SourceError as exc:
            raise SpecError(str(exc)) from None

    def source(self, fact: Mapping[str, Any], clone: bool) -> ps.EnvSource:
        """The channels of this ArcGIS Python's env under the policy (SpecError when not allowed)."""
        python = str(fact["python_major_minor"])
        try:
            return ps.env_source(
                self.policy,
                python,
                int(fact["bits"]),
                clone=clone,
                anaconda_channels=env_default_channels(python, self.channel_base),
                custom=self.channels,
                conda_forge=self.conda_forge_channel,
                esri=self.esri_channel,
                who=release_label(fact),
            )
        except ps.SourceError as exc:
            raise SpecError(str(exc)) from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> EnvSettings:
        """Build settings from role variables (lists become tuples); unknown keys are an error."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown arcgis_env setting(s) {unknown}; known: {sorted(known)}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if value is None:
                continue
            if key in ("channels", "tools", "extra_packages", "products"):
                value = tuple(str(v) for v in value)
            elif key in ("names", "pro_modes"):
                value = {str(k): str(v) for k, v in dict(value).items()}
            elif key == "shortcuts":
                text = str(value).strip().lower()
                if not isinstance(value, bool) and text not in ("true", "false"):
                    raise SpecError(f"arcgis_env_shortcuts: {value!r} is not true or false")
                value = value if isinstance(value, bool) else text == "true"
            else:
                value = str(value)
            values[key] = value
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for tool in self.tools:
            if tool not in TOOLS:
                raise SpecError(f"arcgis_env_tools: {tool!r} is not one of {list(TOOLS)}")
        for product in self.products:
            if product not in PRODUCTS:
                raise SpecError(f"arcgis_env_products: {product!r} is not one of {list(PRODUCTS)}")
        for arcgis_id, mode in {"(default)": self.pro_mode, **self.pro_modes}.items():
            if mode not in PRO_MODES:
                raise SpecError(
                    f"arcgis_env_pro_mode for {arcgis_id}: {mode!r} is not one of {list(PRO_MODES)}"
                )
        self.policy  # noqa: B018 - a property: raises SpecError when the package-source settings are bad
        if self.package_format not in PACKAGE_FORMATS:
            raise SpecError(
                f"arcgis_env_package_format: {self.package_format!r} is not one of {list(PACKAGE_FORMATS)}"
            )
        for arcgis_id, name in self.names.items():
            if not _ENV_NAME.match(name):
                raise SpecError(
                    f"arcgis_env_names[{arcgis_id!r}]: {name!r} is not a usable conda env name "
                    "(letters, digits, '.', '_', '-'; no spaces; at most 64 characters)"
                )
        for extra in self.extra_packages:
            parse_match_spec(extra, "arcgis_env_extra_packages")


@dataclass(frozen=True)
class EnvSpec:
    """One Python stack to solve: everything that decides the lock, and nothing else."""

    platform: str
    python: str
    pins: tuple[tuple[str, str], ...]
    tools: tuple[str, ...]
    extras: tuple[str, ...]
    channels: tuple[str, ...]
    package_format: str

    @property
    def match_specs(self) -> list[str]:
        """The specs handed to the solver (and to `conda create` when there is no lock)."""
        return [f"python={self.python}", *(f"{n}=={v}" for n, v in self.pins), *self.tools, *self.extras]

    def normalised(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "python": self.python,
            "pins": [list(p) for p in self.pins],
            "tools": sorted(self.tools),
            "extras": sorted(self.extras),
            "channels": list(self.channels),
            "package_format": self.package_format,
        }

    @cached_property
    def key(self) -> str:
        """Short stable hash of the normalised spec: equal stacks, equal keys."""
        blob = json.dumps(self.normalised(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class EnvPlan:
    """What one host gets for one ArcGIS Python: an env, where, made how."""

    host: str
    arcgis_id: str
    product: str
    version: str
    name: str
    kind: str  # conda | pro_clone
    method: str  # lock | fallback | clone
    prefix: str
    python_exe: str
    site_packages: tuple[str, ...]
    python_major_minor: str
    python_version: str
    bits: int
    platform: str
    conda_exe: str
    conda_flavour: str
    pins: Mapping[str, str]
    spec_key: str
    install_specs: tuple[str, ...]
    channels: tuple[str, ...]
    lock_path: str = ""
    host_lock_path: str = ""
    clone_source: str = ""
    clone_pinned_flag: bool = False
    pinned_lines: tuple[str, ...] = ()
    # Where the env's packages come from (package_sources.env_source): why, and the upstream channel
    # behind each of ``channels`` (the same channel, or the one a mirror channel copies).
    source_label: str = ""
    upstream_channels: tuple[str, ...] = ()
    shortcuts: bool = True

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        data["pins"] = dict(self.pins)
        return data


@dataclass
class FleetPlan:
    """Plans per host, the distinct specs they need, and who needs each spec."""

    plans: dict[str, list[EnvPlan]] = field(default_factory=dict)
    specs: dict[str, EnvSpec] = field(default_factory=dict)
    releases: dict[str, set[str]] = field(default_factory=dict)
    hosts: dict[str, set[str]] = field(default_factory=dict)
    skipped: dict[str, list[str]] = field(default_factory=dict)


def parse_match_spec(text: str, where: str) -> MatchSpec:
    """Parse like conda does; conda's own `numpy 1.9.2` form is accepted when its canonical form is strict."""
    try:
        return MatchSpec(text, strict=True)
    except InvalidMatchSpecError as strict_error:
        try:
            lenient = MatchSpec(text)
            MatchSpec(str(lenient), strict=True)
        except InvalidMatchSpecError:
            raise SpecError(
                f"{where}: {text!r} is not a conda match spec ({strict_error}); "
                "e.g. 'pandas' or 'pandas=0.18'"
            ) from strict_error
        return lenient


def spec_name(spec: MatchSpec) -> str:
    return spec.name.normalized


def platform_for(bits: int) -> str:
    """win-32 for 32-bit Pythons (ArcMap), win-64 for everything else."""
    return "win-32" if int(bits) == 32 else "win-64"


def version_tuple(version: str, parts: int) -> tuple[int, ...]:
    numbers = [int(n) for n in re.findall(r"\d+", version or "")[:parts]]
    return tuple(numbers + [0] * (parts - len(numbers)))


def default_env_name(product: str, version: str) -> str:
    """Names in the seed's style: Desktop 10.4.1 -> arc1041, Pro 3.3 -> arcpro33."""
    if product == "pro":
        return "arcpro" + "".join(str(n) for n in version_tuple(version, 2))
    digits = "".join(re.findall(r"\d+", version or "")[:3]) or "0"
    prefix = {"desktop": "arc", "desktop_bgp": "arc", "server": "arcsrv"}[product]
    suffix = "x64" if product == "desktop_bgp" else ""
    return f"{prefix}{digits}{suffix}"


# Esri's channel, which ArcGIS Pro's own conda lists first (Pro's arcgispro-py3 .condarc: esri, defaults).
ESRI_CHANNEL = "https://conda.anaconda.org/esri"


def env_default_channels(python: str, base: str) -> tuple[str, ...]:
    base = base.rstrip("/")
    if python in FREE_CHANNEL_LINES:
        return (f"{base}/free", f"{base}/main")
    return (f"{base}/main",)


def resolve_package_format(setting: str, python: str) -> str:
    """Old conda (Miniconda2's) cannot parse `.conda` URLs in explicit files (conda/conda#9272)."""
    if setting != "auto":
        return setting
    return "tar_bz2" if python in FREE_CHANNEL_LINES else "prefer_conda"


def merge_extras(
    pins: Mapping[str, str], python: str, tools: Sequence[str], extras: Iterable[str], label: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Tools and extras as match specs; an extra may replace a tool's spec but never move a pin."""
    tool_specs = {tool: f"{tool}{TOOL_CAPS.get(python, {}).get(tool, '')}" for tool in tools}
    kept: dict[str, str] = {}
    for text in extras:
        spec = parse_match_spec(text, "arcgis_env_extra_packages")
        name = spec_name(spec)
        pinned = {"python": python, **pins}.get(name)
        if pinned is not None:
            wanted = spec.version
            if name == "python":
                ok = wanted is None or VersionSpec(wanted).matches(Version(f"{python}.0"))
            else:
                ok = wanted is None or _version_matches(wanted, pinned)
            if not ok:
                raise SpecError(
                    f"arcgis_env_extra_packages: {text!r} would move {name} away from {pinned}, the version "
                    f"{label} ships; its env must keep {name} {pinned}. Remove the version from the extra "
                    f"or drop {name!r} from arcgis_env_extra_packages."
                )
            continue  # already pinned exactly
        if name in tool_specs:
            tool_specs[name] = text
            continue
        kept[name] = text
    return tuple(tool_specs[t] for t in sorted(tool_specs)), tuple(kept[n] for n in sorted(kept))


def _version_matches(spec: str, version: str) -> bool:
    try:
        return VersionSpec(spec).matches(Version(version))
    except (InvalidVersionSpecError, InvalidVersionError):
        return False


def measured_pins(fact: Mapping[str, Any]) -> dict[str, str]:
    packages = fact.get("packages") or {}
    return {name: str(packages[name]) for name in PINNED_PACKAGES if packages.get(name)}


def release_label(fact: Mapping[str, Any]) -> str:
    return f"ArcGIS {fact.get('product')} {fact.get('version')} ({fact.get('id')})"


def build_spec(fact: Mapping[str, Any], settings: EnvSettings, clone: bool = False) -> EnvSpec:
    """The spec of one ArcGIS Python (facts contract: ansible_facts.arcgis[*]); ``clone``: the packages a
    Pro clone adds, solved with Esri's channel first (a mirror must hold them too)."""
    python = str(fact["python_major_minor"])
    pins = measured_pins(fact)
    tools, extras = merge_extras(pins, python, settings.tools, settings.extra_packages, release_label(fact))
    channels = settings.source(fact, clone).host_channels
    return EnvSpec(
        platform=platform_for(fact["bits"]),
        python=python,
        pins=tuple(sorted(pins.items())),
        tools=tools,
        extras=extras,
        channels=channels,
        package_format=resolve_package_format(settings.package_format, python),
    )


def pick_conda_install(
    fact: Mapping[str, Any], installs: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The Miniconda for this ArcGIS Python: the one naming it, else same bits and line, else same bits."""
    same_bits = [i for i in installs if int(i.get("bits") or 0) == int(fact["bits"])]
    for install in same_bits:
        if fact["id"] in (install.get("arcgis_ids") or []):
            return install
    for install in same_bits:
        if str(install.get("python_major_minor")) == str(fact["python_major_minor"]):
            return install
    return same_bits[0] if same_bits else None


def _pinned_lines(fact: Mapping[str, Any], pins: Mapping[str, str]) -> tuple[str, ...]:
    lines = [f"python =={fact['python_version']}"] if fact.get("python_version") else []
    lines += [f"{name} =={version}" for name, version in sorted(pins.items())]
    return tuple(lines)


def plan_arcgis_env(
    host: str,
    facts: Sequence[Mapping[str, Any]],
    installs: Sequence[Mapping[str, Any]],
    settings: EnvSettings,
) -> tuple[list[tuple[EnvPlan, EnvSpec | None]], list[str]]:
    """Plans (with the spec each conda env needs) and human-readable reasons for what was skipped."""
    out: list[tuple[EnvPlan, EnvSpec | None]] = []
    skipped: list[str] = []
    seen_names: dict[str, str] = {}
    for fact in facts:
        arcgis_id = str(fact.get("id"))
        product = str(fact.get("product"))
        if product not in settings.products:
            skipped.append(
                f"{arcgis_id}: product {product} is not in arcgis_env_products {list(settings.products)}"
            )
            continue
        if fact.get("status") != "ok" or not fact.get("python_major_minor"):
            problems = "; ".join(fact.get("problems") or []) or "no working Python"
            skipped.append(f"{arcgis_id}: ArcGIS Python is broken ({problems}); repair ArcGIS first")
            continue
        name = settings.names.get(arcgis_id) or default_env_name(product, str(fact.get("version")))
        if name in seen_names:
            raise SpecError(
                f"host {host}: {arcgis_id} and {seen_names[name]} would share the env name {name!r}; "
                f"set arcgis_env_names[{arcgis_id!r}] to a different name"
            )
        seen_names[name] = arcgis_id
        pins = measured_pins(fact)
        python = str(fact["python_major_minor"])
        common: dict[str, Any] = {
            "host": host,
            "arcgis_id": arcgis_id,
            "product": product,
            "version": str(fact.get("version")),
            "name": name,
            "python_major_minor": python,
            "python_version": str(fact.get("python_version") or ""),
            "bits": int(fact["bits"]),
            "platform": platform_for(fact["bits"]),
            "pins": pins,
            "shortcuts": settings.shortcuts,
        }
        mode = settings.pro_modes.get(arcgis_id, settings.pro_mode) if product == "pro" else "conda"
        if mode == "clone":
            root = fact.get("pro_conda_root")
            if not root:
                skipped.append(
                    f"{arcgis_id}: Pro's conda (PythonCondaRoot) was not found, so it cannot be cloned; "
                    f"set arcgis_env_pro_modes[{arcgis_id!r}]: conda to build a plain conda env instead"
                )
                continue
            tools, extras = merge_extras(
                pins, python, settings.tools, settings.extra_packages, release_label(fact)
            )
            source = settings.source(fact, clone=True)
            prefix = ntpath.join(settings.prefix_root, name)
            out.append(
                (
                    EnvPlan(
                        **common,
                        kind="pro_clone",
                        method="clone",
                        prefix=prefix,
                        python_exe=ntpath.join(prefix, "python.exe"),
                        site_packages=(ntpath.join(prefix, "Lib", "site-packages"),),
                        conda_exe=ntpath.join(root, "Scripts", "conda.exe"),
                        conda_flavour="arcgis-pro",
                        spec_key="",
                        install_specs=(*tools, *extras),
                        # The tools go in from Esri's channel and the stack's own, named on the command
                        # line (--override-channels): no condarc on the host chooses where they come from.
                        channels=source.host_channels,
                        source_label=source.label,
                        upstream_channels=source.upstream,
                        clone_source=ntpath.join(root, "envs", "arcgispro-py3"),
                        clone_pinned_flag=version_tuple(str(fact.get("version")), 2) >= PRO_PINNED_FLAG_SINCE,
                        pinned_lines=_pinned_lines(fact, pins),
                    ),
                    build_spec(fact, settings, clone=True) if settings.policy.mirror else None,
                )
            )
            continue
        install = pick_conda_install(fact, installs)
        if install is None:
            skipped.append(
                f"{arcgis_id}: no {fact['bits']}-bit Miniconda on this host to create {name}; "
                "run the miniconda "
                f"role with a {'miniconda2-x86' if int(fact['bits']) == 32 else 'miniconda3-x64'} flavour "
                "or set arcgis_env_conda_installs"
            )
            continue
        spec = build_spec(fact, settings)
        source = settings.source(fact, clone=False)
        prefix = ntpath.join(str(install["prefix"]), "envs", name)
        out.append(
            (
                EnvPlan(
                    **common,
                    kind="conda",
                    method="lock",
                    prefix=prefix,
                    python_exe=ntpath.join(prefix, "python.exe"),
                    site_packages=(ntpath.join(prefix, "Lib", "site-packages"),),
                    conda_exe=str(install["conda_exe"]),
                    conda_flavour=str(install.get("flavour") or ""),
                    spec_key=spec.key,
                    install_specs=tuple(spec.match_specs),
                    channels=spec.channels,
                    source_label=source.label,
                    upstream_channels=source.upstream,
                    host_lock_path=ntpath.join(settings.host_lock_dir, f"{name}.txt"),
                ),
                spec,
            )
        )
    return out, skipped


def plan_fleet(
    hosts: Mapping[str, Mapping[str, Any]],
    settings: EnvSettings,
) -> FleetPlan:
    """Plan every host; ``hosts[host]`` is ``{"arcgis": [facts...], "conda_installs": [...]}``."""
    fleet = FleetPlan()
    for host in sorted(hosts):
        data = hosts[host] or {}
        facts = data.get("arcgis") or []
        installs = data.get("conda_installs") or []
        if not isinstance(facts, list) or not isinstance(installs, list):
            raise SpecError(f"host {host}: ansible_facts.arcgis and arcgis_env_conda_installs must be lists")
        planned, skipped = plan_arcgis_env(host, facts, installs, settings)
        fleet.plans[host] = [plan for plan, _rest in planned]
        if skipped:
            fleet.skipped[host] = skipped
        for plan, spec in planned:
            if spec is None:
                continue
            fleet.specs.setdefault(spec.key, spec)
            fleet.releases.setdefault(spec.key, set()).add(
                f"ArcGIS {plan.product} {plan.version} ({plan.arcgis_id})"
            )
            fleet.hosts.setdefault(spec.key, set()).add(host)
    return fleet
