"""Transforms of the ESME's device configuration (6.2.x, 6.4.x), laid out as RTDS 4.5.0 has them.

6.2.x Read Device Configuration takes nothing from the body: each becomes its use case's GETs
(:mod:`rig.protocol.gbcs.catalogue_device_config`). 6.2.10 becomes ECS25r1 for a supplier and
ECS25r2 for a network operator, whose role the DCC knows from the requester's organisation
certificate. 6.4.1 Update Device Configuration (Load Limiting General Settings) becomes ECS28a:
the body's four values written "to come", then the activation date-time of each: at once (no
ExecutionDateTime), the ExecutionDateTime (future-dated), or none (DUIS's cancellation date,
3000-12-31: the change the meter holds is cancelled). 6.4.2 becomes ECS28b, the counter reset.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from gateway.transform.registry import TransformInput, TransformRefused, number, transforms
from rig.protocol import smki
from rig.protocol.duis import codes
from rig.protocol.duis.xml import text
from rig.protocol.gbcs import dlms
from rig.protocol.gbcs.catalogue_device_config import (
    AT_ONCE,
    ECS25R1,
    ECS25R2,
    ECS26B,
    ECS26C,
    ECS26D,
    ECS26E,
    ECS26F,
    ECS26I,
    ECS26J,
    ECS26K,
    ECS26L,
    ECS26M,
    ECS26N,
    ECS28A,
    ECS28B,
    ECS40,
    LOAD_LIMIT,
    NEVER,
)
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command

_D = DataType
CANCEL_FROM = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)  # DUIS's cancellation: 3000-12-31
# 6.4.1's body: the DUIS element of each value ECS28a writes
LOAD_LIMIT_ELEMENTS = {
    "power_threshold": "LoadLimitPowerThreshold",
    "period": "LoadLimitPeriod",
    "restoration_period": "LoadLimitRestorationPeriod",
}
SUPPLY_STATES = {"Disable": 0xFF, "Unchanged": 0x00}  # on a trigger: disable the supply, or not


@transforms(
    ECS26B, ECS26K, ECS26C, ECS26L, ECS26D, ECS26M, ECS26E, ECS26N, ECS26I, ECS26F, ECS40, ECS26J
)
def read_device_configuration(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return command(uc, given.counter, given.originator.raw, given.device.raw)


def requester_role(given: TransformInput) -> smki.OrgRole | None:
    """The requester's remote party role, from its KA certificate in SMKI (None: unknown)."""
    der = given.peer(given.originator).ka_certificate
    if der is None:
        return None
    try:
        return smki.role_of(x509.load_der_x509_certificate(der))
    except (ValueError, smki.ProfileError):
        return None


@transforms(ECS25R1, ECS25R2)
def read_alert_behaviours(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    network = requester_role(given) is smki.OrgRole.NETWORK_OPERATOR
    uc = ECS25R2 if network else ECS25R1
    return command(uc, given.counter, given.originator.raw, given.device.raw)


def activation(body_text: str | None) -> bytes:
    """When a change takes effect: at once, at the ExecutionDateTime, or (DUIS's
    cancellation date) never."""
    if body_text is None:
        return AT_ONCE
    try:
        when = dt.datetime.fromisoformat(body_text)
    except ValueError:
        raise TransformRefused(
            codes.NOT_DUIS, f"ExecutionDateTime {body_text!r} is not a date-time"
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return NEVER if when >= CANCEL_FROM else dlms.date_time(when)


@transforms(ECS28A)
def update_load_limiting(uc: UseCase, given: TransformInput) -> GbcsMessage:
    settings = given.request.body  # UpdateDeviceConfigurationLoadLimitingGeneralSettings
    state = text(settings, "sr:LoadLimitSupplyState") or ""
    if state not in SUPPLY_STATES:
        raise TransformRefused(
            codes.NOT_DUIS, f"LoadLimitSupplyState is {' or '.join(SUPPLY_STATES)}, not {state!r}"
        )
    values = {
        name: Data(_D.DOUBLE_LONG_UNSIGNED, number(settings, f"sr:{element}"))
        for name, element in LOAD_LIMIT_ELEMENTS.items()
    }
    values["supply_state"] = Data(_D.BOOLEAN, SUPPLY_STATES[state])
    at = Data(_D.OCTET_STRING, activation(text(settings, "sr:ExecutionDateTime")))
    values.update({f"{name}_at": at for name in LOAD_LIMIT})
    return command(uc, given.counter, given.originator.raw, given.device.raw, values)


@transforms(ECS28B)
def reset_load_limit_counter(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return command(uc, given.counter, given.originator.raw, given.device.raw)
