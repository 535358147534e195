"""What each ArcGIS release ships in its Python: the table behind the ``arcgis_stack`` filter.

Measured values (``ansible_facts.arcgis`` from ``arcgis_facts``) always win over this table. The table
serves planning without a connection, check mode, and flagging a host whose ArcGIS Python has drifted
from what the release shipped.

Every value names its source. A value nobody could source stays ``None`` and its field is listed in
``unverified``; a value from a community page (not Esri, not this project's own seed measurement) is
kept but listed in ``unverified`` too. ArcGIS Pro rows are keyed by major.minor (Esri publishes one
Python distribution per Pro minor release); Desktop rows by the release as the registry reports it.
ArcMap (Desktop 10.x) was retired on 1 March 2026: still covered because labs still run it.
No Ansible imports: plain data in, plain data out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PRODUCTS = ("desktop", "desktop_bgp", "pro")
STACK_PACKAGES = ("numpy", "matplotlib", "scipy")
FIELDS = ("python", "bits", *STACK_PACKAGES)


@dataclass(frozen=True)
class Source:
    """Where a value comes from; ``verified`` is true only for Esri's own data or the seed's measurement."""

    title: str
    url: str
    verified: bool


SOURCES: dict[str, Source] = {
    "esri-arcpy-dist": Source(
        "Esri, arcpy repository, docs/arcgis-dist.json (conda packages per ArcGIS Pro release 2.0-3.5)",
        "https://github.com/Esri/arcpy/blob/main/docs/arcgis-dist.json",
        True,
    ),
    "esri-pro-sysreq": Source(
        "Esri, ArcGIS Pro system requirements (x64 platform, 64-bit Windows only)",
        "https://pro.arcgis.com/en/pro-app/latest/get-started/arcgis-pro-system-requirements.htm",
        True,
    ),
    "esri-faq-000027736": Source(
        "Esri FAQ 000027736: the ArcMap runtime ships Python 2.7",
        "https://support.esri.com/en-us/knowledge-base/arcgis-enterprise-the-arcmap-runtime-and-moving-away-fr-000027736",
        True,
    ),
    "seed": Source(
        "This project's seed (USGS wiki 'Anaconda for ArcGIS'): measured on ArcGIS 10.4.x; ArcMap is "
        "32-bit and its user site is Python27",
        "https://my.usgs.gov/confluence/pages/viewpage.action?pageId=571586700",
        True,
    ),
    "gist-gismd": Source(
        "Community gist GISmd/e48da8c8820d0306268f1ed872e64fac: numpy per ArcGIS Desktop 10.1-10.7.1",
        "https://gist.github.com/GISmd/e48da8c8820d0306268f1ed872e64fac",
        False,
    ),
    "usgs-wiki-10.2.2": Source(
        "USGS wiki pages (earlier revisions of the seed, and its pandas page pageId=537493904): ArcGIS "
        "10.2.2 has numpy 1.7.1; its ArcMap Python 2.7.5 reports numpy 1.7.1, matplotlib 1.3.0",
        "https://my.usgs.gov/confluence/pages/diffpagesbyversion.action?pageId=571586700",
        False,
    ),
    "gist-vesnikos": Source(
        "Community gist vesnikos/1681eaede50e9f2c0ef6a57aaaf99600: 'arcpy 10.5 default packages' (pip "
        "freeze; its numpy entry disagrees with gist-gismd, so numpy is left unsourced)",
        "https://gist.github.com/vesnikos/1681eaede50e9f2c0ef6a57aaaf99600",
        False,
    ),
    "unsourced": Source(
        "No source found: the release exists, its Python stack is not published here", "", False
    ),
}


@dataclass(frozen=True)
class Release:
    """One release's shipped Python stack; ``sources`` maps each field to a key of SOURCES."""

    product: str
    version: str
    python: str | None
    bits: int | None
    numpy: str | None
    matplotlib: str | None
    scipy: str | None
    sources: dict[str, str] = field(default_factory=dict)

    def source_of(self, name: str) -> Source:
        return SOURCES[self.sources.get(name, "unsourced")]

    @property
    def unverified(self) -> list[str]:
        """Fields whose value is unknown (None) or comes only from a community page."""
        return [name for name in FIELDS if getattr(self, name) is None or not self.source_of(name).verified]

    def as_dict(self, product: str | None = None) -> dict[str, object]:
        """The filter's answer; desktop_bgp is the same stack as desktop, in 64 bits."""
        bits = 64 if product == "desktop_bgp" else self.bits
        keys = sorted({self.sources.get(name, "unsourced") for name in FIELDS})
        return {
            "product": product or self.product,
            "release": self.version,
            "python": self.python,
            "bits": bits,
            "numpy": self.numpy,
            "matplotlib": self.matplotlib,
            "scipy": self.scipy,
            "unverified": self.unverified,
            "source": "; ".join(_cite(SOURCES[key]) for key in keys),
        }


def _cite(source: Source) -> str:
    return f"{source.title} <{source.url}>" if source.url else source.title


def _desktop(
    version: str,
    numpy: str | None = None,
    matplotlib: str | None = None,
    scipy: str | None = None,
    *,
    python: str | None = "2.7",
    stack_source: str = "unsourced",
) -> Release:
    python_source = "esri-faq-000027736" if python else "unsourced"
    return Release(
        "desktop",
        version,
        python,
        32,
        numpy,
        matplotlib,
        scipy,
        {
            "python": python_source,
            "bits": "seed",
            **{name: stack_source for name in STACK_PACKAGES},
        },
    )


def _pro(
    version: str, python: str | None, numpy: str | None, matplotlib: str | None, scipy: str | None
) -> Release:
    stack = "esri-arcpy-dist" if python else "unsourced"
    return Release(
        "pro",
        version,
        python,
        64,
        numpy,
        matplotlib,
        scipy,
        {"python": stack, "bits": "esri-pro-sysreq", **{name: stack for name in STACK_PACKAGES}},
    )


# ArcGIS Desktop 10.x, every release. Python 2.7 from 10.1 on (10.0's Python is not sourced here).
DESKTOP: tuple[Release, ...] = (
    _desktop("10.0", python=None),
    _desktop("10.1", "1.6.1", stack_source="gist-gismd"),
    _desktop("10.2", "1.6.1", stack_source="gist-gismd"),
    _desktop("10.2.1"),
    _desktop("10.2.2", "1.7.1", "1.3.0", stack_source="usgs-wiki-10.2.2"),
    _desktop("10.3", "1.7.1", stack_source="gist-gismd"),
    _desktop("10.3.1"),
    _desktop("10.4", "1.9.2", "1.4.3", "0.15.1", stack_source="seed"),
    _desktop("10.4.1", "1.9.2", "1.4.3", "0.15.1", stack_source="seed"),
    _desktop("10.5", None, "1.5.2", "0.17.0", stack_source="gist-vesnikos"),
    _desktop("10.5.1"),
    _desktop("10.6"),
    _desktop("10.6.1"),
    _desktop("10.7"),
    _desktop("10.7.1", "1.9.3", stack_source="gist-gismd"),
    _desktop("10.8"),
    _desktop("10.8.1"),
    _desktop("10.8.2"),
)

# ArcGIS Pro 2.x-3.x, one row per minor release (patches ship the same distribution).
PRO: tuple[Release, ...] = (
    _pro("2.0", "3.5", "1.11.2", "1.5.3", "0.18.1"),
    _pro("2.1", "3.6", "1.13.1", "2.0.2", "0.19.1"),
    _pro("2.2", "3.6", "1.14.2", "2.2.2", "1.0.1"),
    _pro("2.3", "3.6", "1.15.1", "2.2.3", "1.1.0"),
    _pro("2.4", "3.6", "1.16.2", "3.0.3", "1.2.1"),
    _pro("2.5", "3.6", "1.16.5", "3.1.1", "1.3.1"),
    _pro("2.6", "3.6", "1.18.1", "3.2.1", "1.4.1"),
    _pro("2.7", "3.7", "1.19.1", "3.3.1", "1.5.2"),
    _pro("2.8", "3.7", "1.20.1", "3.3.1", "1.6.2"),
    _pro("2.9", "3.7", "1.20.1", "3.4.2", "1.6.2"),
    _pro("3.0", "3.9", "1.20.1", "3.4.3", "1.6.2"),
    _pro("3.1", "3.9", "1.20.1", "3.6.0", "1.6.2"),
    _pro("3.2", "3.9", "1.22.4", "3.6.3", "1.7.3"),
    _pro("3.3", "3.11", "1.24.3", "3.6.3", "1.9.3"),
    _pro("3.4", "3.11", "1.24.3", "3.6.3", "1.9.3"),
    _pro("3.5", "3.11", "1.26.4", "3.9.4", "1.14.1"),
    # Released (Esri system requirements pages exist) but absent from arcgis-dist.json as read here.
    _pro("3.6", None, None, None, None),
    _pro("3.7", None, None, None, None),
)

_TABLE: dict[str, dict[str, Release]] = {
    "desktop": {row.version: row for row in DESKTOP},
    "pro": {row.version: row for row in PRO},
}
_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?(?:\.\d+)*\s*$")


class UnknownRelease(ValueError):
    """The version is not a release the table knows; the message lists the known ones."""


def known_releases(product: str) -> list[str]:
    return list(_TABLE[_table_product(product)])


def _table_product(product: str) -> str:
    if product not in PRODUCTS:
        raise UnknownRelease(f"unknown ArcGIS product {product!r}: use one of {', '.join(PRODUCTS)}")
    return "pro" if product == "pro" else "desktop"


def release_key(version: str, product: str) -> str:
    """The table key for a registry version: Pro '3.3.2' -> '3.3'; Desktop '10.4.1.5524' -> '10.4.1'."""
    match = _VERSION.match(str(version))
    if not match:
        raise UnknownRelease(f"{version!r} is not an ArcGIS version (expected e.g. 10.4.1 or 3.3)")
    major, minor, patch = match.groups()
    if _table_product(product) == "pro" or patch in (None, "0"):
        return f"{int(major)}.{int(minor)}"
    return f"{int(major)}.{int(minor)}.{int(patch)}"


def lookup_release(version: str, product: str = "desktop") -> Release:
    table = _TABLE[_table_product(product)]
    key = release_key(version, product)
    if key not in table:
        raise UnknownRelease(
            f"ArcGIS {product} {version} is not in the release table; known releases: {', '.join(table)}"
        )
    return table[key]


def arcgis_stack(version: str, product: str = "desktop") -> dict[str, object]:
    """What release ``version`` of ``product`` ships: python (major.minor), bits, numpy, matplotlib, scipy.

    ``None`` where the release does not ship a package or the value could not be sourced; the field
    names of the latter are listed under ``unverified``, and ``source`` names where the row comes from.
    """
    return lookup_release(version, product).as_dict(product)
