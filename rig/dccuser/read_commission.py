"""The DCC User's readers of commissioning and firmware activation: 8.1.1 (ECS70, GCS28),
11.3 (CS06) (registered with :func:`rig.dccuser.readers.reads`)."""

from __future__ import annotations
