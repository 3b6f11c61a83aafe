"""A device's GBCS end: the endpoint that authenticates commands and refuses replays, the
generic servers a device model answers from (COSEM objects for the ESME, ZCL attributes
for the GSME), and the handler each use case is served by."""
