"""The DCC User's readers of the GSME's tariffs and prices (1.1.1, 1.2.1, 1.5, 1.6, 4.11.1)
(registered with :func:`rig.dccuser.readers.reads`)."""

from __future__ import annotations
