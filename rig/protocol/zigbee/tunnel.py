"""The GBCS tunnel header carried in Tunneling Transfer Data (GBCS 10.2.2).

Every GBCS message crosses the HAN as ``PUT || message``. A sleepy device (the
GSME) instead asks the CHF for what is queued for it: ``GET``; the CHF answers
``GET-RESPONSE || remaining || message`` (remaining: how many more are queued,
so the device keeps asking until zero), and the device returns its responses
with ``PUT``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from rig.protocol.codec import Reader


class TunnelCommand(IntEnum):
    GET = 0x01
    GET_RESPONSE = 0x02
    PUT = 0x03


@dataclass(frozen=True, slots=True)
class TunnelMessage:
    command: TunnelCommand
    message: bytes = b""
    remaining: int = 0  # GET-RESPONSE only

    def encode(self) -> bytes:
        if self.command is TunnelCommand.GET:
            return bytes([TunnelCommand.GET])
        if self.command is TunnelCommand.GET_RESPONSE:
            return bytes([TunnelCommand.GET_RESPONSE, min(self.remaining, 255)]) + self.message
        return bytes([TunnelCommand.PUT]) + self.message

    @classmethod
    def decode(cls, data: bytes) -> TunnelMessage:
        r = Reader(data)
        code = r.u8("GBCS tunnel command")
        if code not in TunnelCommand._value2member_map_:
            raise r.fail(
                f"unknown GBCS tunnel command 0x{code:02x} (GET 01, GET-RESPONSE 02, PUT 03)"
            )
        command = TunnelCommand(code)
        if command is TunnelCommand.GET:
            r.done("GET")
            return cls(command)
        if command is TunnelCommand.GET_RESPONSE:
            remaining = r.u8("remaining messages")
            return cls(command, r.rest(), remaining)
        return cls(command, r.rest())
