"""The SM WAN broker with the rig's generated config: a real mosquitto, real TLS.

Every refusal is checked by what arrives (or does not) at a legitimate client,
never by the broker's acknowledgement alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rig.description import load_rig
from rig.pki.authority import EPOCH, ORG_VALIDITY, Pki
from rig.plan import broker
from rig.plan.ports import free_port
from rig.protocol import wan
from tests.conftest import RIGS, collect_mqtt, wait_port

QUIET_S = 1.0  # how long we listen for something that must not arrive


@dataclass
class Wan:
    port: int
    pki: Pki
    hub_a: object
    hub_b: object

    def client(
        self,
        identity: str,
        *,
        identifier: str | None = None,
        clean_session: bool = False,
        will: aiomqtt.Will | None = None,
    ) -> aiomqtt.Client:
        cred = self.pki.wan_client(identity)
        ctx = ssl.create_default_context(cafile=str(self.pki.wan_ca.cert))
        ctx.load_cert_chain(str(cred.cert), str(cred.key))
        return aiomqtt.Client(
            "127.0.0.1",
            self.port,
            identifier=identifier or identity,
            tls_context=ctx,
            clean_session=clean_session,
            timeout=5,
            will=will,
        )


@pytest.fixture
def wan_broker(tmp_path: Path, mosquitto_bin: str, started: list) -> Wan:
    rig = load_rig(RIGS / "two-hubs.yaml")
    pki = Pki(tmp_path / "pki")
    pki.ensure(rig, ["127.0.0.1"])
    port = free_port()
    acl = tmp_path / "acl"
    acl.write_text(broker.render_acl([h.eui for h in rig.hubs]))
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(broker.render_config(pki, "127.0.0.1", port, tmp_path, acl))
    log = open(tmp_path / "broker.log", "wb")  # noqa: SIM115
    started.append(subprocess.Popen([mosquitto_bin, "-c", str(conf)], stdout=log, stderr=log))
    wait_port("127.0.0.1", port)
    return Wan(port, pki, rig.node("hub-a").eui, rig.node("hub-b").eui)


async def _try_publish(
    wan_broker: Wan, identity: str, topic: str, payload: bytes, qos: int
) -> None:
    """Publish as ``identity``; mosquitto may drop the connection of a denied QoS 1 publish."""
    with contextlib.suppress(aiomqtt.MqttError):
        async with wan_broker.client(identity) as client:
            await client.publish(topic, payload, qos=qos)
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("qos", [0, 1])
async def test_hub_cannot_publish_on_another_hubs_topic(wan_broker: Wan, qos: int) -> None:
    a, b = wan_broker.hub_a, wan_broker.hub_b
    async with wan_broker.client(wan.GATEWAY_IDENTITY) as gateway:
        await gateway.subscribe(f"{wan.ROOT}/#", qos=1)
        hub_a = wan.hub_identity(a)
        await _try_publish(wan_broker, hub_a, wan.up_topic(b), b"forged response for B", qos)
        await _try_publish(wan_broker, hub_a, wan.down_topic(b), b"forged command for B", qos)
        await _try_publish(wan_broker, hub_a, wan.status_topic(b), b"offline", qos)
        await _try_publish(wan_broker, hub_a, wan.up_topic(a), b"genuine response from hub A", qos)
        got = await collect_mqtt(gateway, QUIET_S)
    assert got == [(wan.up_topic(a), b"genuine response from hub A")]  # only the control


async def test_hub_cannot_read_another_hubs_commands(wan_broker: Wan) -> None:
    a, b = wan_broker.hub_a, wan_broker.hub_b
    async with (
        wan_broker.client(wan.hub_identity(a)) as hub_a,
        wan_broker.client(wan.hub_identity(b)) as hub_b,
    ):
        await hub_a.subscribe(wan.down_topic(b), qos=1)  # the SUBACK may well say "granted"
        await hub_a.subscribe(f"{wan.ROOT}/#", qos=1)
        await hub_a.subscribe(wan.down_topic(a), qos=1)
        await hub_b.subscribe(wan.down_topic(b), qos=1)
        async with wan_broker.client(wan.GATEWAY_IDENTITY) as gateway:
            await gateway.publish(wan.down_topic(b), b"command for B", qos=1)
            await gateway.publish(wan.down_topic(a), b"command for A", qos=1)
        got_a, got_b = await asyncio.gather(
            collect_mqtt(hub_a, QUIET_S), collect_mqtt(hub_b, QUIET_S)
        )
    assert (wan.down_topic(b), b"command for B") in got_b  # B gets its own command
    assert [p for _, p in got_a] == [b"command for A"]  # A gets only its own


async def test_client_without_certificate_is_refused(wan_broker: Wan) -> None:
    ctx = ssl.create_default_context(cafile=str(wan_broker.pki.wan_ca.cert))
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(
            "127.0.0.1", wan_broker.port, identifier="anonymous", tls_context=ctx, timeout=2
        ):
            pass


async def test_certificate_from_another_ca_is_refused(wan_broker: Wan, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, wan.hub_identity(wan_broker.hub_a))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(EPOCH)
        .not_valid_after(ORG_VALIDITY)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "rogue.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "rogue.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.create_default_context(cafile=str(wan_broker.pki.wan_ca.cert))
    ctx.load_cert_chain(str(tmp_path / "rogue.pem"), str(tmp_path / "rogue.key"))
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(
            "127.0.0.1",
            wan_broker.port,
            tls_context=ctx,
            timeout=2,
            identifier=wan.hub_identity(wan_broker.hub_a),
        ):
            pass


async def test_second_client_cannot_steal_a_hubs_session(wan_broker: Wan) -> None:
    a, b = wan_broker.hub_a, wan_broker.hub_b
    # hub A has a persistent session, then goes offline; a command is queued for it
    async with wan_broker.client(wan.hub_identity(a)) as hub_a:
        await hub_a.subscribe(wan.down_topic(a), qos=1)
    async with wan_broker.client(wan.GATEWAY_IDENTITY) as gateway:
        await gateway.publish(wan.down_topic(a), b"queued while A was away", qos=1)
    # hub B's certificate claims hub A's client ID, asking to resume its session
    async with wan_broker.client(wan.hub_identity(b), identifier=wan.hub_identity(a)) as thief:
        stolen = await collect_mqtt(thief, QUIET_S)
        # while the thief is connected, the real hub A connects and must get its message
        async with wan_broker.client(wan.hub_identity(a)) as hub_a:
            mine = await collect_mqtt(hub_a, QUIET_S)
            # and the thief's presence did not kick hub A off: a new command still reaches it
            async with wan_broker.client(wan.GATEWAY_IDENTITY) as gateway:
                await gateway.publish(wan.down_topic(a), b"second command", qos=1)
            mine += await collect_mqtt(hub_a, QUIET_S)
    assert stolen == []
    assert [p for _, p in mine] == [b"queued while A was away", b"second command"]


async def test_will_marks_a_hub_that_loses_power_offline(wan_broker: Wan, started: list) -> None:
    """A hub killed without DISCONNECT (power loss) is announced offline by its will."""
    a = wan_broker.hub_a
    cred = wan_broker.pki.wan_client(wan.hub_identity(a))
    hub = subprocess.Popen(  # noqa: ASYNC220 - a real client process, to SIGKILL
        [
            "mosquitto_pub",
            "-h",
            "127.0.0.1",
            "-p",
            str(wan_broker.port),
            "-i",
            wan.hub_identity(a),
            "--cafile",
            str(wan_broker.pki.wan_ca.cert),
            "--cert",
            str(cred.cert),
            "--key",
            str(cred.key),
            "-q",
            "1",
            "-t",
            wan.status_topic(a),
            "-l",
            "--will-topic",
            wan.status_topic(a),
            "--will-payload",
            "offline",
            "--will-qos",
            "1",
            "--will-retain",
        ],
        stdin=subprocess.PIPE,
    )
    started.append(hub)
    async with wan_broker.client(wan.GATEWAY_IDENTITY, clean_session=True) as gateway:
        await gateway.subscribe(wan.status_topic(a), qos=1)
        await asyncio.sleep(0.5)
        hub.kill()  # SIGKILL: no DISCONNECT reaches the broker
        hub.wait()
        got = await collect_mqtt(gateway, QUIET_S)
    assert (wan.status_topic(a), wan.OFFLINE) in got
