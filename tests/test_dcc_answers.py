"""12.1 Request WAN Matrix and 8.13 Return Local Command Response (issue 17), answered by the DCC
from DCC's own templates. 12.1: the request echoed and the address's CSP region (by postcode
area) covered by the rig's WAN; the answer is valid DUIS (the schema checks the whole response);
a UPRN gets every region; a postcode outside GB's areas is refused E100. 8.13: RTDS's CS06
answer from the ESME is taken; one that is not GBCS, does not match its OriginalRequestID, is
addressed to another party or comes from a device the DCC does not hold is refused."""

from __future__ import annotations

from dataclasses import replace

import pytest
from lxml import etree

from gateway.config import DeviceConfig
from gateway.dcc_services import DccState, ServiceRefused, service_for
from gateway.inventory import Inventory
from gateway.store import Store
from gateway.wan_matrix import WAN_TECHNOLOGY, region_of
from rig.protocol.duis import codes, schema
from rig.protocol.duis.message import Request, RequestId, Response, now, parse_document
from rig.protocol.duis.xml import NS, SR, parse
from rig.protocol.eui import Eui64
from rig.runtime.reference import read_schema
from tests.conftest import vectors

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
DCC = Eui64.parse("90-B3-D5-1F-30-00-00-02")


def _template() -> Request:
    path = vectors("duis", "templates", "12.1_REQUEST_WAN_MATRIX_ADDRESS_REQUEST_DUIS.XML")
    request = parse_document(path.read_bytes())
    assert isinstance(request, Request)
    return request


def _answered(request: Request) -> etree._Element:
    service = service_for("12.1")
    assert service is not None
    content = service(request, None)  # type: ignore[arg-type]  # it reads nothing the DCC holds
    assert content is not None
    response = Response(codes.SUCCESS, now(), "ResponseMessage", request.request_id,
                        service_reference="12.1", srv="12.1", content=content)  # fmt: skip
    xsd = read_schema(vectors("duis", "xsd") / schema.SCHEMA_FILE)
    schema.validate(parse(etree.tostring(response.to_element())), xsd)
    return content


@pytest.mark.parametrize(
    ("postcode", "region"),
    [("M22 0RR", "North"), ("EH1 1YZ", "North"), ("CF10 1AA", "Central"),
     ("NR1 3JU", "Central"), ("SW1A 1AA", "South"), ("TR18 4AA", "South")],
)  # fmt: skip
def test_the_region_is_the_postcode_areas(postcode: str, region: str) -> None:
    assert region_of(postcode) == region


def test_dccs_template_gets_its_region_covered_by_the_rigs_wan() -> None:
    request = _template()
    content = _answered(request)
    assert content.findtext("sr:Request/sr:PartialAddress/sr:PostCode", namespaces=NS) == (
        request.body.findtext("sr:PartialAddress/sr:PostCode", namespaces=NS)
    )
    (answer,) = content.findall("sr:DSPWANMatrixResponse", NS)
    assert answer.findtext("sr:CSPRegion", namespaces=NS) == "North"  # M22: Manchester
    assert answer.findtext("sr:CSPRegionResponseCode", namespaces=NS) == "I0"
    assert answer.findtext("sr:CoverageAvailability", namespaces=NS) == "true"
    assert answer.findtext("sr:WANTechnology", namespaces=NS) == WAN_TECHNOLOGY


def test_a_uprn_gets_every_region_and_a_foreign_postcode_is_refused() -> None:
    request = _template()
    by_uprn = etree.Element(f"{{{SR}}}RequestWANMatrix", nsmap={"sr": SR})
    etree.SubElement(by_uprn, f"{{{SR}}}UPRN").text = "10023117655"
    content = _answered(replace(request, body=by_uprn))
    regions = [e.text for e in content.findall("sr:DSPWANMatrixResponse/sr:CSPRegion", NS)]
    assert regions == ["North", "Central", "South"]
    foreign = etree.fromstring(etree.tostring(request.body))
    foreign.find("sr:PartialAddress/sr:PostCode", NS).text = "75001 PA"
    service = service_for("12.1")
    assert service is not None
    with pytest.raises(ServiceRefused) as refused:
        service(replace(request, body=foreign, request_id=RequestId(SUPPLIER, DCC, 2)), None)  # type: ignore[arg-type]
    assert refused.value.code == codes.NOT_DUIS


# --- 8.13 Return Local Command Response -------------------------------------------------------
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")


def _local(dcc_devices) -> tuple[Request, DccState]:
    path = vectors("duis", "templates", "8.13_RETURN_LOCAL_COMMAND_RESPONSE_CS06_REQUEST_DUIS.XML")
    request = parse_document(path.read_bytes())
    assert isinstance(request, Request)
    return request, DccState(dcc_devices)


def test_a_local_response_of_a_device_the_dcc_holds_is_taken_and_a_bad_one_refused(
    tmp_path,
) -> None:
    store = Store(tmp_path / "gateway.sqlite")
    devices = Inventory(store.db, (DeviceConfig(ESME, "ESME", None, supplier=SUPPLIER),))
    request, dcc = _local(devices)
    service = service_for("8.13")
    assert service is not None
    assert service(request, dcc) is None  # DCC's template: RTDS's CS06 answer from the ESME

    def refused(body: etree._Element, sender: Eui64 = SUPPLIER) -> str:
        asked = replace(request, body=body, request_id=RequestId(sender, DCC, 9))
        with pytest.raises(ServiceRefused) as out:
            service(asked, dcc)
        return out.value.code

    def edited(element: str, value: str) -> etree._Element:
        body = etree.fromstring(etree.tostring(request.body))
        body.find(f"sr:{element}", NS).text = value
        return body

    assert refused(edited("DeviceGBCSResponse", "bm90IGdiY3M=")) == codes.NOT_DUIS
    other = "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1001"  # not its counter
    assert refused(edited("OriginalRequestID", other)) == codes.NOT_DUIS
    assert (
        refused(request.body, Eui64.parse("90-B3-D5-1F-30-03-00-00"))
        == codes.NOT_AUTHORISED_FOR_DEVICE
    )
    elsewhere = Store(tmp_path / "other.sqlite")  # a DCC that does not hold the ESME
    _, stranger = _local(Inventory(elsewhere.db, ()))
    with pytest.raises(ServiceRefused) as unknown:
        service(request, stranger)
    assert unknown.value.code == codes.DEVICE_UNKNOWN
