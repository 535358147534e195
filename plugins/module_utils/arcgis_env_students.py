"""arcgis_env, for students: what a lab env carries so a non-admin can add packages and make envs of their
own without moving ArcGIS's numpy/matplotlib/scipy. Pure functions, plain data in, text out; no Ansible
imports.

Facts this relies on, each from its primary source:
- conda reads C:\\ProgramData\\conda\\condarc.d\\*.yml for every account (conda/base/constants.py SEARCH_PATH,
  conda >= 4.6.9, conda/conda#8272) and expands ``~`` and ``%VAR%`` in envs_dirs/pkgs_dirs for the account
  that runs it (conda/common/path ``expand`` = abspath(expanduser(expandvars(path)))).
- ``conda create -n NAME`` makes the env in the first *writable* entry of context.envs_dirs, the configured
  ones first (conda/base/context.py ``mockable_context_envs_dirs``; conda/gateways/disk/create.py
  ``first_writable_envs_dir``: it tries to create ``.conda_envs_dir_test`` in each and skips on EACCES/EPERM).
  An admin-only lab folder is skipped, so a student's env lands in ``~\\.conda\\envs`` when it comes first.
- conda downloads into the first writable package cache of pkgs_dirs and reads packages from all of them
  (conda/core/package_cache_data.py ``PackageCacheData.first_writable``); a read-only machine cache still
  saves a clone its downloads.
- ``conda list``/``conda env list`` show every env found in each envs_dirs folder (conda/core/envs_manager.py
  ``list_all_known_prefixes``): the lab's folders listed here are visible to every account.
- ``conda create --clone`` copies every file of the source no package owns, outside conda-meta, replacing
  the source prefix with the clone's in text files (conda/misc.py ``walk_prefix``/``clone_env``, unchanged
  since 2013): the pip.ini and constraints file below follow a clone, pointing at the clone's own copy.
  conda-meta\\pinned is *not* copied by upstream conda (``walk_prefix`` skips conda-meta); Esri's conda in
  ArcGIS Pro >= 3.2 copies it with ``--pinned`` (see arcgis_env_spec.PRO_PINNED_FLAG_SINCE).
- pip reads a "site" configuration file ``pip.ini`` in ``sys.prefix`` on Windows, after the global and user
  files, so its values win over theirs (pip docs, Configuration: "site: per-environment configuration file";
  pip/_internal/configuration.py ``get_configuration_files``: ``os.path.join(sys.prefix, CONFIG_BASENAME)``
  with CONFIG_BASENAME "pip.ini" on Windows; read outside virtualenvs since pip 19.1, pypa/pip#6268). An
  option's config name is its long name (``constraint`` for ``-c/--constraint``) in the section of its
  command (``[install]``). PIP_CONSTRAINT or ``--isolated`` override it: a guard rail for students, not a
  security boundary (what it protects is the student's own user site and envs).
"""

from __future__ import annotations

import ntpath
from collections.abc import Mapping, Sequence
from typing import Any

PIP_INI = "pip.ini"
CONSTRAINTS = "arcgis-constraints.txt"
README = "README-students.txt"
# conda's per-user folders (conda/base/context.py fixed_dirs): ``~`` is the account running conda.
USER_ENVS = "~\\.conda\\envs"
USER_PKGS = "~\\.conda\\pkgs"
# The page for students, in the repository (linked from the README written into each lab env).
STUDENTS_DOC = "docs/students.md"


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def machine_condarc(env_folders: Sequence[str], conda_roots: Sequence[str]) -> str:
    """The condarc.d file: each account's own envs folder first, then the lab's; each account's own package
    cache first, then the machine caches (read-only for students, read by their clones)."""
    envs = list(dict.fromkeys([USER_ENVS, *env_folders]))
    pkgs = list(dict.fromkeys([USER_PKGS, *(ntpath.join(r, "pkgs") for r in conda_roots)]))
    lines = [
        "# Written by the arcgis_conda.fleet role arcgis_env, read by every account's conda.",
        "# `conda create -n NAME` makes NAME in the first folder you can write: your own ~\\.conda\\envs.",
        "# The lab's envs below are listed for everyone (conda env list); only administrators change them.",
        "envs_dirs:",
        *(f"  - {_quote(f)}" for f in envs),
        "# Downloads go to the first cache you can write (your own); the machine's caches are read too.",
        "pkgs_dirs:",
        *(f"  - {_quote(p)}" for p in pkgs),
    ]
    return "\n".join(lines) + "\n"


def conda_root(conda_exe: str) -> str:
    """The root prefix of the conda at ``<root>\\Scripts\\conda.exe`` (Miniconda's and Pro's layout)."""
    return ntpath.dirname(ntpath.dirname(conda_exe))


def constraints_text(plan: Mapping[str, Any]) -> str:
    """pip constraints: the env's ArcGIS versions of numpy, matplotlib and scipy (python itself is held by
    pip's own Requires-Python check against the running interpreter)."""
    pins = {n: v for n, v in sorted((plan.get("pins") or {}).items()) if v}
    head = [
        f"# Written by the arcgis_conda.fleet role arcgis_env for {plan['name']}: ArcGIS {plan['product']} "
        f"{plan['version']} runs these versions.",
        "# pip reads it through pip.ini beside it: `pip install` (also --user) will not move them.",
    ]
    return "\n".join(head + [f"{n}=={v}" for n, v in pins.items()]) + "\n"


def pip_ini_text(prefix: str) -> str:
    return (
        "; Written by the arcgis_conda.fleet role arcgis_env. pip reads this file for this env's Python,\n"
        "; for every account (its site configuration, sys.prefix\\pip.ini): installs keep ArcGIS's\n"
        "; versions.\n"
        "[install]\n"
        f"constraint = {ntpath.join(prefix, CONSTRAINTS)}\n"
    )


def readme_text(plan: Mapping[str, Any], arcgis_python: str = "") -> str:
    """What a student finds in the lab env's folder (conda env list shows it): the page in short."""
    name = plan["name"]
    pinned_flag = " --pinned" if plan.get("clone_pinned_flag") else ""
    lines = [
        f"{name}: a conda environment for ArcGIS {plan['product']} {plan['version']} "
        f"(Python {plan['python_major_minor']}, {plan['bits']}-bit), set up by the lab's administrators.",
        "",
        "You cannot change this env (only administrators can), so nothing you do breaks it for others.",
        "",
        "Your own env, in your profile (%USERPROFILE%\\.conda\\envs), with this env's packages:",
        f"    conda create -n my{name} --clone {name}{pinned_flag}",
        f"    conda activate my{name}      (older conda: activate my{name})",
        "Add packages to it:",
        "    conda install PACKAGE   or   python -m pip install PACKAGE",
        "Add packages for you only, to this env's Python:",
        "    python -m pip install --user PACKAGE",
        "pip keeps numpy, matplotlib and scipy at ArcGIS's versions (pip.ini and arcgis-constraints.txt",
        "here, copied into your clone): an install that needs other versions is refused.",
        "",
        "Let ArcGIS's Python see your env (for you only), from ArcGIS's Python:",
        "    python -m arcgis_conda_bridge add my" + name,
        "",
        f"More: {STUDENTS_DOC} of the arcgis_conda.fleet collection (ask the lab staff for a copy).",
    ]
    if arcgis_python:
        lines.insert(-2, f"    (ArcGIS's Python here: {arcgis_python})")
    return "\r\n".join(lines) + "\r\n"
