"""The DCC User's readers of family 4's reads (4.x) (registered
with :func:`rig.dccuser.readers.reads`); issue 17."""

from __future__ import annotations
