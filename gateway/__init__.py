"""The gateway plays the DCC and the SM WAN: DUIS interface, inventory, SMKI, routing.

Imports only ``rig.protocol`` and its own modules.
"""
