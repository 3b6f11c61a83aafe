"""The DCC's transform: a DUIS service request into the GBCS command of its use case.

Each use case's transform is registered with :func:`transforms` in a module of this
package (one family per module); :func:`served` says whether the rig serves an SRV for a
device type, which is true when a use case is declared for it and has a transform.
"""

from gateway.transform import (
    aux_loads,
    billing,
    chf,
    commission,
    credentials,
    customer,
    debt,
    device_config,
    esme_config,
    event_logs,
    firmware,
    fixed,
    gas_billing,
    gas_config,
    gas_logs,
    gas_prepayment,
    gas_reads,
    gas_tariff,
    join,
    prepay_config,
    prepay_logs,
    prepayment,
    reads,
    restore,
    tariff,
)
from gateway.transform.registry import TransformInput, served, transform_for, transforms

__all__ = [
    "TransformInput",
    "aux_loads",
    "billing",
    "chf",
    "commission",
    "credentials",
    "customer",
    "debt",
    "device_config",
    "esme_config",
    "event_logs",
    "firmware",
    "fixed",
    "gas_billing",
    "gas_config",
    "gas_logs",
    "gas_prepayment",
    "gas_reads",
    "gas_tariff",
    "join",
    "prepay_config",
    "prepay_logs",
    "prepayment",
    "reads",
    "restore",
    "served",
    "tariff",
    "transform_for",
    "transforms",
]
