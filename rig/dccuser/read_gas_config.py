"""The DCC User's readers of the GSME's configuration, valve and network data (6.2.x, 6.6, 6.7,
6.8, 6.11, 6.20.1, 6.22, 7.2-7.4, 9.1, 14.1) (registered with
:func:`rig.dccuser.readers.reads`)."""

from __future__ import annotations
