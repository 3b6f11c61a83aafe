"""The DCC User's readers of event logs and alert configuration (6.13, 6.22) (registered
with :func:`rig.dccuser.readers.reads`); issue 17."""

from __future__ import annotations
