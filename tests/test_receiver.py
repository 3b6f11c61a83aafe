"""The DCC Users' Receive Response Service in process: it takes what the DCC signs (with any
of DCC Boxed's three XML-signing certificates), refuses what anyone else signs, keeps a
document delivered twice once (also across a restart), never answers 5xx or a traceback,
and the plan makes it trust DCC Boxed's certificates when the rig runs on ZAZ1 identities."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import pytest
from conftest import RIGS, VECTORS, vectors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutations import mutated

from rig.dccuser.client import DccUser
from rig.dccuser.config import DccIdentity, DccUsersConfig, GatewayUrls
from rig.dccuser.receiver import Inbox, Receiver, start
from rig.description import DescriptionError, load_rig, parse_rig
from rig.description.model import Isolation
from rig.pki.authority import Pki
from rig.pki.keystores import load
from rig.plan.dcc_config import dcc_users
from rig.plan.make import make_plan
from rig.plan.model import wan_hosts
from rig.protocol.duis.signed import sign_document
from rig.protocol.eui import Eui64
from rig.protocol.keystore import Credential, KeyStore
from rig.protocol.smki import Usage
from rig.reference import duis_schema
from rig.runtime.http import HttpServer
from rig.state import StateDir

T = TypeVar("T")

DCC = Eui64.parse("90-B3-D5-1F-30-00-00-02")
SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")  # the samples' RequestID originator
SAMPLES = (
    "read-inventory-response-4g.xml",
    "read-inventory-response-5.4.xml",
    "readfw-response.xml",
)
DCC_SERIALS = {
    "dsp-xml-sign-90B3D51F30000002-ds": 167048897159233642262001557408276884033,
    "dsp-xml-sign-90B3D51F30000002-ds-pre-1.4.1": 50669612984035780968362471400449834504,
    "Z1-accessControlBroker-dSPXmlSign": 20315062944123339095836004026371736578,
}
TRACEBACK = ("Traceback", 'File "')


# --- the Receiver in a thread of its own, reached over real HTTP -----------------------------
class Running:
    """A Receiver serving on a free port from an event loop in a background thread."""

    def __init__(self, config: DccUsersConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.receiver = self.call(self._receiver(config))
        self.server: HttpServer = self.call(start(self.receiver, "127.0.0.1", 0))

    @staticmethod
    async def _receiver(config: DccUsersConfig) -> Receiver:
        return Receiver(config)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            headers = {"Content-Type": "application/xml"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace")
        finally:
            conn.close()

    def post(self, user: Eui64 | str, body: bytes) -> tuple[int, str]:
        who = user.hex if isinstance(user, Eui64) else quote(user, safe="")
        return self.request("POST", f"/rrs/{who}", body)

    def inbox(self, user: Eui64, **query: str) -> list[dict]:
        status, text = self.request("GET", f"/inbox/{user.hex}?{urlencode(query)}")
        assert status == 200, text
        return json.loads(text)

    def close(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def xml_sign() -> Path:
    return vectors("smki", "xml-sign")


@pytest.fixture(scope="module")
def signers(xml_sign: Path) -> KeyStore:
    """DCC Boxed's signing-tool credentials, with their private keys."""
    return load([xml_sign])


@pytest.fixture(scope="module")
def samples() -> dict[str, bytes]:
    return {name: vectors("duis", "samples", name).read_bytes() for name in SAMPLES}


def users_config(state: Path, dcc_certs: tuple[Path, ...]) -> DccUsersConfig:
    own = VECTORS / "smki" / "xml-sign" / "dsp-xml-sign-90B3D51F30000002-ds.pem"
    return DccUsersConfig(
        bind="127.0.0.1",
        port=0,
        state_dir=state,
        dcc_certs=dcc_certs,
        users=(SUPPLIER,),
        clients=(),
        dcc=DccIdentity(DCC, own),
        gateway=GatewayUrls("http://127.0.0.1:9/api/v1", "http://127.0.0.1:9/services"),
        receiver="http://127.0.0.1:0",
    )


def zaz1_config(state: Path) -> DccUsersConfig:
    """What the plan gives a ZAZ1 rig: the rig's own DCC certificate (a file), the ZAZ1
    keystore and DCC Boxed's signing-tool credentials (a folder)."""
    own = vectors("smki", "xml-sign", "dsp-xml-sign-90B3D51F30000002-ds.pem")
    return users_config(
        state, (own, vectors("smki", "zaz1-keystore.json"), vectors("smki", "xml-sign"))
    )


@pytest.fixture
def rrs(tmp_path: Path, xml_sign: Path) -> Iterator[Running]:
    running = Running(zaz1_config(tmp_path / "inbox"))
    yield running
    running.close()


def dcc_keys(signers: KeyStore) -> list[Credential]:
    keys = [c for c in signers.credentials(DCC, Usage.XML) if c.private_key is not None]
    assert {c.name: c.serial for c in keys} == DCC_SERIALS
    return keys


# --- DCC Boxed's own responses ---------------------------------------------------------------
@pytest.mark.parametrize("name", SAMPLES)
def test_real_dcc_boxed_responses_are_kept_once(
    rrs: Running, samples: dict[str, bytes], name: str
) -> None:
    body = samples[name]
    status, text = rrs.post(SUPPLIER, body)
    assert status == 200, text
    entries = rrs.inbox(SUPPLIER)
    assert len(entries) == 1
    entry = entries[0]
    assert entry["sha256"] == hashlib.sha256(body).hexdigest() and entry["signer"] == DCC.duis
    assert entry["code"] == "I0" and entry["request_id"].startswith(SUPPLIER.duis)
    assert Path(entry["file"]).read_bytes() == body
    assert rrs.inbox(SUPPLIER, request_id=entry["request_id"]) == entries


def test_the_ecs52_sample_was_refused_when_only_the_rigs_own_certificate_was_trusted(
    tmp_path: Path, samples: dict[str, bytes]
) -> None:
    """The outside tester's finding: readfw-response.xml is signed with the pre-1.4.1
    certificate, which the rig's own ZAZ1 DCC certificate is not."""
    own = vectors("smki", "xml-sign", "dsp-xml-sign-90B3D51F30000002-ds.pem")
    running = Running(users_config(tmp_path / "inbox", (own,)))
    try:
        status, text = running.post(SUPPLIER, samples["readfw-response.xml"])
        assert status == 400 and "is not in the key store" in text, text
        status, text = running.post(SUPPLIER, samples["read-inventory-response-4g.xml"])
        assert status == 200, text
    finally:
        running.close()


# --- re-signed: by each DCC key, by a DCC User, changed after signing ---------------------------
@pytest.mark.parametrize("name", SAMPLES)
def test_re_signed_by_each_dcc_key_is_accepted_and_by_a_user_refused(
    rrs: Running, samples: dict[str, bytes], signers: KeyStore, name: str
) -> None:
    xsd = duis_schema()
    for key in dcc_keys(signers):
        signed = sign_document(samples[name], key, xsd=xsd)
        status, text = rrs.post(SUPPLIER, signed)
        assert status == 200, f"{key.name}: {text}"
    assert len(rrs.inbox(SUPPLIER)) == 3

    user = signers.private(SUPPLIER, Usage.XML)
    assert user is not None and user.name == "xml-sign-90B3D51F30010000-ds"
    status, text = rrs.post(SUPPLIER, sign_document(samples[name], user, xsd=xsd))
    assert status == 400, text
    assert "signed by 90-B3-D5-1F-30-01-00-00 (XML certificate" in text
    assert "xml-sign-90B3D51F30010000-ds" in text and "not with an XML-signing" in text

    # the DCC's organisation DS key is the DCC's, but not what it signs DUIS with
    ds = signers.private(DCC, Usage.DS)
    assert ds is not None
    status, text = rrs.post(SUPPLIER, sign_document(samples[name], ds, xsd=xsd))
    assert status == 400 and "(DS certificate" in text, text

    signed = sign_document(samples[name], dcc_keys(signers)[0], xsd=xsd)
    changed = signed.replace(b"<sr:ResponseCode>I0<", b"<sr:ResponseCode>I99<", 1)
    assert changed != signed
    status, text = rrs.post(SUPPLIER, changed)
    assert status == 400 and "digest mismatch" in text, text
    assert len(rrs.inbox(SUPPLIER)) == 3
    assert rrs.receiver.refused == 3


def test_a_user_signer_is_refused_even_when_its_certificate_sits_with_the_dccs(
    tmp_path: Path, samples: dict[str, bytes], signers: KeyStore
) -> None:
    """Before, whatever verified with a certificate of the trusted folder was taken."""
    running = Running(users_config(tmp_path / "inbox", (vectors("smki", "xml-sign"),)))
    try:
        other = signers.private(Eui64.parse("00-DB-12-34-56-78-00-04"), Usage.XML)
        assert other is not None
        status, text = running.post(SUPPLIER, sign_document(samples["readfw-response.xml"], other))
        assert status == 400 and "signed by 00-DB-12-34-56-78-00-04" in text, text
        assert running.inbox(SUPPLIER) == []
    finally:
        running.close()


# --- at least once in, once kept ---------------------------------------------------------------
def test_the_same_document_twice_is_kept_once_also_across_a_restart(
    tmp_path: Path, samples: dict[str, bytes], signers: KeyStore
) -> None:
    config = zaz1_config(tmp_path / "inbox")
    first = samples["readfw-response.xml"]
    second = sign_document(first, dcc_keys(signers)[0])
    running = Running(config)
    try:
        assert running.post(SUPPLIER, first)[0] == 200
        status, text = running.post(SUPPLIER, first)
        assert status == 200 and "already received" in text
        assert [e["n"] for e in running.inbox(SUPPLIER)] == [1]
        assert running.receiver.duplicates == 1
    finally:
        running.close()
    running = Running(config)  # the key is in the inbox, not in memory
    try:
        assert running.post(SUPPLIER, first)[0] == 200
        assert running.post(SUPPLIER, second)[0] == 200  # same content, another signature
        assert running.post(SUPPLIER, second)[0] == 200
        entries = running.inbox(SUPPLIER)
        assert [e["n"] for e in entries] == [1, 2]
        assert [Path(e["file"]).read_bytes() for e in entries] == [first, second]
        assert running.receiver.received == 1 and running.receiver.duplicates == 2
    finally:
        running.close()
    # the index keeps its format: one JSON object a line, n.xml beside it
    folder = tmp_path / "inbox" / SUPPLIER.hex
    assert sorted(p.name for p in folder.iterdir()) == ["1.xml", "2.xml", "index.jsonl"]
    lines = (folder / "index.jsonl").read_text().splitlines()
    assert [json.loads(line)["n"] for line in lines] == [1, 2]


def test_a_torn_index_line_neither_breaks_the_inbox_nor_the_next_line(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "user")
    first, new = inbox.add({"kind": "Response", "request_id": "a"}, b"<a/>")
    assert new and first["n"] == 1
    with inbox.index_path.open("a") as f:
        f.write('{"kind": "Resp')  # a crash while the next line was appended
    assert [e["n"] for e in inbox.entries()] == [1]
    second, new = inbox.add({"kind": "Response", "request_id": "b"}, b"<b/>")
    assert new and second["n"] == 2
    assert inbox.add({"kind": "Response"}, b"<a/>") == (first, False)
    assert [e["request_id"] for e in inbox.entries()] == ["a", "b"]


# --- nothing a client sends makes it fail ------------------------------------------------------
@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, xml_sign: Path) -> Iterator[Running]:
    running = Running(zaz1_config(tmp_path_factory.mktemp("rrs-fuzz") / "inbox"))
    running.receiver.max_wait_s = 0.2  # so that a huge ?wait= shows it is capped, quickly
    yield running
    running.close()


def _fine(status: int, text: str) -> None:
    assert status < 500, text
    assert not any(t in text for t in TRACEBACK), text


def mutated_sample() -> st.SearchStrategy[bytes]:
    return mutated(
        [vectors("duis", "samples", name).read_bytes() for name in SAMPLES],
        inserts=[b"<!DOCTYPE x [<!ENTITY e 'x'>]>", b"&e;", b"<x>", b"]]>"],
        set_bytes=b"<>&\"'\x00\x7f\x80\xff",
    )


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(body=st.one_of(st.binary(max_size=2048), mutated_sample()), user=st.booleans())
def test_fuzz_post_never_fails(fuzzed: Running, body: bytes, user: bool) -> None:
    status, text = fuzzed.post(SUPPLIER if user else "90-B3-D5-1F-30-01-00-00", body)
    _fine(status, text)
    if status == 200:  # only an unchanged sample can pass (e.g. a cut after the root)
        assert fuzzed.inbox(SUPPLIER)


@FUZZ
@given(user=st.text(max_size=40))
def test_fuzz_post_to_any_user_path_never_fails(fuzzed: Running, user: str) -> None:
    _fine(*fuzzed.post(user or "x", b"<x/>"))


QUERY_VALUES = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["abc", "1e309", "-1e309", "-1", "nan", "inf", "0x10", "", " 1 ", "1_0"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**400), 10**400).map(str),
    st.just("9" * 5000),
)


@FUZZ
@given(
    wait=st.one_of(st.none(), QUERY_VALUES),
    request_id=st.one_of(st.none(), QUERY_VALUES),
    kind=st.one_of(st.none(), QUERY_VALUES),
)
def test_fuzz_inbox_query_never_fails(
    fuzzed: Running, wait: str | None, request_id: str | None, kind: str | None
) -> None:
    query = {
        k: v
        for k, v in (("wait", wait), ("request_id", request_id), ("kind", kind))
        if v is not None
    }
    started = time.monotonic()
    path = f"/inbox/{SUPPLIER.hex}?{urlencode(query)}"
    status, text = fuzzed.request("GET", path)
    _fine(status, text)
    assert time.monotonic() - started < 5  # every wait is capped (0.2 s here)
    if status == 400:  # a bad wait, or a request line longer than aiohttp takes (8190)
        assert "wait=" in text or (len(path) > 8000 and "Got more than" in text), text
    else:
        assert isinstance(json.loads(text), list)


@pytest.mark.parametrize(
    ("wait", "status", "says"),
    [
        ("abc", 400, "expected a number of seconds"),
        ("-1", 400, "0 or more"),
        ("nan", 400, "expected a number"),
        ("1e309", 200, ""),
        ("9" * 5000, 200, ""),
    ],
)
def test_bad_waits_are_named_and_huge_ones_capped(
    fuzzed: Running, wait: str, status: int, says: str
) -> None:
    started = time.monotonic()
    got, text = fuzzed.request("GET", f"/inbox/{SUPPLIER.hex}?wait={wait}&request_id=none")
    assert (got, says in text) == (status, True), text
    assert time.monotonic() - started < 5


def test_the_guard_serves_it(fuzzed: Running) -> None:
    """Through rig.runtime.http: an unexpected error is one line, and /health answers."""
    status, text = fuzzed.request("GET", "/health")
    assert status == 200 and json.loads(text)["detail"]["trusted"], text
    status, text = fuzzed.request("GET", "/inbox/not-an-eui")
    assert status == 404 and "not a user EUI" in text


# --- the plan: which certificates the Receive Response Service trusts ---------------------------
def _plan_config(tmp_path: Path, extra: str) -> DccUsersConfig:
    rig_file = tmp_path / "dcc.yaml"
    rig_file.write_text((RIGS / "dcc.yaml").read_text() + extra)
    rig = load_rig(rig_file)
    state = StateDir.open(tmp_path / "state")
    plan = make_plan(rig, state, Isolation.PROCESS)
    Pki(state.pki).ensure(rig, wan_hosts(plan))
    return dcc_users(plan, rig, state)


def _trusted(config: DccUsersConfig) -> set[int]:
    store = load(list(config.dcc_certs))
    return {c.serial for c in store.credentials(config.dcc.eui, Usage.XML)}


def test_a_zaz1_rig_trusts_every_dcc_boxed_certificate(
    tmp_path: Path, samples: dict[str, bytes]
) -> None:
    keystore = vectors("smki", "zaz1-keystore.json")
    config = _plan_config(tmp_path, f"pki: {{source: zaz1, keystore: {keystore}}}\n")
    assert config.dcc_certs[1:] == (keystore, vectors("smki", "xml-sign"))
    assert _trusted(config) == set(DCC_SERIALS.values())
    running = Running(replace(config, port=0, state_dir=tmp_path / "inbox"))
    try:
        for name in SAMPLES:
            assert running.post(SUPPLIER, samples[name])[0] == 200, name
        assert len(running.inbox(SUPPLIER)) == 3
    finally:
        running.close()
    # and the DCC User reads what its service kept: it trusts the same three keys
    user = DccUser(config, "supplier-a")
    for name in SAMPLES:
        assert user.verify(samples[name]).response_code == "I0", name


def test_a_generated_pki_rig_trusts_only_its_own_dcc_certificate(tmp_path: Path) -> None:
    config = _plan_config(tmp_path, "")
    own = Pki(tmp_path / "state" / "pki").org(DCC, Usage.XML).cert
    assert config.dcc_certs == (own,)
    assert _trusted(config) == {load([own]).get(DCC, Usage.XML).serial}
    assert not _trusted(config) & set(DCC_SERIALS.values())


def test_the_xml_sign_field(tmp_path: Path) -> None:
    keystore = vectors("smki", "zaz1-keystore.json")
    base = (RIGS / "dcc.yaml").read_text()
    rig = parse_rig(base + f"pki: {{source: zaz1, keystore: {keystore}}}\n")
    assert rig.pki.xml_sign == keystore.parent / "xml-sign"  # beside the keystore
    lone = tmp_path / "keystore.json"
    lone.write_text("{}")
    assert parse_rig(base + f"pki: {{source: zaz1, keystore: {lone}}}\n").pki.xml_sign is None
    (tmp_path / "creds").mkdir()
    rig = parse_rig(
        base + f"pki: {{source: zaz1, keystore: {keystore}, xml_sign: creds}}\n",
        base_dir=tmp_path,
    )
    assert rig.pki.xml_sign == tmp_path / "creds"
    with pytest.raises(DescriptionError, match=r"pki.xml_sign: .*missing is not a folder"):
        parse_rig(base + f"pki: {{source: zaz1, keystore: {keystore}, xml_sign: missing}}\n")
    with pytest.raises(DescriptionError, match=r"pki.xml_sign: .*go with source zaz1"):
        parse_rig(base + "pki: {source: generate, xml_sign: creds}\n", base_dir=tmp_path)
    assert parse_rig(base).pki.xml_sign is None
