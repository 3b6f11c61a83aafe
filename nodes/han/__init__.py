"""Smart Energy on the HAN, above the radio seam: the device log, ZCL endpoints, the GBCS tunnel."""
