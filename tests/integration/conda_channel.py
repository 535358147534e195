"""A small, real, local conda channel for the arcgis_env lock tests and benchmark.

``build_channel(root)`` writes ``root/{win-32,win-64,noarch}/repodata.json`` and one tiny package file
per record (a real .tar.bz2 holding ``info/index.json``; a real .conda zip for the few records that
also come as .conda), whose md5/sha256 in repodata are the hashes of those files. The versions below
are fixtures shaped like ArcGIS stacks (the seed's 10.4.1 numbers, the rest illustrative), not a
release table.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUBDIRS = ("win-32", "win-64", "noarch")


@dataclass(frozen=True)
class Pkg:
    name: str
    version: str
    build: str
    depends: tuple[str, ...] = ()
    subdirs: tuple[str, ...] = ("win-32", "win-64")
    noarch: bool = False
    also_conda: bool = False


def _py(line: str) -> str:
    return f"python {line}*"


# Python builds per line, with the packages that make up each line's stack.
PYTHONS = {"2.7": ("2.7.10", "2.7.14"), "3.6": ("3.6.2",), "3.7": ("3.7.10",), "3.11": ("3.11.8",)}

CATALOGUE: tuple[Pkg, ...] = (
    *(Pkg("python", v, "0") for line in PYTHONS.values() for v in line),
    # numpy: the pinned versions plus newer ones the pins must keep out
    Pkg("numpy", "1.9.2", "py27_0", (_py("2.7"),)),
    Pkg("numpy", "1.9.3", "py27_0", (_py("2.7"),)),
    Pkg("numpy", "1.11.3", "py27_0", (_py("2.7"),)),
    Pkg("numpy", "1.13.1", "py36_0", (_py("3.6"),)),
    Pkg("numpy", "1.20.1", "py37_0", (_py("3.7"),)),
    Pkg("numpy", "1.24.3", "py311_0", (_py("3.11"),), also_conda=True),
    Pkg("numpy", "1.26.4", "py311_0", (_py("3.11"),), also_conda=True),
    # matplotlib
    Pkg("matplotlib", "1.4.3", "np19py27_0", ("numpy 1.9*", _py("2.7"), "python-dateutil", "pyparsing")),
    Pkg("matplotlib", "1.5.2", "np19py27_0", ("numpy 1.9*", _py("2.7"), "python-dateutil", "pyparsing")),
    Pkg("matplotlib", "2.2.3", "py27_0", ("numpy >=1.11", _py("2.7"), "python-dateutil", "pyparsing")),
    Pkg("matplotlib", "2.0.2", "np113py36_0", ("numpy 1.13*", _py("3.6"), "python-dateutil", "pyparsing")),
    Pkg("matplotlib", "3.3.2", "py37_0", ("numpy >=1.15", _py("3.7"), "python-dateutil", "pyparsing")),
    Pkg("matplotlib", "3.8.0", "py311_0", ("numpy >=1.21", _py("3.11"), "python-dateutil", "pyparsing")),
    # scipy
    Pkg("scipy", "0.15.1", "np19py27_0", ("numpy 1.9*", _py("2.7"))),
    Pkg("scipy", "0.17.0", "np19py27_0", ("numpy 1.9*", _py("2.7"))),
    Pkg("scipy", "0.19.1", "np113py36_0", ("numpy 1.13*", _py("3.6"))),
    Pkg("scipy", "1.6.2", "py37_0", ("numpy >=1.16", _py("3.7"))),
    Pkg("scipy", "1.11.4", "py311_0", ("numpy >=1.21", _py("3.11"))),
    # the interactive tools
    Pkg("ipython", "5.8.0", "py27_0", (_py("2.7"), "traitlets", "pickleshare")),
    Pkg("ipython", "7.16.1", "py36_0", (_py("3.6"), "traitlets", "pickleshare")),
    Pkg("ipython", "7.16.1", "py37_0", (_py("3.7"), "traitlets", "pickleshare")),
    Pkg("ipython", "7.22.0", "py37_0", (_py("3.7"), "traitlets", "pickleshare")),
    Pkg("ipython", "8.12.0", "py311_0", (_py("3.11"), "traitlets", "pickleshare")),
    Pkg("notebook", "5.7.8", "py27_0", (_py("2.7"), "ipython >=5", "tornado >=4")),
    Pkg("notebook", "6.1.4", "py36_0", (_py("3.6"), "ipython >=5", "tornado >=5")),
    Pkg("notebook", "6.1.4", "py37_0", (_py("3.7"), "ipython >=5", "tornado >=5")),
    Pkg("notebook", "6.5.4", "py311_0", (_py("3.11"), "ipython >=5", "tornado >=6")),
    Pkg("spyder", "3.3.6", "py27_0", (_py("2.7"), "ipython >=4", "qtconsole")),
    Pkg("spyder", "4.2.5", "py36_0", (_py("3.6"), "ipython >=7", "qtconsole")),
    Pkg("spyder", "4.2.5", "py37_0", (_py("3.7"), "ipython >=7", "qtconsole")),
    Pkg("spyder", "5.4.3", "py311_0", (_py("3.11"), "ipython >=8", "qtconsole")),
    # a few dependencies
    Pkg("tornado", "4.5.3", "py27_0", (_py("2.7"),)),
    Pkg("tornado", "6.1", "py36_0", (_py("3.6"),)),
    Pkg("tornado", "6.1", "py37_0", (_py("3.7"),)),
    Pkg("tornado", "6.3.3", "py311_0", (_py("3.11"),)),
    Pkg("qtconsole", "4.7.7", "py_0", ("python", "traitlets"), ("noarch",), noarch=True),
    Pkg("traitlets", "4.3.3", "py_0", ("python", "six"), ("noarch",), noarch=True),
    Pkg("pickleshare", "0.7.5", "py_0", ("python",), ("noarch",), noarch=True),
    Pkg("six", "1.16.0", "pyhd3eb1b0_0", ("python",), ("noarch",), noarch=True),
    Pkg("python-dateutil", "2.8.2", "pyhd3eb1b0_0", ("python", "six"), ("noarch",), noarch=True),
    Pkg("pyparsing", "2.4.7", "pyhd3eb1b0_0", ("python",), ("noarch",), noarch=True),
    Pkg("pandas", "0.18.1", "np19py27_0", ("numpy 1.9*", _py("2.7"), "python-dateutil")),
)


def _fact(
    arcgis_id: str, product: str, version: str, bits: int, python: str, numpy: str, mpl: str, scipy: str
) -> dict[str, Any]:
    major_minor = ".".join(python.split(".")[:2])
    pro = product == "pro"
    prefix = (
        "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python\\envs\\arcgispro-py3" if pro else "C:\\Python27\\ArcGIS"
    )
    return {
        "id": arcgis_id,
        "product": product,
        "version": version,
        "install_dir": "C:\\Program Files\\ArcGIS\\",
        "python_exe": prefix + "\\python.exe",
        "python_version": python,
        "python_major_minor": major_minor,
        "bits": bits,
        "prefix": prefix,
        "site_packages": [prefix + "\\Lib\\site-packages"],
        "user_site": "C:\\Users\\u\\AppData\\Roaming\\Python\\site-packages",
        "user_site_enabled": True,
        "packages": {"numpy": numpy, "matplotlib": mpl, "scipy": scipy},
        "pro_conda_root": "C:\\Program Files\\ArcGIS\\Pro\\bin\\Python" if pro else None,
        "pro_conda_env": "arcgispro-py3" if pro else None,
        "status": "ok",
        "problems": [],
    }


# Six distinct stacks (three Python lines, both platforms); Pro ones are meant for arcgis_env_pro_mode: conda.
STACKS: dict[str, dict[str, Any]] = {
    "desktop-10.4.1-32": _fact(
        "desktop-10.4.1-32", "desktop", "10.4.1", 32, "2.7.10", "1.9.2", "1.4.3", "0.15.1"
    ),
    "desktop-10.6.1-32": _fact(
        "desktop-10.6.1-32", "desktop", "10.6.1", 32, "2.7.14", "1.9.3", "1.5.2", "0.17.0"
    ),
    "desktop_bgp-10.4.1-64": _fact(
        "desktop_bgp-10.4.1-64", "desktop_bgp", "10.4.1", 64, "2.7.10", "1.9.2", "1.4.3", "0.15.1"
    ),
    "pro-2.2-64": _fact("pro-2.2-64", "pro", "2.2", 64, "3.6.2", "1.13.1", "2.0.2", "0.19.1"),
    "pro-2.8-64": _fact("pro-2.8-64", "pro", "2.8", 64, "3.7.10", "1.20.1", "3.3.2", "1.6.2"),
    "pro-3.3-64": _fact("pro-3.3-64", "pro", "3.3", 64, "3.11.8", "1.24.3", "3.8.0", "1.11.4"),
}

MINICONDA2_X86 = {
    "flavour": "miniconda2-x86",
    "prefix": "C:\\Miniconda2",
    "conda_exe": "C:\\Miniconda2\\Scripts\\conda.exe",
    "python_major_minor": "2.7",
    "bits": 32,
    "arcgis_ids": [],
}
MINICONDA3_X64 = {
    "flavour": "miniconda3-x64",
    "prefix": "C:\\Miniconda3",
    "conda_exe": "C:\\Miniconda3\\Scripts\\conda.exe",
    "python_major_minor": "3.11",
    "bits": 64,
    "arcgis_ids": [],
}


@dataclass
class ChannelInfo:
    root: Path
    url: str
    files: dict[str, Path] = field(default_factory=dict)  # "subdir/filename" -> file

    def md5(self, subdir: str, filename: str) -> str:
        return hashlib.md5(self.files[f"{subdir}/{filename}"].read_bytes()).hexdigest()


def _index(pkg: Pkg, subdir: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "name": pkg.name,
        "version": pkg.version,
        "build": pkg.build,
        "build_number": int(pkg.build.rsplit("_", 1)[-1]) if pkg.build.rsplit("_", 1)[-1].isdigit() else 0,
        "depends": list(pkg.depends),
        "license": "BSD",
        "subdir": subdir,
        "timestamp": 1500000000000,
    }
    if pkg.noarch:
        record["noarch"] = "python"
    return record


def _tar_bz2(index: dict[str, Any]) -> bytes:
    data = json.dumps(index, sort_keys=True).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:
        info = tarfile.TarInfo("info/index.json")
        info.size = len(data)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _conda_zip(index: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            zipfile.ZipInfo("metadata.json", (1980, 1, 1, 0, 0, 0)), '{"conda_pkg_format_version": 2}'
        )
        archive.writestr(
            zipfile.ZipInfo("info.json", (1980, 1, 1, 0, 0, 0)), json.dumps(index, sort_keys=True)
        )
    return buffer.getvalue()


def build_channel(
    root: Path, extra: Iterable[Pkg] = (), filler: int = 0, catalogue: Iterable[Pkg] = CATALOGUE
) -> ChannelInfo:
    """Write the channel; ``filler`` adds that many unrelated repodata records per subdir (no files);
    ``catalogue`` replaces the standard packages (e.g. a small second channel)."""
    root.mkdir(parents=True, exist_ok=True)
    info = ChannelInfo(root=root, url=root.resolve().as_uri())
    repodata: dict[str, dict[str, Any]] = {
        s: {"info": {"subdir": s}, "packages": {}, "packages.conda": {}, "repodata_version": 1}
        for s in SUBDIRS
    }
    for pkg in (*catalogue, *extra):
        for subdir in pkg.subdirs:
            (root / subdir).mkdir(exist_ok=True)
            index = _index(pkg, subdir)
            stem = f"{pkg.name}-{pkg.version}-{pkg.build}"
            formats = [(".tar.bz2", "packages", _tar_bz2(index))]
            if pkg.also_conda:
                formats.append((".conda", "packages.conda", _conda_zip(index)))
            for ext, section, blob in formats:
                path = root / subdir / f"{stem}{ext}"
                path.write_bytes(blob)
                info.files[f"{subdir}/{stem}{ext}"] = path
                repodata[subdir][section][f"{stem}{ext}"] = {
                    **index,
                    "md5": hashlib.md5(blob).hexdigest(),
                    "sha256": hashlib.sha256(blob).hexdigest(),
                    "size": len(blob),
                }
    for subdir in SUBDIRS:
        for i in range(filler):
            name = f"filler-{i % 997}"
            stem = f"{name}-1.{i}-py_0"
            digest = hashlib.sha256(stem.encode()).hexdigest()
            repodata[subdir]["packages"][f"{stem}.tar.bz2"] = {
                **_index(Pkg(name, f"1.{i}", "py_0", ("python", f"filler-{(i + 1) % 997}")), subdir),
                "md5": digest[:32],
                "sha256": digest,
                "size": 1,
            }
        (root / subdir).mkdir(exist_ok=True)
        (root / subdir / "repodata.json").write_text(json.dumps(repodata[subdir], sort_keys=True))
    return info
