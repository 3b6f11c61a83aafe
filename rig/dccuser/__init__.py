"""The rig's test DCC User: a DUIS client and the Receive Response Service it listens on."""

# the readers of each family register themselves with rig.dccuser.readers on import
from rig.dccuser import (
    read_chf,
    read_commission,
    read_credentials,
    read_event_logs,
    read_firmware,
    read_gas_logs,
    read_gas_prepayment,
    read_gas_reads,
    read_join,
    read_prepay_config,
    read_prepay_logs,
    read_reads,
)

__all__ = [
    "read_chf",
    "read_commission",
    "read_credentials",
    "read_event_logs",
    "read_firmware",
    "read_gas_logs",
    "read_gas_prepayment",
    "read_gas_reads",
    "read_join",
    "read_prepay_config",
    "read_prepay_logs",
    "read_reads",
]
