"""The DCC tells the truth, on the running end-to-end rig (tests/rigs/dcc.yaml).

No request is answered with a success it did not earn: the body must be the one its SRV
defines, in the encoding DUIS requires, in a command variant the rig serves. Whatever
cannot be read is still answered, with its code, and never with a 5xx or a traceback.
And no admitted request is lost or answered twice when the gateway is killed at any step
(``RIG_GATEWAY_CRASH_AT``) or at random while requests stream in.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sqlite3
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from conftest import wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutations import mutated

from gateway.crashpoints import STEPS
from rig.dccuser.client import DccUser, body_for
from rig.plan.model import Plan
from rig.protocol.duis.message import parse_response
from rig.protocol.duis.xml import parse
from rig.protocol.eui import Eui64
from rig.virtual.supervisor import control

ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
# random kills in the kill loop, besides one at each crash point: 12 in the suite (about a
# minute); a soak sets more (RIG_KILL_LOOP=100 pytest tests/test_dcc_truth.py -k kill_loop)
KILLS = int(os.environ.get("RIG_KILL_LOOP", "12"))
PYTHON_TEXT = ("Traceback", 'File "', "Exception:", "Error:")


@dataclass
class Reply:
    http: int
    code: str
    reason: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _user(env, name: str = "supplier-a") -> DccUser:
    return DccUser.from_state(env["dir"], name)


def _url(env, path: str) -> str:
    return f"{_user(env).gateway.duis}/{path}"


async def _apost(session: aiohttp.ClientSession, url: str, body: bytes) -> Reply:
    async with session.post(url, data=body, headers={"Content-Type": "application/xml"}) as r:
        raw = await r.read()
        return Reply(
            r.status,
            r.headers.get("X-DUIS-Response-Code", ""),
            r.headers.get("X-Rig-Reason", ""),
            raw,
            dict(r.headers),
        )


def _post(env, url: str, body: bytes) -> Reply:
    async def go() -> Reply:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            return await _apost(session, _url(env, url), body)

    return asyncio.run(go())


def _signed(env, srv: str = "4.1.1", body=None, cv: int = 1, user: str = "supplier-a") -> bytes:
    u = _user(env, user)
    body = body_for(srv, {}) if body is None else body
    return u.request(srv, ESME, cv, u.next_counter(), body, check_schema=False)


def _db(env) -> sqlite3.Connection:
    path = env["dir"] / "components" / "gateway" / "data" / "gateway.sqlite"
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def _row(env, request_id: str) -> tuple | None:
    with _db(env) as db:
        return db.execute(
            "SELECT outcome, response_code FROM requests WHERE request_id=?", (request_id,)
        ).fetchone()


def _audit(env, request_id: str) -> list[tuple]:
    with _db(env) as db:
        return db.execute(
            "SELECT code, reason FROM audit WHERE request_id=?", (request_id,)
        ).fetchall()


def _rid(body: bytes) -> str:
    root = parse(body).getroot()
    return root.findtext("{*}Header/{*}RequestID")


# --- the body, its encoding and its command variant -------------------------------------------
def test_a_body_that_is_not_the_srvs_is_refused(env_truth) -> None:
    env = env_truth
    wrong = _signed(env, "4.1.1", body=body_for("7.2", {}))  # header 4.1.1, body DisableSupply
    reply = _post(env, "serviceS", wrong)
    assert (reply.http, reply.code) == (400, "E100"), reply.reason
    assert "ReadInstantaneousImportRegisters" in reply.reason and "DisableSupply" in reply.reason
    ack = parse_response(parse(reply.body).getroot())  # a DUIS acknowledgement
    assert ack.response_code == "E100" and str(ack.request_id) == _rid(wrong)
    assert _row(env, _rid(wrong)) is None  # no effect, only the audit row
    assert [c for c, _ in _audit(env, _rid(wrong))] == ["E100"]


@pytest.mark.parametrize("how", ["declared and encoded", "encoded only", "declared only"])
def test_a_request_that_is_not_utf8_is_refused(env_truth, how: str) -> None:
    env = env_truth
    good = _signed(env)
    text = good.decode()
    if how != "encoded only":
        text = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').replace(
            "encoding='UTF-8'", "encoding='UTF-16'"
        )
        assert "UTF-16" in text
    body = text.encode("utf-16") if how != "declared only" else text.encode()
    reply = _post(env, "serviceS", body)
    assert (reply.http, reply.code) == (400, "E100"), reply.reason
    assert "UTF-8" in reply.reason
    assert _row(env, _rid(good)) is None


@pytest.mark.parametrize("cv", [2, 3])
def test_local_delivery_command_variants_are_refused_not_faked(env_truth, cv: int) -> None:
    env = env_truth
    body = _signed(env, cv=cv)
    reply = _post(env, "serviceD" if cv == 2 else "serviceS", body)
    assert (reply.http, reply.code) == (400, "E17"), reply.reason
    assert f"command variant {cv}" in reply.reason and "nothing was done" in reply.reason
    assert _row(env, _rid(body)) is None


# --- what cannot be read is still answered --------------------------------------------------
def test_unparseable_requests_get_a_duis_acknowledgement_or_the_documented_body(
    env_truth,
) -> None:
    env = env_truth
    good = _signed(env)
    # schema-invalid but naming its RequestID: a DUIS acknowledgement with the code
    broken = good.replace(b"<sr:CommandVariant>1<", b"<sr:CommandVariant>one<")
    reply = _post(env, "serviceS", broken)
    assert (reply.http, reply.code) == (400, "E100")
    ack = parse_response(parse(reply.body).getroot())
    assert ack.response_code == "E100" and str(ack.request_id) == _rid(good)
    assert reply.headers["Content-Type"].startswith("application/xml")
    # not XML at all: the documented plain body, code first, the code in the header too
    for junk in (b"", b"not xml", good[: len(good) // 2], b"\xff\xfe<\x00"):
        reply = _post(env, "serviceS", junk)
        assert (reply.http, reply.code) == (400, "E100"), junk
        first, reason = reply.body.decode().split("\n", 1)
        assert first.startswith("E100 ") and reason.strip() and reply.reason
        assert reply.headers["Content-Type"].startswith("text/plain")


FUZZ = settings(
    max_examples=int(os.environ.get("RIG_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@st.composite
def _hostile(draw: st.DrawFn, good: bytes) -> bytes:
    kind = draw(st.sampled_from(["bytes", "mutated", "text"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2000))
    if kind == "text":
        value = draw(st.text(max_size=200))
        tag = draw(st.sampled_from([b"RequestID", b"CommandVariant", b"ServiceReferenceVariant"]))
        start = good.index(b"<sr:" + tag + b">") + len(tag) + 5
        end = good.index(b"</sr:" + tag + b">")
        return good[:start] + value.encode("utf-8", "surrogatepass") + good[end:]
    return draw(mutated([good], most=6))


def test_duis_fuzz_never_5xx_never_a_traceback(env_truth) -> None:
    env = env_truth
    good = _signed(env)
    urls = ["serviceS", "serviceT", "serviceD", "nowhere"]
    seen: dict[str, int] = {}

    @FUZZ
    @given(body=_hostile(good), url=st.sampled_from(urls))
    def check(body: bytes, url: str) -> None:
        reply = _post(env, url, body)
        seen[reply.code or str(reply.http)] = seen.get(reply.code or str(reply.http), 0) + 1
        assert reply.http < 500, (reply.http, reply.body[:300])
        text = reply.body.decode("utf-8", "replace") + reply.reason
        assert not any(t in text for t in PYTHON_TEXT), text[:500]
        if url != "nowhere":
            assert reply.code, "every DUIS reply names its code in X-DUIS-Response-Code"

    check()
    assert seen.get("E100", 0) > 0  # the fuzz reached admission


def test_any_path_method_and_header_on_the_duis_port_is_answered_cleanly(env_truth) -> None:
    env = env_truth
    base = _url(env, "").split("/api/v1/")[0]
    methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]
    paths = st.one_of(
        st.sampled_from(["/health", "/api/v1/serviceS", "/api/v1/", "/", "/api/v1/x/y"]),
        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=60).map(
            lambda p: "/" + p.replace("?", "").replace("#", "")
        ),
    )

    async def one(method: str, path: str, header: str, body: bytes) -> tuple[int, bytes]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, base + path, data=body, headers={"X-Fuzz": header}) as r,
        ):
            return r.status, await r.read()

    @FUZZ
    @given(
        method=st.sampled_from(methods),
        path=paths,
        header=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
        body=st.binary(max_size=300),
    )
    def check(method: str, path: str, header: str, body: bytes) -> None:
        try:
            status, raw = asyncio.run(one(method, path, header, body))
        except aiohttp.InvalidURL:
            return  # the client would not send it
        assert status < 500, (method, path, status, raw[:200])
        assert not any(t in raw.decode("utf-8", "replace") for t in PYTHON_TEXT), raw[:300]

    check()


def test_a_body_trickling_in_is_cut_off_and_others_are_still_served(env_truth) -> None:
    env = env_truth
    host, port = _url(env, "").split("//")[1].split("/")[0].rsplit(":", 1)
    slow = socket.create_connection((host, int(port)))
    slow.sendall(
        b"POST /api/v1/serviceS HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\n"
        b"Content-Length: 5000\r\n\r\n<"
    )
    started = time.monotonic()
    reply = _post(env, "serviceS", _signed(env))  # served meanwhile
    assert reply.code == "I99", reply.reason
    slow.settimeout(1.0)
    answer = b""
    while time.monotonic() - started < 40 and not answer:
        try:
            slow.sendall(b" ")  # one byte a second
            answer = slow.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
    slow.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert time.monotonic() - started < 30


# --- the kill loop ----------------------------------------------------------------------------
@dataclass
class Sent:
    request_id: str
    outcome: str  # the code of the HTTP reply, or "no reply"


class Gateway:
    """The rig's gateway, run here instead of by the supervisor, so it can be killed."""

    def __init__(self, env) -> None:
        plan = Plan.load(env["state"])
        assert plan is not None
        self.argv = plan.component("gateway").argv
        self.env = {**os.environ, "RIG_INSTANCE": plan.instance}
        self.log = env["state"].log("gateway")
        self.health = _url(env, "").replace("/api/v1/", "/health")
        self.proc: subprocess.Popen | None = None

    def start(self, crash_at: str | None = None) -> None:
        env = dict(self.env)
        if crash_at:
            env["RIG_GATEWAY_CRASH_AT"] = crash_at
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )

    async def ready(self, session: aiohttp.ClientSession, drained: bool = False) -> None:
        """Up with its WAN session (and, if ``drained``, nothing left owed to the WAN)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, "the gateway died"
            try:
                async with session.get(self.health) as r:
                    report = await r.json() if r.status == 200 else {}
                    up = report.get("checks", {}).get("broker") == "ok"
                    if up and (not drained or report["detail"]["to_publish"] == 0):
                        return
            except (aiohttp.ClientError, ValueError):
                pass
            await asyncio.sleep(0.05)
        raise TimeoutError("the gateway did not come up")

    def kill(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait(10)


async def _send(session: aiohttp.ClientSession, url: str, body: bytes, out: list[Sent]) -> None:
    rid = _rid(body)
    try:
        reply = await _apost(session, url, body)
        out.append(Sent(rid, reply.code or f"HTTP {reply.http}"))
    except (aiohttp.ClientError, OSError, TimeoutError):
        out.append(Sent(rid, "no reply"))


async def _kill_loop(env, kills: int, rng: random.Random) -> tuple[list[Sent], dict]:
    user = _user(env)
    url = _url(env, "serviceS")
    gw = Gateway(env)
    sent: list[Sent] = []
    stats: dict = {"kills": 0, "step_kills": 0, "random_kills": 0}
    await control(env["state"], "stop", "gateway")
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for step in STEPS:  # a kill at every step
                gw.start()  # first carry what the last kill left owed to the WAN
                await gw.ready(session, drained=True)
                gw.kill()
                gw.start(crash_at=step)
                await gw.ready(session)
                body = user.request("4.1.1", ESME, 1, user.next_counter(), body_for("4.1.1", {}))
                await _send(session, url, body, sent)
                stats[step] = _rid(body)
                assert gw.proc is not None
                code = await asyncio.to_thread(gw.proc.wait, 30)  # it kills itself there
                assert code == -9, f"{step}: the gateway was not killed there (exit {code})"
                stats["step_kills"] += 1
            for _ in range(kills):  # and at random, while requests arrive 12 ms apart
                gw.start()
                await gw.ready(session)
                tasks = []
                stop_at = time.monotonic() + rng.uniform(0.0, 0.25)
                while time.monotonic() < stop_at:
                    body = user.request(
                        "4.1.1", ESME, 1, user.next_counter(), body_for("4.1.1", {})
                    )
                    tasks.append(asyncio.create_task(_send(session, url, body, sent)))
                    await asyncio.sleep(0.012)
                await asyncio.sleep(rng.uniform(0.0, 0.03))
                gw.kill()
                stats["random_kills"] += 1
                await asyncio.gather(*tasks)
    finally:
        if gw.proc is not None:
            gw.kill()
        await control(env["state"], "start", "gateway")
    stats["kills"] = stats["step_kills"] + stats["random_kills"]
    return sent, stats


def _answers(env, user: DccUser, request_ids: set[str], wait: float) -> dict[str, list[dict]]:
    """Every final response the user's Receive Response Service holds, by request ID."""

    async def fetch() -> list[dict]:
        async with aiohttp.ClientSession() as session:
            return await user.inbox(session)

    deadline = time.monotonic() + wait
    while True:
        found: dict[str, list[dict]] = {}
        for e in asyncio.run(fetch()):
            if e.get("request_id") in request_ids and e.get("kind") == "ResponseMessage":
                found.setdefault(e["request_id"], []).append(e)
        admitted = {r for r in request_ids if _row(env, r) is not None}
        if admitted <= set(found) or time.monotonic() > deadline:
            return found
        time.sleep(1)


@pytest.mark.timeout(900)  # 30 kills take ~100 s alone, up to three times that on a loaded CI
def test_kill_loop_loses_nothing_and_answers_nothing_twice(env_truth) -> None:
    env = env_truth
    rng = random.Random(int(os.environ.get("RIG_KILL_SEED", "14")))
    sent, stats = asyncio.run(_kill_loop(env, KILLS, rng))
    user = _user(env)
    ids = {s.request_id for s in sent}
    assert len(ids) == len(sent)
    wait_for(lambda: _healthy(env), 60)
    answers = _answers(env, user, ids, wait=150)
    lost, twice, ghost = [], [], []
    for s in sent:
        row = _row(env, s.request_id)
        got = answers.get(s.request_id, [])
        if len({Path(e["file"]).read_bytes() for e in got}) > 1:
            twice.append((s, [e["code"] for e in got]))
        if s.outcome == "I99" and not got:
            lost.append(s)  # acknowledged, never answered
        elif s.outcome == "no reply" and row is not None and not got:
            lost.append(s)  # admitted before the kill, never carried to its end
        elif s.outcome not in ("I99", "no reply") and (row is not None or got):
            ghost.append(s)  # refused, yet it had an effect
        if row is None and got:
            ghost.append(s)
    admitted = sum(1 for s in sent if _row(env, s.request_id) is not None)
    codes: dict[str, int] = {}
    for got in answers.values():
        codes[got[0]["code"]] = codes.get(got[0]["code"], 0) + 1
    print(
        f"\nkill loop: {stats['kills']} kills ({stats['step_kills']} at each step, "
        f"{stats['random_kills']} random), {len(sent)} requests, {admitted} admitted, "
        f"lost {len(lost)}, answered twice {len(twice)}, final codes {codes}"
    )
    assert stats["random_kills"] >= KILLS and stats["step_kills"] == len(STEPS)
    assert not lost, lost[:5]
    assert not twice, twice[:5]
    assert not ghost, ghost[:5]
    # killed with the device's response in hand: the broker delivers it again after the
    # restart (acknowledged only once committed), so the answer is the device's, not E21
    assert answers[stats["before-settle"]][0]["code"] == "I0"
    assert stats["before-commit"] not in answers and _row(env, stats["before-commit"]) is None
    assert admitted > 0 and any(s.outcome == "no reply" for s in sent)
    # the rig still serves
    assert _post(env, "serviceS", _signed(env)).code == "I99"


def _healthy(env) -> bool:
    try:
        with urllib.request.urlopen(_url(env, "").replace("/api/v1/", "/health"), timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture
def env_truth(dcc_rig):
    return dcc_rig
