"""Zigbee on IEEE 802.15.4, as GB Smart Energy uses it: MAC, NWK, APS, security, ZDO, ZCL.

Pure codecs: bytes in, frames out, and back byte for byte; the radio backends
(nodes/radio) do the timing, retries and state.
"""
