"""How a process reaches the WAN's broker: one MQTT/TLS record, for the hubs and the gateway.

The broker (mosquitto) requires a client certificate and takes its CN as the client's
username and ID, so each record names one identity's certificate and key.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class MqttTls:
    host: str
    port: int
    ca: Path  # the WAN CA that signed the broker's certificate
    cert: Path  # this client's certificate (its CN is its MQTT identity)
    key: Path

    def tls_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca))
        ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"
