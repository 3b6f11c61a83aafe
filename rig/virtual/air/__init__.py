"""The simulated air: the virtual rig's 2.4 GHz medium, carrying ZEP v2 between radios."""
