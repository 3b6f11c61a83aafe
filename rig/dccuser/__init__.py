"""The rig's test DCC User: a DUIS client and the Receive Response Service it listens on."""
