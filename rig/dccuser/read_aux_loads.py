"""The DCC User's readers of the ESME's auxiliary loads, boost button and auxiliary controller
(6.14.x, 7.5-7.16) (registered with :func:`rig.dccuser.readers.reads`)."""

from __future__ import annotations
