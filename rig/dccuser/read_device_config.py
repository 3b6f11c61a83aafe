"""The DCC User's readers of the ESME's device configuration (6.2.x, 6.4.x) (registered with
:func:`rig.dccuser.readers.reads`)."""

from __future__ import annotations
