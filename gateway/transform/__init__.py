"""The DCC's transform: a DUIS service request into the GBCS command of its use case.

Each use case's transform is registered with :func:`transforms` in a module of this
package (one family per module); :func:`served` says whether the rig serves an SRV for a
device type, which is true when a use case is declared for it and has a transform.
"""

from gateway.transform import (
    chf,
    commission,
    credentials,
    debt,
    event_logs,
    firmware,
    fixed,
    gas_logs,
    gas_prepayment,
    gas_reads,
    join,
    prepay_config,
    prepay_logs,
    prepayment,
    reads,
    restore,
)
from gateway.transform.registry import TransformInput, served, transform_for, transforms

__all__ = [
    "TransformInput",
    "chf",
    "commission",
    "credentials",
    "debt",
    "event_logs",
    "firmware",
    "fixed",
    "gas_logs",
    "gas_prepayment",
    "gas_reads",
    "join",
    "prepay_config",
    "prepay_logs",
    "prepayment",
    "reads",
    "restore",
    "served",
    "transform_for",
    "transforms",
]
