"""The rig's test PKI (SMKI and WAN TLS credentials in the state folder) and the key stores
the command line reads (folders of keys, DCC's RTDS keystore, a ZAZ1 keystore.json)."""
