"""Where each Miniconda installer and each conda env comes from: the licence-aware source policy.

One organisation-wide choice, ``fleet_anaconda_channels``, records what the organisation may use of
Anaconda's repository (``repo.anaconda.com``: the installers and the ``pkgs/main``/``pkgs/free``
channels):

- ``licensed``: it holds a paid Anaconda licence; Anaconda's installers and channels may serve hosts.
- ``not_licensed``: it does not; nothing of Anaconda's repository is used. 64-bit Python 3 stacks come
  from conda-forge; a stack only Anaconda carries (32-bit, or Python 2.7/3.4/3.5) cannot be planned.
- ``mirror_only``: Anaconda's packages reach hosts only through the organisation's own mirror
  (``fleet_package_mirror``, built by playbooks/mirror.yml); mirroring needs the licence as well.

Sources (see roles/arcgis_env/README.md, "Package sources", for the pages):
- Anaconda's ToS FAQ: a paid licence for organisations of more than 200 employees or contractors, and
  always for mirroring (https://www.anaconda.com/pricing/terms-of-service-faqs).
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
        value = str(licence or "licensed")
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
        raise SourceError(
            f"{who}: the {flavour} installer would come from Anaconda's archive ({base}), but {VARIABLE} is "
            "not_licensed. Fix: for miniconda3-x64 use conda-forge's licence-free Miniforge3 installer "
            "(miniconda_installer_files, miniconda_checksums and miniconda_source at its download folder); "
            f"set {VARIABLE}: licensed; or leave this Miniconda out (miniconda_flavour_overrides, e.g. "
            "{pro: none}: ArcGIS Pro's clone uses Pro's own conda)."
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
