"""The languages both sides of the rig speak, pure and I/O-free.

Imported by the controller (rig/), the gateway (gateway/) and the nodes (nodes/);
nothing here opens a socket, a file or a process.
"""
