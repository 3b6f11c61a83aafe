"""The DCC User's readers of the GSME's reads of family 4 (4.x) (registered
with :func:`rig.dccuser.readers.reads`); issue 17."""

from __future__ import annotations
