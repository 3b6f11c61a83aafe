"""A conformance run: each template adapted, sent through the running rig by the test DCC
User (one at a time), and recorded with what the DCC answered and how its GBCS command and
the device's answer compare with RTDS."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from rig.conformance.compare import (
    EQUAL,
    NO_COMMAND,
    compare_command,
    compare_response,
    reference_for,
    rtds_keys,
    unhex,
)
from rig.conformance.templates import (
    Adapted,
    Template,
    TemplateError,
    adapt,
    run_order,
    srv_family,
)
from rig.dccuser.client import DccUser, Outcome
from rig.dccuser.readers import ReadError
from rig.dccuser.tasks import trace_of
from rig.description.model import Rig
from rig.protocol.codec import DecodeError
from rig.protocol.duis.message import RequestId
from rig.protocol.duis.srv import SrvTable
from rig.protocol.duis.xml import NS, SR
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import codes
from rig.protocol.gbcs.frame import GbcsMessage
from rig.reference import srv_table
from rig.state import StateDir

log = logging.getLogger(__name__)

OUTCOMES = ("answered", "refused", "error")


@dataclass
class Result:
    """What one template did on the rig."""

    template: str
    srv: str = ""
    family: int = 0
    srv_name: str = ""
    template_cv: int | None = None
    cv: str = ""  # the command variant(s) sent: 1, 4+5, 8
    user: str = ""
    target: str = ""  # node name, dcc, or an EUI the rig does not have
    use_case: str = ""  # ECS17b
    use_case_name: str = ""
    request_id: str = ""
    acknowledgement: str = ""
    response_code: str = ""
    reason: str = ""
    rtds_command: str = NO_COMMAND
    rtds_case: str = ""  # which RTDS case it was compared with
    rtds_response: str = "none"
    seconds: float = 0.0
    outcome: str = "error"
    # what the runner did first to give the template what it needs (a 12.2 of a fresh
    # device, the DSPScheduleID 5.1 returned, the sender's own certificates), with codes
    prepared: list[str] = field(default_factory=list)


def prenotification(eui: Eui64, device_type: str) -> etree._Element:
    """A 12.2 DevicePrenotification body for a device of ``device_type`` (DCC's template's
    manufacturer, model and firmware)."""
    body = etree.Element(f"{{{SR}}}DevicePrenotification", nsmap={"sr": SR})
    version = "CHTS V1.46" if device_type == "CHF" else "SMETS V1.58"
    for name, value in (
        ("DeviceID", eui.duis),
        ("DeviceManufacturer", "AB01"),
        ("DeviceModel", "010A030B"),
        ("DeviceType", device_type),
        ("SMETSCHTSVersion", version),
        ("FirmwareVersion", "0002012F"),
    ):
        etree.SubElement(body, f"{{{SR}}}{name}").text = value
    return body


def outcome_of(out: Outcome) -> str:
    """``answered`` (I0, or I99 then I0), ``refused`` (a DUIS E code), else ``error``."""
    ack, code = out.acknowledgement, out.response_code
    if (ack == "I0" and code in (None, "I0")) or (ack == "I99" and code == "I0"):
        return "answered"
    if ack.startswith("E") or (code or "").startswith("E"):
        return "refused"
    return "error"


@dataclass
class Run:
    rig: str
    started: str
    templates: str
    results: list[Result] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        n: Counter[str] = Counter({k: 0 for k in OUTCOMES})
        n.update(r.outcome for r in self.results)
        n["templates"] = len(self.results)
        n["rtds_equal"] = sum(r.rtds_command.startswith(EQUAL) for r in self.results)
        n["rtds_differs"] = sum(r.rtds_command.startswith("differs") for r in self.results)
        n["rtds_no_command"] = sum(r.rtds_command == NO_COMMAND for r in self.results)
        n["response_decodes"] = sum(r.rtds_response.startswith("decodes") for r in self.results)
        n["response_differs"] = sum(r.rtds_response.startswith("differs") for r in self.results)
        n["response_none"] = sum(r.rtds_response == "none" for r in self.results)
        return dict(n)

    def sorted_results(self) -> list[Result]:
        """By SRV family, then SRV (numerically), then template name."""

        def key(r: Result) -> tuple[int, tuple[int, ...], str]:
            numbers = tuple(int(p) for p in r.srv.split(".") if p.isdigit())
            return (r.family, numbers, r.template)

        return sorted(self.results, key=key)

    def to_json(self) -> dict[str, Any]:
        return {
            "rig": self.rig,
            "started": self.started,
            "templates": self.templates,
            "counts": self.counts(),
            "results": [asdict(r) for r in self.sorted_results()],
        }


def _use_case(command: bytes | None, template: Template) -> tuple[str, str]:
    """(use case, its name): from the message code the DCC sent, else the template's name."""
    if command is not None:
        try:
            uc = codes.use_case(GbcsMessage.decode(command).message_code)
            return uc.use_case, uc.name
        except DecodeError:
            pass
    if template.use_case is None:
        return "", ""
    try:
        uc = codes.use_case(codes.code_for(template.use_case))
    except KeyError:
        return template.use_case, ""
    return uc.use_case, uc.name


class Runner:
    """Sends templates through the running rig of ``state`` as the rig's DCC Users."""

    def __init__(self, rig: Rig, state: StateDir, *, wait: float = 60.0) -> None:
        self.rig, self.state, self.wait = rig, state, wait
        self.table: SrvTable = srv_table()
        self._users: dict[str, DccUser] = {}
        self.schedule: int | None = None  # the DSPScheduleID 5.1 returned, for 5.2 and 5.3

    def user(self, name: str) -> DccUser:
        if name not in self._users:
            self._users[name] = DccUser.from_state(self.state.root, name)
        return self._users[name]

    async def run_one(self, path: Path) -> Result:
        result = Result(path.name)
        began = time.monotonic()
        try:
            template = Template.load(path)
            result.srv = template.request.srv
            result.family = srv_family(result.srv)
            result.template_cv = template.request.command_variant
            adapted = adapt(template, self.rig, self.table, self.state)
        except TemplateError as exc:
            result.reason = str(exc)
            result.seconds = round(time.monotonic() - began, 2)
            return result
        await self._send(adapted, result)
        result.seconds = round(time.monotonic() - began, 2)
        log.info(
            "conformance.template",
            extra={
                "template": result.template,
                "srv": result.srv,
                "device": result.target,
                "outcome": result.outcome,
                "code": result.response_code or result.acknowledgement,
            },
        )
        return result

    async def _send(self, adapted: Adapted, result: Result) -> None:
        result.srv_name, result.cv = adapted.srv.name, adapted.cv
        result.user, result.target = adapted.user, adapted.target_node
        read_error: str | None = None
        out: Outcome | None = None
        try:
            client = self.user(adapted.user)
            body = await self._prepare(client, adapted, result)
            counter = client.next_counter()
            target = client.dcc if adapted.srv.non_device else adapted.target
            result.request_id = str(RequestId(client.eui, target, counter))
            out = await client.send(
                adapted.srv.variant, target, wait=self.wait, counter=counter, body=body
            )
            if adapted.srv.variant == "5.1" and "DSPScheduleID" in out.values:
                self.schedule = int(out.values["DSPScheduleID"])
        except ReadError as exc:
            read_error = f"the device's answer cannot be read: {exc}"
            result.reason = read_error
        except Exception as exc:  # a run records every template, whatever it raised
            result.reason = f"{type(exc).__name__}: {exc}"
        if out is not None:
            result.acknowledgement = out.acknowledgement
            result.response_code = out.response_code or ""
            result.reason = out.reason
            result.outcome = outcome_of(out)
        trace = trace_of(self.state, result.request_id) if result.request_id else None
        sent = (trace or {}).get("command")
        command = bytes.fromhex(sent) if sent else None
        template = adapted.template
        result.use_case, result.use_case_name = _use_case(command, template)
        ref = reference_for(result.srv, template.use_case, template.case_words)
        if ref is not None:
            result.rtds_case = ref.case
        result.rtds_command = compare_command(
            command, None if ref is None else unhex(ref.command), adapted.euis
        )
        result.rtds_response = compare_response(
            None if out is None else out.values,
            read_error,
            None if ref is None or ref.response is None else unhex(ref.response),
            rtds_keys(),
        )

    async def _prepare(self, client: DccUser, adapted: Adapted, result: Result) -> etree._Element:
        """What the template needs first, done and recorded in ``result.prepared``; the body
        to send: the fresh devices pre-notified (12.2), the schedule 5.1 made in place of
        the template's DSPScheduleID, the sender's own certificates and issuing CA in place
        of those the template carries for a change of credentials (6.15.1, 6.21, 6.23: RTDS's
        would lock the rig's own user out of its meter)."""
        body = etree.fromstring(etree.tostring(adapted.body))
        for eui, kind in adapted.prenotify:
            pre = await client.send(
                "12.2", client.dcc, wait=self.wait, body=prenotification(eui, kind)
            )
            result.prepared.append(f"12.2 {kind} {eui.duis}: {pre.acknowledgement}")
        found = body.find("sr:DSPScheduleID", NS)
        if found is not None and self.schedule is not None:
            found.text = str(self.schedule)
            result.prepared.append(f"DSPScheduleID {self.schedule} (from 5.1)")
        own = client.cos_certificates()
        holders = (  # 6.23's, 6.15.1's, 6.21's
            "SupplierReplacementCertificates",
            "SupplierOrNetworkOperatorCertificates",
            "ReplacementCertificates",
        )
        for holder in (h for name in holders for h in body.iterfind(f".//sr:{name}", NS)):
            for element in holder:
                name = etree.QName(element).localname
                if name in own and element.text != own[name]:
                    element.text = own[name]
                    result.prepared.append(f"{name}: {client.name}'s own")
        offered = body.find(".//sr:KAPublicSecurityCredentials", NS)  # an unknown remote party's
        mine = own.get("KeyAgreementCertificate")
        if offered is not None and mine is not None and offered.text != mine:
            offered.text = mine
            result.prepared.append(f"KAPublicSecurityCredentials: {client.name}'s own")
        path = body.find(".//sr:CertificationPathCertificates/sr:Certificate", NS)
        if (
            path is not None
            and "CertificationPath" in own
            and path.text != own["CertificationPath"]
        ):
            path.text = own["CertificationPath"]
            result.prepared.append(f"CertificationPathCertificates: {client.name}'s issuing CA")
        return body

    async def run(
        self,
        paths: Iterable[Path],
        *,
        folder: Path,
        on_result: Callable[[Result], None] = lambda _r: None,
    ) -> Run:
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        run = Run(self.rig.name, started, str(folder))
        for path in run_order(list(paths)):
            result = await self.run_one(path)
            run.results.append(result)
            on_result(result)
        return run
