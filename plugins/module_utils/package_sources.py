"""Where each Miniconda installer and each conda env comes from: the licence-aware source policy.

One organisation-wide choice, ``fleet_anaconda_channels``, records what the organisation may use of
Anaconda's repository (``repo.anaconda.com``: the installers and the ``pkgs/main``/``pkgs/free``
channels):

- ``licensed``: it holds a paid Anaconda licence; Anaconda's installers and channels may serve hosts.
- ``not_licensed``: it does not; nothing of Anaconda's repository is used. 64-bit Python 3 stacks come
  from conda-forge; a stack only Anaconda carries (32-bit, or Python 2.7/3.4/3.5) cannot be planned.
- ``mirror_only``: Anaconda's packages reach hosts only through the organisation's own mirror
  (``fleet_package_mirror``, built by playbooks/mirror.yml); mirroring needs the licence as well.

The choice has no default: a run that does not set it stops in the plan, before any change, with
``choice_needed`` (the three choices, Anaconda's terms, and what fits each of the host's ArcGIS stacks).

Sources (see roles/arcgis_env/README.md, "Package sources", for the pages):
- Anaconda's ToS FAQ: a paid licence for organisations of more than 200 employees or contractors, and
  always for mirroring; free for accredited universities' curriculum use, teaching, learning and research
  (https://www.anaconda.com/pricing/terms-of-service-faqs).
- Anaconda's Academic Policy: free access for accredited higher-education institutions through the
  Anaconda for Education program; non-profit and research organisations get discounted, not free, access
  (https://www.anaconda.com/legal/terms/academic-non-profit).
- conda-forge dropped win-32 (conda-forge/staged-recipes#5705) and stopped Python 2.7 builds in 2020
  (conda-forge/cfep#20); ArcMap's 2.7 stacks are in Anaconda's ``free`` channel.
- Esri: the ``esri`` channel in Esri products is covered by Esri's agreement; mirroring Anaconda's
  repositories needs an Anaconda licence (doc.arcgis.com .../get-started/what-is-conda.htm).

With a mirror every host channel is ``<mirror>/<upstream path>`` (``pkgs/main``, ``pkgs/free``,
``conda-forge``, ``esri``), the layout of Anaconda's own repository; the controller maps each back to its
upstream channel to solve and to build the mirror. Pure functions, no Ansible imports.
"""

from __future__ import annotations

import ntpath
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LICENCES = ("licensed", "not_licensed", "mirror_only")
VARIABLE = "fleet_anaconda_channels"
MIRROR_VARIABLE = "fleet_package_mirror"
ANACONDA_HOSTS = frozenset({"repo.anaconda.com", "repo.continuum.io"})
CONDA_FORGE = "https://conda.anaconda.org/conda-forge"
ESRI = "https://conda.anaconda.org/esri"
# Python lines conda-forge never carried or stopped building, so only Anaconda's `free`/`main` have them.
ANACONDA_ONLY_LINES = frozenset({"2.7", "3.4", "3.5"})
INSTALLERS_DIR = "installers"
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


class SourceError(ValueError):
    """A source the admin has not allowed: names host, variable, value and the fix."""


@dataclass(frozen=True)
class Policy:
    """The organisation's choice, and its mirror (as hosts reach it), from the fleet_* variables."""

    licence: str = "licensed"
    mirror: str = ""  # '' | https://... | file://server/share/... (a UNC share) | file:///C:/...

    @classmethod
    def from_args(cls, licence: object, mirror: object) -> Policy:
        value = str(licence or "")
        if not value:
            raise SourceError(choice_needed([]))
        if value not in LICENCES:
            raise SourceError(f"{VARIABLE} = {value!r} must be one of {', '.join(LICENCES)}")
        policy = cls(value, mirror_url(mirror))
        if policy.licence == "mirror_only" and not policy.mirror:
            raise SourceError(
                f"{VARIABLE} = mirror_only needs {MIRROR_VARIABLE}. Fix: build the mirror with "
                "playbooks/mirror.yml and set fleet_package_mirror to its URL or UNC share, or set "
                f"{VARIABLE}: licensed."
            )
        return policy

    @property
    def anaconda_allowed(self) -> bool:
        return self.licence != "not_licensed"

    @property
    def label(self) -> str:
        where = f", hosts read only the mirror {self.mirror}" if self.mirror else ""
        return f"Anaconda licence: {self.licence}{where}"


TERMS_URL = "https://www.anaconda.com/pricing/terms-of-service-faqs"
ACADEMIC_URL = "https://www.anaconda.com/legal/terms/academic-non-profit"
# Anaconda's terms as its own pages state them (TERMS_URL, ACADEMIC_URL), read 2026-12: the organisation
# decides which applies to it; the collection never assumes one.
TERMS = (
    f"Anaconda's terms ({TERMS_URL}, {ACADEMIC_URL}): its installers and channels are free for "
    "organisations of fewer than 200 employees and contractors; above that a paid licence is needed, "
    "government and non-profit organisations included (non-profit and research organisations are offered "
    "a discount, not free use); an accredited university or college may use them free for teaching, "
    "learning and research in a course curriculum (Anaconda for Education); mirroring them always needs a "
    "paid licence"
)
CHOICES = (
    "licensed: the organisation holds an Anaconda licence, or the terms above make its use free; "
    "Anaconda's installers and channels serve every stack",
    "not_licensed: nothing of Anaconda's repository; 64-bit Python 3 stacks come from conda-forge and "
    "Esri's channel, and a stack only Anaconda carries (32-bit ArcMap, Python 2.7) cannot be planned",
    f"mirror_only: hosts read only the organisation's mirror ({MIRROR_VARIABLE}, built by "
    "playbooks/mirror.yml; mirroring needs the licence)",
)


def setting_label(variables: Mapping[str, Any]) -> str:
    """The choice in force as the host's variables set it (a host whose plan failed has no Policy)."""
    value = variables.get(VARIABLE)
    mirror = variables.get(MIRROR_VARIABLE) or ""
    shown = "not set (the organisation's decision, see the problem)" if value in (None, "") else str(value)
    return f"Anaconda licence: {shown}" + (f", mirror {mirror}" if mirror else "")


def fitting_choices(installs: Sequence[Mapping[str, Any]]) -> list[str]:
    """For each ArcGIS install, which choices can serve its stack (32-bit, Python 2.7: Anaconda's only)."""
    out = []
    for install in installs:
        name = f"ArcGIS {install.get('product')} {install.get('version')} ({install.get('id')})"
        why = anaconda_only(str(install.get("python_major_minor") or ""), int(install.get("bits") or 64))
        if why:
            out.append(
                f"{name}: only Anaconda's channels carry its stack because {why}: licensed or mirror_only "
                "(never conda-forge or Miniforge)"
            )
        else:
            out.append(f"{name}: any of the three (not_licensed serves it from conda-forge and Esri)")
    return out


def choice_needed(installs: Sequence[Mapping[str, Any]]) -> str:
    """Why the plan stops without fleet_anaconda_channels: a decision only the organisation can make."""
    fits = fitting_choices(installs)
    return "\n    ".join(
        [
            f"{VARIABLE} is not set: what the organisation may use of Anaconda's repository is its decision, "
            "so it has no default.",
            f"{TERMS}.",
            f"Fix: set {VARIABLE} once for the fleet (e.g. group_vars/windows_workstations/fleet.yml) "
            "to one of:",
            *(f"({n}) {c}" for n, c in enumerate(CHOICES, 1)),
            *([f"On this host: {'; '.join(fits)}."] if fits else []),
        ]
    )


def mirror_url(raw: object) -> str:
    """The mirror as a channel base URL: an https/http URL, a UNC share or a host folder (as file://)."""
    text = str(raw or "").strip()
    if not text:
        return ""
    if text.lower().startswith(("http://", "https://", "file://")):
        return text.rstrip("/")
    if text.startswith(("\\\\", "//")):
        # conda reads a UNC share as file://server/share/... (the URL's netloc is the server).
        parts = [p for p in re.split(r"[\\/]+", text) if p]
        return "file://" + "/".join(urllib.parse.quote(p) for p in parts)
    if _DRIVE.match(text):
        return "file:///" + text.replace("\\", "/").rstrip("/")
    raise SourceError(
        f"{MIRROR_VARIABLE} = {text!r} is neither a URL, a UNC share nor a Windows folder. Fix: e.g. "
        "https://conda-mirror.agency.example/conda or \\\\fileserver\\conda-mirror."
    )


def is_share(mirror: str) -> bool:
    """A mirror on a UNC share: hosts read it over SMB, so WinRM sessions need outbound credentials."""
    parsed = urllib.parse.urlparse(mirror)
    return parsed.scheme == "file" and bool(parsed.netloc)


def is_anaconda(url: str) -> bool:
    return (urllib.parse.urlparse(url).hostname or "").lower() in ANACONDA_HOSTS


def channel_path(upstream: str) -> str:
    """Where an upstream channel sits in the mirror: its URL path (pkgs/main, conda-forge, esri)."""
    parsed = urllib.parse.urlparse(upstream.rstrip("/"))
    path = parsed.path.strip("/")
    if parsed.scheme == "file" or not path:
        path = path.rsplit("/", 1)[-1] or (parsed.hostname or "channel")
    return path


def on_mirror(mirror: str, upstream: str) -> str:
    return f"{mirror}/{channel_path(upstream)}"


def anaconda_only(python: str, bits: int) -> str:
    """Why only Anaconda's channels carry a stack ('' when conda-forge can)."""
    if int(bits) == 32:
        return "it is 32-bit (conda-forge dropped win-32)"
    if python == "2.7":
        return "it is Python 2.7 (conda-forge stopped Python 2.7 builds in 2020; ArcMap's pins are older)"
    if python in ANACONDA_ONLY_LINES:
        return f"it is Python {python} (ArcGIS Pro 1.x-2.0's stack lives in Anaconda's frozen free channel)"
    return ""


@dataclass(frozen=True)
class EnvSource:
    """The channels of one env: those hosts use, and the upstream each maps to on the controller."""

    host_channels: tuple[str, ...]
    upstream: tuple[str, ...]
    label: str
    licence_required: bool

    @property
    def controller_map(self) -> dict[str, str]:
        return {h: u for h, u in zip(self.host_channels, self.upstream, strict=True) if h != u}

    def line(self, name: str) -> str:
        return f"env {name}: {', '.join(self.host_channels)} ({self.label})"


def env_source(
    policy: Policy,
    python: str,
    bits: int,
    *,
    clone: bool,
    anaconda_channels: Sequence[str],
    custom: Sequence[str] = (),
    conda_forge: str = CONDA_FORGE,
    esri: str = ESRI,
    who: str = "",
) -> EnvSource:
    """Which channels serve one env. ``anaconda_channels`` are the stack's Anaconda channels
    (free+main or main, from arcgis_env_channel_base); ``custom`` is arcgis_env_channels when set."""
    why = anaconda_only(python, bits)
    if custom:
        upstream = tuple(c.rstrip("/") for c in custom)
        label = "arcgis_env_channels"
        required = any(is_anaconda(c) for c in upstream)
        if required and not policy.anaconda_allowed:
            bad = [c for c in upstream if is_anaconda(c)]
            raise SourceError(
                f"{who}: arcgis_env_channels lists Anaconda's {', '.join(bad)} but {VARIABLE} is "
                "not_licensed. Fix: remove them from arcgis_env_channels, or set "
                f"{VARIABLE}: licensed if the organisation holds an Anaconda licence."
            )
    elif why:
        if not policy.anaconda_allowed:
            raise SourceError(
                f"{who}: needs Anaconda's channels because {why}, but {VARIABLE} is not_licensed. Fix: set "
                f"{VARIABLE}: licensed (or mirror_only with fleet_package_mirror) if the organisation holds "
                "an Anaconda licence, or leave this ArcGIS out (arcgis_env_products / "
                "miniconda_flavour_overrides)."
            )
        upstream = tuple(c.rstrip("/") for c in anaconda_channels)
        label, required = f"Anaconda: only it carries this stack, {why}", True
    elif policy.anaconda_allowed:
        upstream = tuple(c.rstrip("/") for c in anaconda_channels)
        label, required = "Anaconda, licensed", any(is_anaconda(c) for c in upstream)
    else:
        upstream = (conda_forge.rstrip("/"),)
        label, required = "conda-forge, licence-free", False
    if clone:
        upstream = (esri.rstrip("/"), *(c for c in upstream if c != esri.rstrip("/")))
        label = f"Esri's channel first (ArcGIS Pro's own conda), then {label}"
    host = tuple(on_mirror(policy.mirror, c) for c in upstream) if policy.mirror else upstream
    if policy.mirror:
        label += f"; through the mirror {policy.mirror}"
    return EnvSource(host, upstream, label, required)


@dataclass(frozen=True)
class InstallerSource:
    kind: str  # url | host_path | controller (miniconda_plan.classify_source)
    base: str
    label: str
    upstream: str  # where playbooks/mirror.yml downloads it from ('' when it is not mirrored)


def installer_source(
    policy: Policy,
    flavour: str,
    kind: str,
    base: str,
    mirror_raw: str = "",
    who: str = "",
) -> InstallerSource:
    """Where a Miniconda installer comes from. With a mirror, a URL source (the official archive or
    another) becomes the mirror's ``installers`` folder and the mirror's upstream; Anaconda's archive
    needs the licence either way."""
    from_anaconda = kind == "url" and is_anaconda(base)
    if from_anaconda and not policy.anaconda_allowed:
        if flavour.endswith("x86") or flavour.startswith("miniconda2"):
            # conda-forge has no win-32 and no Python 2.7: Miniforge has no installer for this Miniconda.
            fix = (
                f"this Miniconda ({flavour}) exists only in Anaconda's archive (Miniforge has no 32-bit or "
                f"Python 2.7 build): set {VARIABLE}: licensed, or mirror_only with {MIRROR_VARIABLE}, if the "
                "organisation holds an Anaconda licence or its terms make the use free; or leave this ArcGIS "
                "out (miniconda_flavour_overrides, arcgis_env_products)"
            )
        else:
            fix = (
                "use conda-forge's licence-free Miniforge3 installer (miniconda_installer_files, "
                "miniconda_checksums and miniconda_source at its download folder); "
                f"set {VARIABLE}: licensed; or leave this Miniconda out (miniconda_flavour_overrides, "
                "e.g. {pro: none}: ArcGIS Pro's clone uses Pro's own conda)"
            )
        raise SourceError(
            f"{who}: the {flavour} installer would come from Anaconda's archive ({base}), but {VARIABLE} is "
            f"not_licensed. Fix: {fix}."
        )
    if policy.mirror and kind == "url":
        # miniconda_source is then the mirror's upstream: playbooks/mirror.yml copies the file from it.
        raw = str(mirror_raw or policy.mirror).strip()
        if raw.startswith(("\\\\", "//")):
            folder = ntpath.join(raw.replace("/", "\\").rstrip("\\"), INSTALLERS_DIR)
            return InstallerSource("host_path", folder, f"the mirror's share {folder}", base)
        url = f"{policy.mirror}/{INSTALLERS_DIR}/"
        return InstallerSource("url", url, f"the mirror {url}", base)
    if policy.licence == "mirror_only" and kind == "host_path":
        share = str(mirror_raw or "").replace("/", "\\").rstrip("\\").lower()
        if not share or not base.lower().startswith(share):
            raise SourceError(
                f"{who}: {VARIABLE} = mirror_only, but miniconda_source = {base} is not in the mirror. Fix: "
                "set miniconda_source to the installers' URL (the mirror then serves them) or a folder of "
                "the mirror's share."
            )
    label = "Anaconda's archive, licensed" if from_anaconda else "miniconda_source"
    return InstallerSource(kind, base, label, "")


@dataclass(frozen=True)
class CondarcChannels:
    channels: list[str]
    default_channels: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


def condarc_channels(
    policy: Policy,
    channels: Sequence[str],
    default_channels: Sequence[str],
    conda_forge: str = CONDA_FORGE,
) -> CondarcChannels | None:
    """What the machine condarc lists, under the policy; None keeps the role's own (licensed, no mirror).

    ``default_channels`` is what the role computed (Anaconda's, or miniconda_channel_mirror's)."""
    if policy.licence != "not_licensed" and not policy.mirror:
        return None
    if policy.anaconda_allowed:
        defaults = [on_mirror(policy.mirror, c) for c in default_channels]
        named = [on_mirror(policy.mirror, c) if "://" in c else c for c in channels]
    else:
        forge = on_mirror(policy.mirror, conda_forge) if policy.mirror else conda_forge.rstrip("/")
        # `defaults` resolves to conda-forge too: nothing on a host points at Anaconda's repository.
        defaults = [forge]
        named = [forge]
    extra = {"channel_alias": policy.mirror} if policy.mirror else {}
    return CondarcChannels(named, defaults, extra)


def installer_sources_lines(policy: Policy, installers: Sequence[Mapping[str, Any]]) -> list[str]:
    """The "Package sources" cell's first lines for one host: the licence choice, then each installer."""
    lines = [policy.label]
    for install in installers:
        installer = install.get("installer") or {}
        lines.append(
            f"installer {install.get('flavour')}: {installer.get('source')} ({installer.get('source_label')})"
        )
    return lines


def env_sources_lines(envs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The "Package sources" cell's lines for each env: its channels and where they come from."""
    return [
        f"env {env.get('name')}: {', '.join(env.get('channels') or [])} ({env.get('source_label')})"
        for env in envs
    ]


def upstream_url(url: str, controller_map: Mapping[str, str]) -> str:
    """The upstream URL of a host-side package URL (a lock line on the mirror)."""
    for host, upstream in sorted(controller_map.items(), key=lambda kv: -len(kv[0])):
        if url.startswith(host.rstrip("/") + "/"):
            return upstream.rstrip("/") + url[len(host.rstrip("/")) :]
    return url


def mark_share_reads(changes: Sequence[dict[str, Any]], mirror: str) -> int:
    """Flag the conda commands that read a mirror on a UNC share (``share_read``): the fleet's command
    step runs them with runas new_credentials, as it copies installers from a share (the double hop)."""
    if not is_share(mirror):
        return 0
    marked = 0
    for change in changes:
        if change.get("role") == "arcgis_env" and change.get("step") == "command":
            change["item"]["share_read"] = True
            marked += 1
    return marked
