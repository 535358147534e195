"""Optional third-party libraries, guarded the Ansible way: the import error is kept, not raised on import.

A module that needs py-rattler or cryptography imports them in ``try``/``except ImportError`` and, when the
import fails, binds each imported name to ``missing(...)``: a stand-in that still works in ``except``
clauses and attribute chains (``x509.Certificate``), and raises ``MissingRequiredLibrary`` - the message
of ``ansible.module_utils.basic.missing_required_lib``, naming the pip requirement and the feature - the
moment the feature calls it. So ``ansible-doc``, ``--syntax-check`` and every role that does not need the
library work without it, and the one that does fails with the fix, not with a traceback.

Plain Python, no Ansible imports (the planners that use it are plain data in, plain data out).
"""

from __future__ import annotations

import platform
import sys


class MissingRequiredLibrary(ImportError):
    """A feature needs a Python library the controller lacks; the message says which and how to install it."""


def missing_required_lib(library: str, reason: str) -> str:
    """The wording of ``ansible.module_utils.basic.missing_required_lib``, for the controller's Python."""
    return (
        f"Failed to import the required Python library ({library}) on {platform.node()}'s Python "
        f"{sys.executable}. This is required {reason}. Install it into the Python that runs Ansible "
        "(pip install -r requirements.txt), or set ansible_python_interpreter to a Python that has it."
    )


class _Missing(type):
    """Metaclass of the stand-ins: calling one raises; any attribute is the stand-in itself."""

    def __call__(cls, *args: object, **kwargs: object) -> object:
        raise MissingRequiredLibrary(cls.message) from cls.import_error

    def __getattr__(cls, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        return cls


def missing(name: str, library: str, reason: str, import_error: ImportError) -> type:
    """A stand-in for ``name`` from ``library``, which failed to import with ``import_error``.

    It is an exception class (so ``except name:`` stays valid, and never matches), whose call and
    attributes raise ``MissingRequiredLibrary`` (chained to the original ImportError) when first used.
    """
    message = missing_required_lib(library, reason)
    return _Missing(name, (Exception,), {"message": message, "import_error": import_error})
