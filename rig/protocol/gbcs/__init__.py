"""GBCS: message framing, security, payloads (DLMS COSEM, GBZ, ASN.1) and codes."""
