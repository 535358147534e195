"""Optional libraries the Ansible way: a module imports without them, and the feature that needs one fails
naming the library and the fix (plugins/module_utils/optional_lib.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / "collections"

# Each: the library hidden (sys.modules[name] = None makes its import fail), a module that needs it, and
# one use of the feature.
CASES = {
    "rattler": (
        "arcgis_env_spec",
        "m.parse_match_spec('numpy 1.9.2', 'test')",
        "py-rattler",
    ),
    "rattler.networking": (
        "arcgis_env_lock",
        "m.fetch_repo_data(channels=[], platforms=[], cache_path='x', callback=None)",
        "py-rattler",
    ),
    "cryptography": (
        "doi_cert_bundle",
        "m.x509.load_der_x509_certificate(b'')",
        "cryptography",
    ),
    "yaml": (
        "doi_cert_plan",
        "m.yaml.safe_load('a: 1')",
        "PyYAML",
    ),
}


def run_without(library: str, code: str) -> subprocess.CompletedProcess:
    prelude = f"import sys; sys.path.insert(0, {str(COLLECTIONS)!r}); sys.modules[{library!r}] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("library", sorted(CASES))
def test_module_imports_without_the_library_and_the_feature_names_it(library: str) -> None:
    module, use, pip_name = CASES[library]
    code = (
        f"import ansible_collections.arcgis_conda.fleet.plugins.module_utils.{module} as m\n"
        "from ansible_collections.arcgis_conda.fleet.plugins.module_utils.optional_lib import "
        "MissingRequiredLibrary\n"
        "print('imported')\n"
        "try:\n"
        f"    {use}\n"
        "except MissingRequiredLibrary as exc:\n"
        "    print('missing:', exc)\n"
        "    print('cause:', isinstance(exc.__cause__, ImportError))\n"
    )
    proc = run_without(library, code)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "imported"
    assert lines[1].startswith(f"missing: Failed to import the required Python library ({pip_name})"), lines
    assert "This is required to " in lines[1] and "pip install" in lines[1]
    assert lines[2] == "cause: True"  # the original import error is kept


def test_except_clauses_over_a_missing_library_stay_valid() -> None:
    """`except (InvalidVersionError, ...)` around a use must let the missing-library error through."""
    code = (
        "import ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_spec as m\n"
        "from ansible_collections.arcgis_conda.fleet.plugins.module_utils.optional_lib import "
        "MissingRequiredLibrary\n"
        "try:\n"
        "    try:\n"
        "        m.Version('1.0')\n"
        "    except (m.InvalidVersionSpecError, m.InvalidVersionError):\n"
        "        print('swallowed')\n"
        "except MissingRequiredLibrary:\n"
        "    print('raised')\n"
    )
    proc = run_without("rattler", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "raised"


def test_with_the_library_the_real_names_are_bound() -> None:
    import rattler
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils import arcgis_env_spec

    assert arcgis_env_spec.RATTLER_IMPORT_ERROR is None
    assert arcgis_env_spec.MatchSpec is rattler.MatchSpec
