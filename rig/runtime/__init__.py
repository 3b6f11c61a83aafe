"""What every rig process shares at run time: atomic state files, typed records (the
contracts between processes), the heartbeat and health report, and the log format.

Imported by the controller, the gateway and the nodes; it imports nothing of the project
but :mod:`rig.protocol`.
"""
