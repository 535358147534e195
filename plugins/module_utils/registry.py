"""The fleet's roles, in apply order: the one place that names them.

The engine, the action plugins, the report columns and the variable prefixes all take the role list from
here; adding a fifth role is one module (``<role>_role.py``, a :class:`fleet_role.Role`) and one line.
"""

from __future__ import annotations

from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_role import ArcgisEnv
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_role import DoiCert
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_role import Role
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.miniconda_role import Miniconda
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.startup_bridge_role import StartupBridge

ROLES: tuple[Role, ...] = (Miniconda(), DoiCert(), ArcgisEnv(), StartupBridge())
