"""ZigBee Smart Energy clusters as GB uses them, declared on zigpy's ZCL types.

zigpy (2.4) defines Metering fully but leaves Tunneling, Prepayment, Price and
Messaging empty; they are completed here from the ZSE 1.4 cluster definitions,
with the attributes and commands GBCS uses on the HAN. ``ServerCommandDefs`` are
the commands a cluster server receives (sent client to server), ``ClientCommandDefs``
those it generates, as in zigpy. (zigpy marks Metering's commands with inverted
``direction`` values; :mod:`rig.protocol.zigbee.zcl` derives the direction bit from
the class, never from that attribute.)
"""

from __future__ import annotations

from typing import Final

import zigpy.types as t
from zigpy.zcl import Cluster
from zigpy.zcl.clusters import general
from zigpy.zcl.clusters import smartenergy as zse
from zigpy.zcl.foundation import (
    BaseAttributeDefs,
    BaseCommandDefs,
    CommandSchema,
    ZCLAttributeAccess,
    ZCLAttributeDef,
    ZCLCommandDef,
)

GB_HRGP_PROTOCOL_ID = 6  # the GB HAN Remote Gateway Protocol, carried by the Tunneling cluster
GB_MANUFACTURER_CODE = 0xFFFF  # "not manufacturer specific" in Request Tunnel
MAX_TRANSFER_SIZE = 1500  # GBCS: tunnelled messages up to 1500 octets
NOTIFICATION_SCHEME_B = 0x02  # the Metering notification scheme GB's mirror uses
TUNNEL_MESSAGE_PENDING = 1 << 22  # FunctionalNotificationFlags bit 22 (as zigpy defines it)
ZIGBEE_EPOCH = 946_684_800  # 2000-01-01, the origin of ZCL UTCTime

Basic = general.Basic
Time = general.Time
KeepAlive = general.KeepAlive
# 0x0019, firmware over the HAN: zigpy's own declaration reads the rig's OTA frames byte for
# byte (tests/test_firmware_image.py), so the HAN application decodes them like any other
# cluster's; the typed codecs and the OTA file format are in rig.protocol.zigbee.ota
Ota = general.Ota
Metering = zse.Metering


class TunnelStatus(t.enum8):
    SUCCESS = 0x00
    BUSY = 0x01
    NO_MORE_TUNNEL_IDS = 0x02
    PROTOCOL_NOT_SUPPORTED = 0x03
    FLOW_CONTROL_NOT_SUPPORTED = 0x04


class TransferDataStatus(t.enum8):
    NO_SUCH_TUNNEL = 0x00
    WRONG_DEVICE = 0x01
    DATA_OVERFLOW = 0x02


class OriginatingDevice(t.enum8):
    """Who keyed a top-up or asked for emergency credit (SE 1.4 Prepayment; GBCS's PCS01
    and PCS02 carry 0x02 from the PPMID)."""

    ENERGY_SERVICE_INTERFACE = 0x00
    METER = 0x01
    IN_HOME_DISPLAY_DEVICE = 0x02  # the IHD or, in GB, the PPMID


class TopUpResult(t.enum8):
    """The result of a Consumer Top Up (SE 1.4 Prepayment, Consumer Top Up Response)."""

    ACCEPTED = 0x00
    REJECTED_INVALID_TOP_UP = 0x01
    REJECTED_DUPLICATE_TOP_UP = 0x02
    REJECTED_ERROR = 0x03
    REJECTED_MAX_CREDIT_REACHED = 0x04
    REJECTED_KEYPAD_LOCK = 0x05
    REJECTED_TOP_UP_VALUE_TOO_LARGE = 0x06
    ACCEPTED_SUPPLY_ENABLED = 0x10
    ACCEPTED_SUPPLY_DISABLED = 0x11
    ACCEPTED_SUPPLY_ARMED = 0x12

    @property
    def accepted(self) -> bool:
        return self in (
            TopUpResult.ACCEPTED,
            TopUpResult.ACCEPTED_SUPPLY_ENABLED,
            TopUpResult.ACCEPTED_SUPPLY_DISABLED,
            TopUpResult.ACCEPTED_SUPPLY_ARMED,
        )


# Command payloads, as zigpy declares its own (e.g. Metering's GetProfileResponseSchema).
# zigpy links each schema class back to its one command (``schema.command``), so a command
# defined in both directions has a class per direction ("ToServer": a server receives it).


class RequestTunnelSchema(CommandSchema):
    protocol_id: t.uint8_t
    manufacturer_code: t.uint16_t
    flow_control_support: t.Bool
    max_incoming_transfer_size: t.uint16_t


class CloseTunnelSchema(CommandSchema):
    tunnel_id: t.uint16_t


class TransferDataToServerSchema(CommandSchema):
    tunnel_id: t.uint16_t
    data: t.Bytes


class TransferDataErrorToServerSchema(CommandSchema):
    tunnel_id: t.uint16_t
    status: TransferDataStatus


class RequestTunnelResponseSchema(CommandSchema):
    tunnel_id: t.uint16_t
    tunnel_status: TunnelStatus
    max_incoming_transfer_size: t.uint16_t


class TransferDataToClientSchema(CommandSchema):
    tunnel_id: t.uint16_t
    data: t.Bytes


class TransferDataErrorToClientSchema(CommandSchema):
    tunnel_id: t.uint16_t
    status: TransferDataStatus


class TunnelClosureNotificationSchema(CommandSchema):
    tunnel_id: t.uint16_t


class SelectAvailableEmergencyCreditSchema(CommandSchema):
    command_issue_date_time: t.UTCTime
    originating_device: OriginatingDevice


class ConsumerTopUpSchema(CommandSchema):
    originating_device: OriginatingDevice
    top_up_code: t.LVBytes  # the UTRN's 20 digits in ASCII


class ConsumerTopUpResponseSchema(CommandSchema):
    """Values in the meter's currency unit (GBCS's PCS01 response: millipence)."""

    result_type: TopUpResult
    top_up_value: t.int32s
    source_of_top_up: OriginatingDevice
    credit_remaining: t.int32s


class GetCurrentPriceSchema(CommandSchema):
    command_options: t.bitmap8


class PublishPriceSchema(CommandSchema):
    provider_id: t.uint32_t
    rate_label: t.LVBytes
    issuer_event_id: t.uint32_t
    current_time: t.UTCTime
    unit_of_measure: t.enum8
    currency: t.uint16_t
    price_trailing_digit_and_tier: t.uint8_t
    number_of_price_tiers_and_register_tier: t.uint8_t
    start_time: t.UTCTime
    duration_in_minutes: t.uint16_t
    price: t.uint32_t


class GetLastMessageSchema(CommandSchema):
    """No payload."""


class MessageConfirmationSchema(CommandSchema):
    message_id: t.uint32_t
    confirmation_time: t.UTCTime


class DisplayMessageSchema(CommandSchema):
    message_id: t.uint32_t
    message_control: t.bitmap8
    start_time: t.UTCTime
    duration_in_minutes: t.uint16_t
    message: t.CharacterString


class CancelMessageSchema(CommandSchema):
    message_id: t.uint32_t
    message_control: t.bitmap8


class Tunneling(zse.Tunneling):
    """0x0704: a point-to-point byte pipe; GB-HRGP carries GBCS messages through it."""

    class AttributeDefs(BaseAttributeDefs):
        close_tunnel_timeout: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0000), type=t.uint16_t, access=ZCLAttributeAccess.Read
        )

    class ServerCommandDefs(BaseCommandDefs):
        request_tunnel: Final = ZCLCommandDef(id=t.uint8_t(0x00), schema=RequestTunnelSchema)
        close_tunnel: Final = ZCLCommandDef(id=t.uint8_t(0x01), schema=CloseTunnelSchema)
        transfer_data: Final = ZCLCommandDef(id=t.uint8_t(0x02), schema=TransferDataToServerSchema)
        transfer_data_error: Final = ZCLCommandDef(
            id=t.uint8_t(0x03), schema=TransferDataErrorToServerSchema
        )

    class ClientCommandDefs(BaseCommandDefs):
        request_tunnel_response: Final = ZCLCommandDef(
            id=t.uint8_t(0x00), schema=RequestTunnelResponseSchema
        )
        transfer_data: Final = ZCLCommandDef(id=t.uint8_t(0x01), schema=TransferDataToClientSchema)
        transfer_data_error: Final = ZCLCommandDef(
            id=t.uint8_t(0x02), schema=TransferDataErrorToClientSchema
        )
        tunnel_closure_notification: Final = ZCLCommandDef(
            id=t.uint8_t(0x06), schema=TunnelClosureNotificationSchema
        )


class Prepayment(zse.Prepayment):
    """0x0705: credit and debt as a prepayment meter exposes them to the PPMID and IHD."""

    class AttributeDefs(BaseAttributeDefs):
        payment_control_configuration: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0000), type=t.bitmap16, access=ZCLAttributeAccess.Read
        )
        credit_remaining: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0001), type=t.int32s, access=ZCLAttributeAccess.Read
        )
        emergency_credit_remaining: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0002), type=t.int32s, access=ZCLAttributeAccess.Read
        )
        credit_status: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0003), type=t.bitmap8, access=ZCLAttributeAccess.Read
        )
        credit_remaining_timestamp: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0004), type=t.UTCTime, access=ZCLAttributeAccess.Read
        )
        accumulated_debt: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0005), type=t.int32s, access=ZCLAttributeAccess.Read
        )
        emergency_credit_limit_allowance: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0010), type=t.uint32_t, access=ZCLAttributeAccess.Read
        )
        emergency_credit_threshold: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0011), type=t.uint32_t, access=ZCLAttributeAccess.Read
        )
        total_credit_added: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0020), type=t.uint48_t, access=ZCLAttributeAccess.Read
        )
        low_credit_warning: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0031), type=t.uint32_t, access=ZCLAttributeAccess.Read
        )

    class ServerCommandDefs(BaseCommandDefs):
        select_available_emergency_credit: Final = ZCLCommandDef(
            id=t.uint8_t(0x00), schema=SelectAvailableEmergencyCreditSchema
        )
        consumer_top_up: Final = ZCLCommandDef(id=t.uint8_t(0x04), schema=ConsumerTopUpSchema)

    class ClientCommandDefs(BaseCommandDefs):
        consumer_top_up_response: Final = ZCLCommandDef(
            id=t.uint8_t(0x03), schema=ConsumerTopUpResponseSchema
        )


class Price(zse.Price):
    """0x0700: the tariff the IHD shows (commodity, standing charge, block/tier prices)."""

    class AttributeDefs(BaseAttributeDefs):
        tier1_price_label: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0000), type=t.LVBytes, access=ZCLAttributeAccess.Read
        )
        commodity_type: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0300), type=t.enum8, access=ZCLAttributeAccess.Read
        )
        standing_charge: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0301), type=t.uint32_t, access=ZCLAttributeAccess.Read
        )
        conversion_factor: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0302), type=t.uint32_t, access=ZCLAttributeAccess.Read
        )
        calorific_value: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0304), type=t.uint32_t, access=ZCLAttributeAccess.Read
        )
        no_tier_block1_price: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0400), type=t.uint32_t, access=ZCLAttributeAccess.Read
        )
        tier1_block1_price: Final = ZCLAttributeDef(
            id=t.uint16_t(0x0410), type=t.uint32_t, access=ZCLAttributeAccess.Read
        )

    class ServerCommandDefs(BaseCommandDefs):
        get_current_price: Final = ZCLCommandDef(id=t.uint8_t(0x00), schema=GetCurrentPriceSchema)

    class ClientCommandDefs(BaseCommandDefs):
        publish_price: Final = ZCLCommandDef(id=t.uint8_t(0x00), schema=PublishPriceSchema)


class Messaging(zse.Messaging):
    """0x0703: supplier messages shown on the IHD, and the consumer's confirmation."""

    class ServerCommandDefs(BaseCommandDefs):
        get_last_message: Final = ZCLCommandDef(id=t.uint8_t(0x00), schema=GetLastMessageSchema)
        message_confirmation: Final = ZCLCommandDef(
            id=t.uint8_t(0x01), schema=MessageConfirmationSchema
        )

    class ClientCommandDefs(BaseCommandDefs):
        display_message: Final = ZCLCommandDef(id=t.uint8_t(0x00), schema=DisplayMessageSchema)
        cancel_message: Final = ZCLCommandDef(id=t.uint8_t(0x01), schema=CancelMessageSchema)


# Keyed by plain int: the cluster ids callers look up come off the air as ints.
CLUSTERS: Final[dict[int, type[Cluster]]] = {
    c.cluster_id: c
    for c in (Basic, Time, KeepAlive, Ota, Metering, Prepayment, Price, Messaging, Tunneling)
}
