# Documentation stub: the work is done by the action plugin plugins/action/fleet_mirror.py, on the controller.

DOCUMENTATION = r"""
module: fleet_mirror
short_description: Build the fleet's exact-subset conda mirror on the controller
description:
  - Runs on the controller only; it never contacts a workstation.
  - Plans every host of O(group) offline, as M(arcgis_conda.fleet.fleet_plan) does, with locking on. With
    C(fleet_package_mirror) set, each distinct conda stack's lock names the mirror's URLs
    (C(<mirror>/<channel path>/<subdir>/<file>)), and a Pro clone's added packages are solved too, with Esri's
    channel first, so the mirror holds them.
  - Downloads each package file the locks name, once, from its upstream channel, and each Miniconda installer
    the plan chose; checks every file against the lock's MD5 and the upstream repodata's SHA-256 and size
    (installers against their SHA-256) before writing it; a file that does not match is refused, never
    written, and the task fails naming it.
  - A file already in O(dest) with the right hashes is kept, so a re-run fetches nothing. Files the locks no
    longer name are removed (O(prune)).
  - Indexes each channel with py-rattler's indexer (C(rattler.index.index_fs)), which reads every package file
    and writes C(<subdir>/repodata.json), then checks that each index lists exactly the locked files.
  - Every channel the hosts' condarc names on the mirror is created, empty when no lock uses it.
version_added: 1.0.0
author: arcgis-conda fleet team (!UNKNOWN)
requirements:
  - py-rattler (pinned in requirements.txt) on the controller.
attributes:
  check_mode:
    support: full
    description: In check mode it only reports what it would do.
    details: Lists the files it would fetch; downloads and writes nothing.
  platform:
    platforms: posix
    support: full
    description: Runs on the controller (POSIX), where the mirror is built.
options:
  group:
    description: The inventory group whose hosts' stacks are mirrored.
    type: str
    default: windows_workstations
  hosts:
    description: The hosts to mirror for; default every host of O(group).
    type: list
    elements: str
  dest:
    description:
      - The controller folder the mirror is written into, as the controller sees it - a share the hosts read
        (mounted here) or a web server's root the hosts reach over HTTPS. C(fleet_package_mirror) is the same
        folder as the hosts see it.
    type: path
    required: true
  variables:
    description: Role variables every host is planned with, over its own.
    type: dict
    default: {}
  lock_dir:
    description:
      - Where lockfiles go; unset, C(<state>/.cache/locks), where site.yml's arcgis_env reads and writes them.
      - C(<state>) is the fleet's state folder - C(fleet_state_dir), else C($ARCGIS_FLEET_STATE_DIR), else the
        project folder.
    type: path
  cache_dir:
    description: py-rattler's repodata cache; unset, C(<state>/.cache/rattler).
    type: path
  channel_mirrors:
    description: "Controller-side copies of upstream channels: C({upstream URL: URL the controller reads})."
    type: dict
    default: {}
  timeout:
    description: Seconds to wait for each download.
    type: float
    default: 60.0
  ca_file:
    description:
      - PEM bundle the controller trusts for HTTPS downloads, e.g. the doi_cert role's bundle when the
        agency's TLS inspection re-signs upstream traffic; default the Python default trust store.
    type: path
  prune:
    description: Remove package files and installers from O(dest) that no lock or plan names any more.
    type: bool
    default: true
notes:
  - Mirroring Anaconda's repository needs a paid Anaconda licence (Anaconda's Terms of Service FAQ); see
    C(fleet_anaconda_channels) in roles/arcgis_env/README.md.
seealso:
  - module: arcgis_conda.fleet.fleet_plan
"""

EXAMPLES = r"""
- name: Build the mirror into the web root the hosts reach over HTTPS
  arcgis_conda.fleet.fleet_mirror:
    dest: /srv/www/conda-mirror
"""

RETURN = r"""
mirror:
  description:
    - C(fetched) (count) and C(fetched_files), C(fetched_bytes) from upstream; C(kept), files already there;
      C(refused), files that failed their checks (not written); C(removed) by O(prune); C(channels), C(files)
      and C(size) of the mirror; C(seconds); C(mirror) (the URL hosts read), C(dest), C(locks), C(installers).
  returned: success
  type: dict
would_fetch:
  description: In check mode, the mirror paths that would be downloaded.
  returned: check mode
  type: list
  elements: str
"""
