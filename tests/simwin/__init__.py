"""simwin: a simulated Windows workstation that Ansible reaches through the ``simwin`` connection plugin.

A test fixture only (never part of the collection). See README.md in this folder.
"""

from .calls import calls, reset_calls, summary
from .host import Host

__all__ = ["Host", "calls", "reset_calls", "summary"]
