"""The DCC User's readers of the ESME's remaining reads of family 4 (4.1.3, 4.2, 4.4.x, 4.6.x,
4.8.2, 4.8.3, 4.10, 4.12.x, 4.15, 4.16) (registered with :func:`rig.dccuser.readers.reads`)."""

from __future__ import annotations
