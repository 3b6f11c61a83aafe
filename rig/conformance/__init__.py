"""`rig conformance`: DCC's DUIS templates through the running rig, compared with RTDS.

templates (a template adapted to the rig's devices and users), compare (the GBCS command
the DCC sent against RTDS's reference command, the device's answer against RTDS's),
run (one template at a time through the test DCC User, a result per template), report
(the JSON and the self-contained HTML file, counts per outcome).
"""

from __future__ import annotations
