"""Device roles of the rig (CHF+GPF, ESME, GSME, IHD, PPMID) and the process a Pi runs.

Imports only ``rig.protocol`` and its own modules: the same code runs on a
Raspberry Pi under systemd and as a virtual node under the rig's supervisor.
"""
