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
  the source prefix with the clone's in text files (conda/misc.py ``walk_prefix``/``clone_env``: a plain
  ``str.replace`` of the source prefix, unchanged since 2013): the pip.ini below follows a clone, and the
  ``file:`` URL it names (forward slashes, percent-encoded) is not the prefix's text, so every clone's pip
  keeps reading the lab env's admin-only constraints file.
  conda-meta\\pinned is *not* copied by upstream conda (``walk_prefix`` skips conda-meta); Esri's conda in
  ArcGIS Pro >= 3.2 copies it with ``--pinned`` (see arcgis_env_spec.PRO_PINNED_FLAG_SINCE).
- So a Miniconda that serves one ArcGIS stack carries that stack's pins in its own admin-only configuration,
  ``<root>\\condarc.d\\arcgis_env.yml`` (``$CONDA_ROOT/condarc.d/`` in SEARCH_PATH, conda/base/constants.py
  in 4.8.3 as today; conda/__init__.py sets CONDA_ROOT to sys.prefix, the root): ``pinned_packages`` are
  added to every solve of that conda, in every env, before the env's own conda-meta\\pinned
  (conda/core/solve.py ``get_pinned_specs``: ``concatv(context.pinned_packages, from_file)`` in 4.8.3;
  the same context list in current conda), each an optional MatchSpec: it holds a package's version only
  where that package is installed or asked for.
- pip splits an append option's configured value on whitespace (pip/_internal/cli/parser.py
  ``_update_defaults``: ``val = val.split()``), so pip.ini names the constraints file as a ``file:`` URL
  without whitespace: pip 19.2's req_file ``get_file_content`` turns ``file:///C|/...`` into ``C:/...``
  (``_url_slash_drive_re``) and unquotes it; current pip opens it through its LocalFSAdapter
  (``url_to_path`` -> ``urllib.request.url2pathname``, which reads the ``C|`` drive too).
- pip reads a "site" configuration file ``pip.ini`` in ``sys.prefix`` on Windows, after the global and user
  files, so its values win over theirs (pip docs, Configuration: "site: per-environment configuration file";
  pip/_internal/configuration.py ``get_configuration_files``: ``os.path.join(sys.prefix, CONFIG_BASENAME)``
  with CONFIG_BASENAME "pip.ini" on Windows; read outside virtualenvs since pip 19.1, pypa/pip#6268). An
  option's config name is its long name (``constraint`` for ``-c/--constraint``) in the section of its
  command (``[install]``). PIP_CONSTRAINT or ``--isolated`` override it: a guard rail for students, not a
  security boundary (what it protects is the student's own user site and envs). pip's legacy resolver
  (pip < 20.3, the only one for Python 2.7) keeps a constrained version but still installs a package that
  needs another one, printing the conflict: on ArcMap's Python, pip warns where current pip refuses.
"""

from __future__ import annotations

import ntpath
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

PIP_INI = "pip.ini"
CONSTRAINTS = "arcgis-constraints.txt"
README = "README-students.txt"
# A Miniconda's own configuration file (``$CONDA_ROOT\\condarc.d``), with the pins of the one stack it serves.
ROOT_CONDARC = ntpath.join("condarc.d", "arcgis_env.yml")
# conda's per-user folders (conda/base/context.py fixed_dirs): ``~`` is the account running conda.
USER_ENVS = "~\\.conda\\envs"
USER_PKGS = "~\\.conda\\pkgs"
# The page for students, in the repository (linked from the README written into each lab env).
STUDENTS_DOC = "docs/students.md"


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def machine_condarc(
    env_folders: Sequence[str], conda_roots: Sequence[str], caches: Sequence[str] = ()
) -> str:
    """The condarc.d file: each account's own envs folder first, then the lab's; each account's own package
    cache first, then the machine caches (read-only for students, read by their clones): each conda root's
    and the role's own (``caches``, where the admin's Pro clones download)."""
    envs = list(dict.fromkeys([USER_ENVS, *env_folders]))
    pkgs = list(dict.fromkeys([USER_PKGS, *(ntpath.join(r, "pkgs") for r in conda_roots), *caches]))
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


def file_url(path: str) -> str:
    """A Windows path as a ``file:`` URL with no whitespace (``file:///C|/Users/Jane%20Doe/x.txt``): the form
    pip 19.2 and current pip both open (see the module's docstring)."""
    drive, rest = ntpath.splitdrive(path)
    if len(drive) != 2 or drive[1] != ":":
        raise ValueError(f"not a path on a drive: {path}")
    return f"file:///{drive[0].upper()}|" + quote(rest.replace("\\", "/"), safe="/")


def pip_ini_text(prefix: str) -> str:
    """pip's site configuration for the env at ``prefix``: its constraints file, named as a ``file:`` URL, so
    a clone's copy (conda rewrites only the prefix's own text) still names the lab env's admin-only file."""
    return (
        "; Written by the arcgis_conda.fleet role arcgis_env. pip reads this file for this env's Python,\n"
        "; for every account (its site configuration, sys.prefix\\pip.ini): installs keep ArcGIS's\n"
        "; versions. A clone of this env keeps reading the lab env's constraints file.\n"
        "[install]\n"
        f"constraint = {file_url(ntpath.join(prefix, CONSTRAINTS))}\n"
    )


def conda_pin_lines(plan: Mapping[str, Any]) -> list[str]:
    """The conda pins of a Miniconda lab env (conda-meta\\pinned lines): its Python's major.minor and
    ArcGIS's numpy, matplotlib and scipy. A Pro clone's: arcgis_env_spec pinned_lines."""
    lines = [f"python {plan['python_major_minor']}.*"]
    return lines + [f"{n} =={v}" for n, v in sorted((plan.get("pins") or {}).items()) if v]


def root_condarc(plan: Mapping[str, Any]) -> str:
    """``<Miniconda>\\condarc.d\\arcgis_env.yml`` for the one stack that Miniconda serves: its pins hold in
    every env any account makes or changes with that conda (a clone has no conda-meta\\pinned of its own)."""
    lines = [
        f"# Written by the arcgis_conda.fleet role arcgis_env: this conda serves ArcGIS {plan['product']} "
        f"{plan['version']} ({plan['name']}).",
        "# Every env made or changed with it keeps ArcGIS's versions; `conda install --no-pin` ignores them.",
        "pinned_packages:",
        *(f"  - {_quote(line)}" for line in conda_pin_lines(plan)),
    ]
    return "\n".join(lines) + "\n"


def readme_text(plan: Mapping[str, Any], arcgis_python: str = "") -> str:
    """What a student finds in the lab env's folder (conda env list shows it): the page in short, for its
    stack. ArcMap's Python reaches a student's env through the bridge's per-user entry; ArcGIS Pro has no
    bridge to link (arcgispro-py3 is never written) and uses an env as the account's active environment
    (Esri: Package Manager or ``proswap``), which a clone of arcgispro-py3 serves, arcpy included."""
    name = plan["name"]
    pro = plan.get("kind") == "pro_clone"
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
    ]
    if pro:
        lines += [
            "conda keeps numpy, matplotlib and scipy at ArcGIS's versions (your clone's conda-meta\\pinned);",
            "pip refuses an install that needs other versions (pip.ini here, copied into your clone).",
            "",
            "Use your env in ArcGIS Pro (for you only): in Pro, Settings > Package Manager > Environment",
            f"Manager, activate my{name}; or, in the Python Command Prompt:   proswap my{name}",
            "Your clone imports arcpy as this env does. Pro starts with it until you switch back.",
        ]
    else:
        lines += [
            "conda keeps numpy, matplotlib and scipy at ArcGIS's versions in every env of this conda;",
            "pip (19.x on Python 2.7) keeps them too but only WARNS when a package needs other versions:",
            "read its message and uninstall that package.",
            "",
            "Let ArcGIS's Python see your env (for you only), from ArcGIS's Python:",
            "    python -m arcgis_conda_bridge add my" + name,
        ]
        if arcgis_python:
            lines.append(f"    (ArcGIS's Python here: {arcgis_python})")
    lines += [
        "",
        f"More: {STUDENTS_DOC} of the arcgis_conda.fleet collection (ask the lab staff for a copy).",
    ]
    return "\r\n".join(lines) + "\r\n"
