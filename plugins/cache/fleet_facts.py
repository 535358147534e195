"""The fleet's fact cache: ansible.builtin.jsonfile, kept in the fleet's state folder unless configured."""

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_facts
short_description: JSON files per host in the fleet's state folder
version_added: 1.0.0
author: arcgis-conda fleet team (!UNKNOWN)
description:
  - The cache of C(ansible.builtin.jsonfile) (the same files, read and written by ansible-core), kept by
    default in C(<state>/.cache/facts), where C(<state>) is the fleet's state folder - C(fleet_state_dir)
    given with C(-e) (an AWX job's extra variables are C(-e) too), else C($ARCGIS_FLEET_STATE_DIR), else the
    project folder (the folder of the C(ansible.cfg) in use).
  - So the observations C(playbooks/plan.yml) plans from live beside the locks, the solver cache, the run
    lock and the reports, wherever the fleet keeps its state (an AWX job's project copy is thrown away).
  - The cache is set up before Ansible reads the inventory, so a C(fleet_state_dir) set in the inventory
    cannot move it; the run lock then stops the run and says to pass it with C(-e) or the environment.
options:
  _uri:
    required: false
    description:
      - The folder of the cache files; unset, C(<state>/.cache/facts).
    env:
      - name: ANSIBLE_CACHE_PLUGIN_CONNECTION
    ini:
      - key: fact_caching_connection
        section: defaults
    type: path
  _prefix:
    description: User defined prefix to use when creating the JSON files.
    env:
      - name: ANSIBLE_CACHE_PLUGIN_PREFIX
    ini:
      - key: fact_caching_prefix
        section: defaults
  _timeout:
    default: 86400
    description: Expiration timeout for the cache plugin data.
    env:
      - name: ANSIBLE_CACHE_PLUGIN_TIMEOUT
    ini:
      - key: fact_caching_timeout
        section: defaults
    type: integer
"""

from typing import Any

from ansible import constants as C
from ansible import context
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.cache.jsonfile import CacheModule as JsonFileCache
from ansible.utils.vars import load_extra_vars
from ansible_collections.arcgis_conda.fleet.plugins.module_utils import fleet_state as fs


def extra_state_dir() -> Any:
    """fleet_state_dir as given with -e, when it can be read without vault secrets (else None)."""
    if not (context.CLIARGS or {}).get("extra_vars"):
        return None
    try:
        return load_extra_vars(DataLoader()).get(fs.STATE_VARIABLE)
    except (AnsibleError, OSError, ValueError):
        return None


class CacheModule(JsonFileCache):
    """ansible.builtin.jsonfile whose folder defaults to the fleet's state folder."""

    def _get_cache_connection(self, source: Any) -> str | None:
        configured = super()._get_cache_connection(source)
        if configured:
            return configured
        return str(fs.facts_dir(fs.state_dir(extra_state_dir(), C.CONFIG_FILE)))
