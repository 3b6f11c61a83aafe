"""The DCC User's readers of the GSME's prepayment logs (registered with
:func:`rig.dccuser.readers.reads`). Being built: issue 15."""
