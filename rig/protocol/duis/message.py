"""DUIS requests and responses (schema 5.4) as records, built and parsed with lxml.

A request is a header (RequestID ``originator:target:counter``, CommandVariant,
ServiceReference, ServiceReferenceVariant) and one body element, kept as XML: the body
is the SRV's own schema-defined content. A response is a header (RequestID, ResponseID,
ResponseCode, ResponseDateTime) and a ResponseMessage, DeviceAlertMessage or
DCCAlertMessage; an acknowledgement is a response without a body payload.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass

from lxml import etree

from rig.protocol.duis.xml import NS, SR, XmlError, local, parse, text
from rig.protocol.eui import Eui64, EuiError

SCHEMA_VERSION = "5.4"
_E = f"{{{SR}}}"
COUNTER_MAX = 2**64 - 1  # RequestIDType: the counter is an unsigned 64-bit number
CV_MAX = 2**31 - 1  # a bound for parsing only: admission names the variants an SRV takes
_ASCII_DIGITS = re.compile("[0-9]+")  # not str.isdigit(), which takes "²" and "٣"


def _decimal(text: str, most: int) -> int | None:
    """``text`` as a number in 0..most written in ASCII digits (leading zeros allowed),
    or None; ``int()`` never sees more digits than ``most`` has."""
    if not _ASCII_DIGITS.fullmatch(text):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(most)):
        return None
    value = int(digits)
    return value if value <= most else None


def _shown(text: str, most: int = 64) -> str:
    """``text`` quoted for an error message, cut short when long."""
    return repr(text) if len(text) <= most else f"{text[:most]!r}... ({len(text)} characters)"


class DuisError(ValueError):
    """A DUIS document that parses as XML but is not a well-formed request or response."""


@dataclass(frozen=True, slots=True, order=True)
class RequestId:
    """``90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1000``."""

    originator: Eui64
    target: Eui64
    counter: int

    def __str__(self) -> str:
        return f"{self.originator.duis}:{self.target.duis}:{self.counter}"

    @classmethod
    def parse(cls, value: str) -> RequestId:
        parts = value.strip().split(":")
        if len(parts) != 3:
            raise DuisError(f"{_shown(value)} is not originator:target:counter")
        counter = _decimal(parts[2], COUNTER_MAX)
        if counter is None:
            raise DuisError(
                f"RequestID {_shown(value)}: the counter must be a decimal number "
                f"from 0 to {COUNTER_MAX} (ASCII digits)"
            )
        try:
            return cls(Eui64.parse(parts[0]), Eui64.parse(parts[1]), counter)
        except EuiError as exc:
            raise DuisError(f"RequestID {_shown(value)}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Request:
    request_id: RequestId
    command_variant: int
    service_reference: str
    srv: str
    body: etree._Element  # the one child of sr:Body
    schema_version: str = SCHEMA_VERSION

    @property
    def body_name(self) -> str:
        return local(self.body)

    def to_element(self) -> etree._Element:
        root = etree.Element(f"{_E}Request", nsmap={"sr": SR, "ds": NS["ds"]})
        root.set("schemaVersion", self.schema_version)
        header = etree.SubElement(root, f"{_E}Header")
        etree.SubElement(header, f"{_E}RequestID").text = str(self.request_id)
        etree.SubElement(header, f"{_E}CommandVariant").text = str(self.command_variant)
        etree.SubElement(header, f"{_E}ServiceReference").text = self.service_reference
        etree.SubElement(header, f"{_E}ServiceReferenceVariant").text = self.srv
        etree.SubElement(root, f"{_E}Body").append(_copy(self.body))
        return root


@dataclass(frozen=True, slots=True)
class Response:
    response_code: str
    date_time: str
    kind: str  # ResponseMessage | DeviceAlertMessage | DCCAlertMessage
    request_id: RequestId | None = None
    response_id: RequestId | None = None
    service_reference: str | None = None
    srv: str | None = None
    gbcs_payload: bytes | None = None
    alert_code: str | None = None  # DeviceAlertMessage AlertCode / DCCAlertCode
    content: etree._Element | None = None  # other ResponseMessage content (e.g. DSPInventory)
    schema_version: str = SCHEMA_VERSION

    def to_element(self) -> etree._Element:
        root = etree.Element(f"{_E}Response", nsmap={"sr": SR, "ds": NS["ds"]})
        root.set("schemaVersion", self.schema_version)
        header = etree.SubElement(root, f"{_E}Header")
        if self.request_id is not None:
            etree.SubElement(header, f"{_E}RequestID").text = str(self.request_id)
        if self.response_id is not None:
            etree.SubElement(header, f"{_E}ResponseID").text = str(self.response_id)
        etree.SubElement(header, f"{_E}ResponseCode").text = self.response_code
        etree.SubElement(header, f"{_E}ResponseDateTime").text = self.date_time
        body = etree.SubElement(etree.SubElement(root, f"{_E}Body"), f"{_E}{self.kind}")
        if self.kind == "ResponseMessage":
            etree.SubElement(body, f"{_E}ServiceReference").text = self.service_reference
            etree.SubElement(body, f"{_E}ServiceReferenceVariant").text = self.srv
        elif self.kind == "DeviceAlertMessage":
            etree.SubElement(body, f"{_E}AlertCode").text = self.alert_code
        elif self.kind == "DCCAlertMessage":
            etree.SubElement(body, f"{_E}DCCAlertCode").text = self.alert_code
        if self.content is not None:
            body.append(_copy(self.content))
        if self.gbcs_payload is not None:
            etree.SubElement(body, f"{_E}GBCSPayload").text = base64.b64encode(
                self.gbcs_payload
            ).decode()
        return root


def now() -> str:
    """ResponseDateTime as DCC writes it: UTC, milliseconds, ``Z``."""
    t = dt.datetime.now(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _copy(element: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(element))


def _need(root: etree._Element, path: str, what: str) -> str:
    value = text(root, path)
    if not value:
        raise DuisError(f"{what} is missing")
    return value


def parse_request(root: etree._Element) -> Request:
    if root.tag != f"{_E}Request":
        raise DuisError(f"expected sr:Request, found {root.tag}")
    cv = _need(root, "sr:Header/sr:CommandVariant", "Header/CommandVariant")
    command_variant = _decimal(cv, CV_MAX)
    if command_variant is None:
        raise DuisError(f"CommandVariant {_shown(cv)} is not a number (ASCII digits 0-9)")
    body = root.find("sr:Body", NS)
    children = [] if body is None else [c for c in body if isinstance(c.tag, str)]
    if len(children) != 1:
        raise DuisError("Body must hold exactly one service request element")
    return Request(
        RequestId.parse(_need(root, "sr:Header/sr:RequestID", "Header/RequestID")),
        command_variant,
        _need(root, "sr:Header/sr:ServiceReference", "Header/ServiceReference"),
        _need(root, "sr:Header/sr:ServiceReferenceVariant", "Header/ServiceReferenceVariant"),
        children[0],
        root.get("schemaVersion", ""),
    )


def parse_response(root: etree._Element) -> Response:
    if root.tag != f"{_E}Response":
        raise DuisError(f"expected sr:Response, found {root.tag}")
    rid, resp = text(root, "sr:Header/sr:RequestID"), text(root, "sr:Header/sr:ResponseID")
    body = root.find("sr:Body", NS)
    inner = None if body is None else next((c for c in body if isinstance(c.tag, str)), None)
    if inner is None:
        raise DuisError("Response Body is empty")
    kind = local(inner)
    payload = text(inner, "sr:GBCSPayload")
    content = next(
        (
            c
            for c in inner
            if isinstance(c.tag, str)
            and local(c)
            not in {
                "ServiceReference",
                "ServiceReferenceVariant",
                "GBCSPayload",
                "AlertCode",
                "DCCAlertCode",
            }
        ),
        None,
    )
    try:
        gbcs = base64.b64decode("".join(payload.split()), validate=True) if payload else None
    except ValueError:
        raise DuisError("GBCSPayload is not base64") from None
    return Response(
        _need(root, "sr:Header/sr:ResponseCode", "Header/ResponseCode"),
        _need(root, "sr:Header/sr:ResponseDateTime", "Header/ResponseDateTime"),
        kind,
        RequestId.parse(rid) if rid else None,
        RequestId.parse(resp) if resp else None,
        text(inner, "sr:ServiceReference"),
        text(inner, "sr:ServiceReferenceVariant"),
        gbcs,
        text(inner, "sr:AlertCode") or text(inner, "sr:DCCAlertCode"),
        content,
        root.get("schemaVersion", ""),
    )


def parse_document(data: bytes | str) -> Request | Response:
    """Parse (safely) and read a DUIS request or response."""
    root = parse(data).getroot()
    if root.tag == f"{_E}Request":
        return parse_request(root)
    if root.tag == f"{_E}Response":
        return parse_response(root)
    raise DuisError(f"not a DUIS document: root element is {root.tag}")


def to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


__all__ = [
    "DuisError",
    "Request",
    "RequestId",
    "Response",
    "XmlError",
    "now",
    "parse_document",
    "parse_request",
    "parse_response",
    "to_bytes",
]
