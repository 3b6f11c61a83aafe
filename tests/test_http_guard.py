"""The rig's HTTP guard (rig.runtime.http) and the servers behind it, against hostile clients:
slow headers and bodies, many idle connections, failing handlers; the SMKI repository and a
node's health endpoint fuzzed over real sockets; serials and counters in DUIS."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.smki_service import MAX_REQUEST, SmkiService
from nodes.config import HanConfig, NodeConfig
from nodes.service import NodeService
from rig.pki.keystores import load
from rig.protocol import smki
from rig.protocol.duis import xmldsig
from rig.protocol.duis.message import DuisError, RequestId, parse_document
from rig.protocol.duis.signed import sign_document, verify_document
from rig.protocol.duis.xml import parse
from rig.protocol.eui import Eui64
from rig.protocol.keystore import KeyStore
from rig.protocol.smki import SerialError, Usage, parse_serial
from rig.runtime.http import HttpLimits, HttpServer, application, start_site
from tests.conftest import VECTORS, vectors

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PYTHON_TEXT = ("Traceback", 'File "', "Exception", "Error:")
LIMITS = HttpLimits(header_timeout_s=0.5, body_timeout_s=0.8, max_slow=3, keepalive_timeout_s=5)

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
DEVICE = Eui64.parse("00-DB-12-34-56-78-90-A0")


# --- the guard itself ---------------------------------------------------------------------------


def _guarded_app(limits: HttpLimits) -> web.Application:
    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="hello")

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    async def boom(_request: web.Request) -> web.Response:
        raise RuntimeError("kaboom-secret: the database password is hunter2")

    app = application("test", limits)
    app.router.add_get("/", hello)
    app.router.add_post("/echo", echo)
    app.router.add_get("/boom", boom)
    return app


@asynccontextmanager
async def _serving(limits: HttpLimits = LIMITS) -> AsyncIterator[HttpServer]:
    server = await start_site(_guarded_app(limits), "127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.stop()


async def _connect(server: HttpServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.port)


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    body = await reader.readexactly(int(found.group(1))) if found else b""
    return status, body


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes | None:
    """What the server sent before closing, or None if it is still open after ``seconds``."""
    try:
        return await asyncio.wait_for(reader.read(), seconds)
    except (ConnectionResetError, BrokenPipeError):
        return b""
    except TimeoutError:
        return None


async def test_headers_that_trickle_are_cut_off_after_the_header_timeout() -> None:
    async with _serving() as server:
        reader, writer = await _connect(server)
        start = time.monotonic()
        writer.write(b"POST / HTTP/1.1\r\n")
        await writer.drain()
        sent = await _closed_within(reader, 3.0)
        elapsed = time.monotonic() - start
        writer.close()
    assert sent == b"", "the connection is closed without an answer"
    assert LIMITS.header_timeout_s * 0.8 <= elapsed < LIMITS.header_timeout_s + 1.0


async def test_a_body_that_trickles_gets_408_after_the_body_timeout() -> None:
    async with _serving() as server:
        reader, writer = await _connect(server)
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n")
        await writer.drain()

        async def trickle() -> None:
            for _ in range(50):
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.3)

        dribble = asyncio.create_task(trickle())
        start = time.monotonic()
        try:
            status, body = await asyncio.wait_for(_response(reader), 5.0)
            elapsed = time.monotonic() - start
        finally:
            dribble.cancel()
            await asyncio.gather(dribble, return_exceptions=True)
        # the guard waits for the next request's headers, which do not come: it hangs up
        # (and aiohttp's lingering read of the rest of the body ends with the connection)
        dropped = await _closed_within(reader, LIMITS.header_timeout_s + 2.0)
        writer.close()
    assert dropped is not None
    assert status == 408, body
    assert b"did not arrive within" in body
    assert LIMITS.body_timeout_s * 0.8 <= elapsed < LIMITS.body_timeout_s + 1.5


async def test_a_normal_client_is_served_while_slow_ones_hold_connections() -> None:
    async with _serving() as server:
        slow = []
        for _ in range(LIMITS.max_slow):
            reader, writer = await _connect(server)
            writer.write(b"GET / HTTP/1.1\r\nHost:")
            await writer.drain()
            slow.append((reader, writer))
        async with aiohttp.ClientSession() as session:
            start = time.monotonic()
            async with session.get(f"http://127.0.0.1:{server.port}/") as resp:
                assert resp.status == 200 and await resp.text() == "hello"
            assert time.monotonic() - start < 0.3
        for _, writer in slow:
            writer.close()


async def test_beyond_max_slow_idle_connections_the_oldest_is_closed() -> None:
    limits = HttpLimits(header_timeout_s=5.0, body_timeout_s=5.0, max_slow=3)
    async with _serving(limits) as server:
        conns = []
        for _ in range(limits.max_slow + 1):
            conns.append(await _connect(server))
            await asyncio.sleep(0.05)  # let the server accept them in this order
        oldest = await _closed_within(conns[0][0], 1.0)
        rest = [await _closed_within(reader, 0.1) for reader, _ in conns[1:]]
        closed_slow = server.closed_slow
        for _, writer in conns:
            writer.close()
    assert oldest == b"", "the oldest idle connection is closed long before its header timeout"
    assert rest == [None] * limits.max_slow, "the newer ones stay open"
    assert closed_slow == 1


async def test_a_failing_handler_answers_a_one_line_500_without_a_traceback() -> None:
    async with _serving() as server, aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{server.port}/boom") as resp:
            status, body = resp.status, await resp.text()
        async with session.get(f"http://127.0.0.1:{server.port}/") as resp:
            assert resp.status == 200  # the server lives on
    assert status == 500
    assert body.strip() and "\n" not in body.strip()
    for leak in ("Traceback", "kaboom", "hunter2", "RuntimeError", *PYTHON_TEXT):
        assert leak not in body


async def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    async with _serving() as server:
        reader, writer = await _connect(server)
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        first = await asyncio.wait_for(_response(reader), 2.0)
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde")
        second = await asyncio.wait_for(_response(reader), 2.0)
        await asyncio.sleep(LIMITS.header_timeout_s / 2)  # idle, but within the header timeout
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        third = await asyncio.wait_for(_response(reader), 2.0)
        writer.close()
    assert first == (200, b"hello")
    assert second == (200, b"abcde")
    assert third == (200, b"hello")


# --- servers in a thread, reached over plain sockets (for hypothesis) ----------------------------


class _Served:
    """An app behind the guard, served by its own event loop in a thread."""

    def __init__(self, make_app: Callable[[], web.Application]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = self._call(self._start(make_app))

    def _call(self, coro: Awaitable[Any]) -> Any:
        async def run() -> Any:
            return await coro

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    @staticmethod
    async def _start(make_app: Callable[[], web.Application]) -> HttpServer:
        return await start_site(make_app(), "127.0.0.1", 0)

    @property
    def port(self) -> int:
        return int(self.server.port)

    def close(self) -> None:
        self._call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def _http(
    port: int,
    method: bytes,
    path: bytes,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[int, bytes]:
    """One request on its own connection (Connection: close); (0, b"") if the server hung up
    without an answer."""
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [name + b": " + value for name, value in headers or []]
    lines += [b"Content-Length: " + str(len(body)).encode(), b"Connection: close", b"", b""]
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\r\n".join(lines) + body)
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    if not data:
        return 0, b""
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


def _assert_no_python(status: int, body: bytes) -> None:
    assert status < 500, (status, body[:300])
    text = body.decode("utf-8", "replace")
    for leak in PYTHON_TEXT:
        assert leak not in text, (status, text[:300])


def _root(body: bytes) -> Any:
    return parse(body).getroot()


# --- SMKI ---------------------------------------------------------------------------------------


def _self_made(keys: KeyStore) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A device DS certificate (and a supplier's, when DCC's vectors are absent), issued by a
    throwaway CA with the rig's own SMKI profile."""
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = smki.ca_certificate("rig-test", ca_key, not_before=now)
    if not keys.credentials(SUPPLIER, Usage.XML):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = smki.organisation_certificate(
            SUPPLIER,
            smki.OrgRole.XML_SIGN_USER,
            key.public_key(),
            Usage.DS,
            ca,
            ca_key,
            not_before=now,
            not_after=smki.NO_EXPIRY,
        )
        keys.add(SUPPLIER, Usage.XML, cert, key, name="rig-test-supplier-xml")
    device_key = ec.generate_private_key(ec.SECP256R1())
    device = smki.device_certificate(
        DEVICE, device_key.public_key(), Usage.DS, ca, ca_key, not_before=now
    )
    keys.add(DEVICE, Usage.DS, device, name="rig-test-device-ds")
    return device, device_key


@dataclass
class Smki:
    port: int
    keys: KeyStore
    known: x509.Certificate  # a certificate the repository holds


@pytest.fixture(scope="module")
def smki_server() -> Iterator[Smki]:
    folder = VECTORS / "smki" / "xml-sign"
    keys = load([folder]) if folder.is_dir() else KeyStore()
    _self_made(keys)
    known = keys.credentials(SUPPLIER, Usage.XML)[0].certificate

    def make_app() -> web.Application:
        app = application("smki", LIMITS)
        SmkiService(keys, {DEVICE}).routes(app)
        return app

    served = _Served(make_app)
    yield Smki(served.port, keys, known)
    served.close()


SEARCH = b"/services/certificatesearch"
RETRIEVE = b"/services/retrievecertificate"


def _retrieve_xml(serial: str) -> bytes:
    return (
        "<CertificateDataRequest><CertificateSerial>"
        f"{escape(serial)}</CertificateSerial></CertificateDataRequest>"
    ).encode("utf-8", "surrogatepass")


def _search_xml(alt: str | None = None, name: str | None = None) -> bytes:
    inner = (
        ""
        if alt is None
        else f"<CertificateSubjectAltName>{escape(alt)}</CertificateSubjectAltName>"
    )
    inner += (
        "" if name is None else f"<CertificateSubjectName>{escape(name)}</CertificateSubjectName>"
    )
    return f"<CertificateSearchRequest>{inner}</CertificateSearchRequest>".encode(
        "utf-8", "surrogatepass"
    )


def _post(server: Smki, path: bytes, body: bytes) -> tuple[int, bytes]:
    status, reply = _http(server.port, b"POST", path, body, [(b"Content-Type", b"application/xml")])
    _assert_no_python(status, reply)
    if status >= 400:
        reason = reply.decode("utf-8", "replace").strip()
        assert reason and "\n" not in reason, (status, reply[:300])
    return status, reply


@pytest.mark.parametrize(
    ("serial", "why"),
    [
        ("²", "character other than 0-9"),
        ("5" * 5000, "5000 digits"),
        ("1" * 50, "50 digits"),
        ("", "empty"),
        ("-1", "character other than 0-9"),
        ("٣", "character other than 0-9"),
        (str(2**160), "more than 20 octets"),
    ],
)
def test_smki_refuses_a_serial_that_is_not_one(smki_server: Smki, serial: str, why: str) -> None:
    status, body = _post(smki_server, RETRIEVE, _retrieve_xml(serial))
    assert status == 401
    text = body.decode()
    assert "CertificateSerial must be a decimal serial of at most 49 digits" in text
    assert why in text and "Exceeds the limit" not in text


def test_smki_retrieves_a_known_serial(smki_server: Smki) -> None:
    known = smki_server.known
    status, body = _post(smki_server, RETRIEVE, _retrieve_xml(f" {known.serial_number}\n"))
    assert status == 200
    root = _root(body)
    der = base64.b64decode(root.findtext("CertificateResponse/CertificateBody") or "")
    assert der == known.public_bytes(serialization.Encoding.DER)
    assert root.findtext("CertificateResponse/CertificateSerial") == str(known.serial_number)


def test_smki_answers_402_for_a_well_formed_serial_it_does_not_hold(smki_server: Smki) -> None:
    for serial in ("0", "9" * 48, str(2**160 - 1)):
        assert _post(smki_server, RETRIEVE, _retrieve_xml(serial))[0] == 402


def test_smki_searches_devices_and_organisations(smki_server: Smki) -> None:
    status, body = _post(smki_server, SEARCH, _search_xml(alt=DEVICE.duis))
    assert status == 200 and _root(body).findtext("Result/CertificateUsage") == "DS"
    status, body = _post(smki_server, SEARCH, _search_xml(name=SUPPLIER.duis))
    assert status == 200 and _root(body).findall("Result")
    assert _post(smki_server, SEARCH, _search_xml(alt="00-00-00-00-00-00-00-01"))[0] == 402


@pytest.mark.parametrize(
    ("path", "body", "why"),
    [
        (SEARCH, _search_xml(DEVICE.duis, SUPPLIER.duis), "not both"),
        (SEARCH, _search_xml(), "give either"),
        (SEARCH, _search_xml(alt="²²-DB"), "must be an EUI-64"),
        (SEARCH, _search_xml(name="x" * 5000), "must be an EUI-64"),
        (SEARCH, _search_xml(alt=""), "must be an EUI-64"),
        (SEARCH, _retrieve_xml("1"), "expected a <CertificateSearchRequest>"),
        (RETRIEVE, _search_xml(alt=DEVICE.duis), "expected a <CertificateDataRequest>"),
        (RETRIEVE, b"<CertificateDataRequest/>", "empty"),
        (
            RETRIEVE,
            b"<CertificateDataRequest><CertificateSerial>1</CertificateSerial>"
            b"<CertificateSerial>2</CertificateSerial></CertificateDataRequest>",
            "give one CertificateSerial",
        ),
        (
            RETRIEVE,
            b"<CertificateDataRequest><CertificateSerial><a>1</a></CertificateSerial>"
            b"</CertificateDataRequest>",
            "text only",
        ),
        (RETRIEVE, b"\xff\xfe<\x00x\x00", "not XML"),
        (RETRIEVE, b"<CertificateDataRequest>\xe9</CertificateDataRequest>", "not XML"),
        (RETRIEVE, b"", "not XML"),
        (SEARCH, b'<!DOCTYPE r [<!ENTITY a "a">]><r>&a;</r>', "not XML"),
    ],
)
def test_smki_refuses_unreadable_requests_saying_why(
    smki_server: Smki, path: bytes, body: bytes, why: str
) -> None:
    status, reply = _post(smki_server, path, body)
    assert status == 401 and why in reply.decode(), reply


def test_smki_refuses_a_body_larger_than_any_request(smki_server: Smki) -> None:
    body = _retrieve_xml("1" + " " * MAX_REQUEST)
    status, reply = _post(smki_server, RETRIEVE, body)
    assert status == 413 and b"at most" in reply


_VALID = [
    _search_xml(alt=DEVICE.duis),
    _search_xml(name=SUPPLIER.duis),
    _retrieve_xml("123456789"),
]
_XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t\n\r"),
    max_size=80,
)


_SPECIAL = [b"\x00", b"\xff", b"<", b"&", b"]]>", b"\xc2", b"<!--", b"<x>"]


@st.composite
def _mutated_request(draw: st.DrawFn) -> bytes:
    doc = bytearray(draw(st.sampled_from(_VALID)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(doc) - 1)))
        op = draw(st.sampled_from(["flip", "cut", "insert", "replace"]))
        if op == "flip" and doc:
            doc[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del doc[at : at + draw(st.integers(1, 8))]
        elif op == "insert":
            doc[at:at] = draw(st.binary(min_size=1, max_size=6))
        else:
            doc[at : at + 1] = draw(
                st.sampled_from([b"\x00", b"\xff", b"<", b"&", b"]]>", b"\xc2"])
            )
    return bytes(doc)


_ANY_DIGITS = st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=8)


@st.composite
def _element_text(draw: st.DrawFn) -> bytes:
    text = draw(
        st.one_of(
            _XML_TEXT,
            st.text(max_size=40),
            st.from_regex(r"\A[0-9]{0,60}\Z"),
            _ANY_DIGITS,  # digits of every script, superscripts: what isdigit() takes
            st.integers(40, 6000).map(lambda n: "9" * n),  # past int()'s 4300-digit limit
        )
    )
    shape = draw(st.sampled_from(["serial", "alt", "name", "both"]))
    if shape == "serial":
        return _retrieve_xml(text)
    if shape == "alt":
        return _search_xml(alt=text)
    if shape == "name":
        return _search_xml(name=text)
    return _search_xml(alt=text, name=draw(_XML_TEXT))


SMKI_BODIES = st.one_of(st.binary(max_size=400), _element_text(), _mutated_request())


@FUZZ
@given(path=st.sampled_from([SEARCH, RETRIEVE]), body=SMKI_BODIES)
def test_fuzz_smki_never_answers_500_or_python_text(
    smki_server: Smki, path: bytes, body: bytes
) -> None:
    status, reply = _post(smki_server, path, body)
    assert status in (200, 401, 402, 413), (status, reply[:300])
    if status == 200:
        assert _root(reply).tag in ("CertificateSearchResponse", "CertificateDataResponse")


# --- a node's health endpoint ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    config = NodeConfig(
        name="ihd",
        role="ihd",
        eui=Eui64.parse("00-DB-12-34-56-78-90-B0"),
        state_dir=tmp_path_factory.mktemp("ihd"),
        health_bind="127.0.0.1",
        health_port=0,
        han=HanConfig(
            11,
            0x1234,
            Eui64.parse("00-DB-12-34-56-78-90-A2"),
            install_code=bytes(18),
            esme=DEVICE,
        ),
    )
    service = NodeService(config)

    async def exchange(_device: Eui64, message: bytes, _timeout: float) -> bytes:
        return message  # as a CHF would answer, so /han/exchange is fuzzed beyond its 404

    service.role.exchange = exchange  # type: ignore[attr-defined]
    served = _Served(service.app)
    yield served.port
    served.close()
    service.wiring.close()


def test_node_health_answers_its_report(node_server: int) -> None:
    status, body = _http(node_server, b"GET", b"/health")
    assert status == 200 and b'"kind": "node"' in body


@pytest.mark.parametrize(
    ("query", "status"),
    [
        (b"device=00-DB-12-34-56-78-90-A0&timeout=1", 200),
        (b"device=00-DB-12-34-56-78-90-A0&timeout=nan", 400),
        (b"device=00-DB-12-34-56-78-90-A0&timeout=1e400", 400),
        (b"device=00-DB-12-34-56-78-90-A0&timeout=-1", 400),
        (b"device=00-DB-12-34-56-78-90-A0&timeout=%C2%B2", 400),
        (b"device=%C2%B2", 400),
    ],
)
def test_node_exchange_checks_its_query(node_server: int, query: bytes, status: int) -> None:
    got, body = _http(node_server, b"POST", b"/han/exchange?" + query, b"\xdd\x00")
    assert got == status, body
    _assert_no_python(got, body)


_TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FRAMING = {b"content-length", b"transfer-encoding", b"connection", b"host"}
_METHODS = st.one_of(
    st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS", b"PATCH", b"BREW"]),
    st.text(alphabet=_TOKEN, min_size=1, max_size=12).map(str.encode),
    st.binary(min_size=1, max_size=8).filter(lambda m: not set(m) & set(b" \r\n")),
)
_PATHS = st.one_of(
    st.sampled_from([b"/health", b"/health/", b"//health", b"/", b"*", b"/han/exchange"]),
    st.text(max_size=40).map(lambda t: b"/" + quote(t, safe="/?=&%").encode()),
    st.text(max_size=40).map(
        lambda t: b"/han/exchange?device=" + quote(t).encode() + b"&timeout=0.01"
    ),
    st.binary(min_size=1, max_size=20).filter(lambda p: not set(p) & set(b" \r\n")),
)
_HEADERS = st.lists(
    st.tuples(
        st.text(alphabet=_TOKEN, min_size=1, max_size=20)
        .map(str.encode)
        .filter(lambda n: n.lower() not in _FRAMING),
        st.binary(max_size=60).filter(lambda v: not set(v) & set(b"\r\n")),
    ),
    max_size=5,
)


@FUZZ
@given(method=_METHODS, path=_PATHS, headers=_HEADERS, body=st.binary(max_size=200))
def test_fuzz_node_health_never_answers_500_or_python_text(
    node_server: int,
    method: bytes,
    path: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> None:
    status, reply = _http(node_server, method, path, body, headers)
    _assert_no_python(status, reply)


# --- serials and counters in DUIS ----------------------------------------------------------------


@pytest.fixture(scope="module")
def signed_request() -> tuple[bytes, KeyStore]:
    store = load([vectors("smki", "xml-sign")])
    template = vectors("duis", "templates", "ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML")
    signer = store.private(SUPPLIER, Usage.XML)
    assert signer is not None
    return sign_document(template.read_bytes(), signer), store


@pytest.mark.parametrize(
    ("serial", "why"),
    [
        ("²", "character other than 0-9"),
        ("5" * 5000, "5000 digits"),
        ("-1", "character other than 0-9"),
        ("1" * 50, "50 digits"),
        ("", "empty"),
    ],
)
def test_xmldsig_refuses_a_serial_that_is_not_one(
    signed_request: tuple[bytes, KeyStore], serial: str, why: str
) -> None:
    data, store = signed_request
    assert verify_document(data, store).signer.eui == SUPPLIER
    changed = re.sub(
        rb"(<ds:X509SerialNumber>)[^<]*(</ds:X509SerialNumber>)",
        lambda m: m.group(1) + serial.encode() + m.group(2),
        data,
    )
    assert changed != data
    with pytest.raises(xmldsig.SignatureError) as caught:
        verify_document(changed, store)
    reason = str(caught.value)
    assert "X509SerialNumber must be a decimal serial of at most 49 digits" in reason
    assert why in reason and "Exceeds the limit" not in reason


def test_the_serial_parser_is_ascii_and_bounded() -> None:
    assert parse_serial(" 42\r\n") == 42
    assert parse_serial("0042") == 42
    assert parse_serial("9" * 48) == int("9" * 48)
    assert parse_serial(str(2**160 - 1)) == 2**160 - 1
    for bad in ("²", "١٢", "4 2", "+42", "-42", "0x2A", "1" * 50, str(2**160), "", "\u200342"):
        with pytest.raises(SerialError, match="decimal serial of at most 49 digits"):
            parse_serial(bad, "X509SerialNumber")


@pytest.mark.parametrize(
    ("rid", "why"),
    [
        ("90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:²", "counter must be a decimal"),
        ("90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:" + "5" * 5000, "counter must be"),
        ("90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:18446744073709551616", "counter"),
        ("90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:-1", "counter must be"),
        ("90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0", "originator:target:counter"),
    ],
)
def test_request_id_counters_are_ascii_and_64_bit(rid: str, why: str) -> None:
    with pytest.raises(DuisError, match=why) as caught:
        RequestId.parse(rid)
    assert "Exceeds the limit" not in str(caught.value) and len(str(caught.value)) < 400


def test_request_id_counter_range() -> None:
    top = "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:18446744073709551615"
    assert RequestId.parse(top).counter == 2**64 - 1
    assert RequestId.parse(top.rsplit(":", 1)[0] + ":0007").counter == 7


@pytest.mark.parametrize("variant", ["²", "5" * 5000, "-1", "1.0"])
def test_command_variant_must_be_ascii_digits(variant: str) -> None:
    template = vectors("duis", "templates", "ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML")
    data = re.sub(
        rb"(<sr:CommandVariant>)[^<]*(</sr:CommandVariant>)",
        lambda m: m.group(1) + variant.encode() + m.group(2),
        template.read_bytes(),
    )
    with pytest.raises(DuisError, match=r"CommandVariant .* is not a number") as caught:
        parse_document(data)
    assert "Exceeds the limit" not in str(caught.value)
