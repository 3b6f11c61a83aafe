"""12.1 Request WAN Matrix: the DCC's answer on the rig's WAN coverage at an address.

DCC answers from its communications service providers' coverage: the CSP region of the
address and whether the SM WAN reaches it. The rig's SM WAN is its MQTT broker, which
reaches every hub on the bench, so every address is covered with high likelihood; its
technology is named as what it is. The region comes from the postcode's area as DCC's
three regions are drawn (North: Scotland and the north of England; Central: the Midlands,
Wales and East Anglia; South: the rest). A request by UPRN names no postcode: each region
is answered (the rig cannot place a UPRN). A postcode whose area is not one of GB's is
refused E100, changing nothing.
"""

from __future__ import annotations

import re

from lxml import etree

from gateway.dcc_services import DccState, ServiceRefused, dcc_service
from rig.protocol.duis import codes
from rig.protocol.duis.message import Request
from rig.protocol.duis.xml import SR, text

_E = f"{{{SR}}}"
WAN_TECHNOLOGY = "Virtual (MQTT)"  # the rig's SM WAN: its broker
REGIONS = ("North", "Central", "South")


def _areas(names: str) -> frozenset[str]:
    return frozenset(names.split())


NORTH = _areas(
    "AB DD DG EH FK G HS IV KA KW KY ML PA PH TD ZE "  # Scotland
    "BB BD BL CA CH CW DH DL DN FY HD HG HU HX L LA LS M NE OL PR S SK SR TS WA WF WN YO"
)
CENTRAL = _areas("B CB CF CO CV DE DY HR IP LD LE LL LN MK NG NN NP NR PE SA ST SY TF WR WS WV")
SOUTH = _areas(
    "AL BA BH BN BR BS CM CR CT DA DT E EC EN EX GL GU HA HP IG KT LU ME N NW OX PL PO RG RH "
    "RM SE SG SL SM SN SO SP SS SW TA TN TQ TR TW UB W WC WD"
)
_AREA = re.compile(r"^([A-Z]{1,2})[0-9]")


def region_of(postcode: str) -> str:
    """The CSP region of a GB postcode (``M220RR``: North); ValueError for one that is not."""
    found = _AREA.match(postcode.replace(" ", "").upper())
    area = found.group(1) if found else ""
    for region, areas in zip(REGIONS, (NORTH, CENTRAL, SOUTH), strict=True):
        if area in areas:
            return region
    raise ValueError(f"postcode {postcode!r} is not in a GB postcode area")


def _answer(region: str) -> etree._Element:
    out = etree.Element(f"{_E}DSPWANMatrixResponse")
    for name, value in (
        ("CSPRegion", region),
        ("CSPRegionResponseCode", codes.SUCCESS),
        ("CoverageAvailability", "true"),
        ("WANTechnology", WAN_TECHNOLOGY),
        ("ConnectivityLikelihood", "High"),
    ):
        etree.SubElement(out, f"{_E}{name}").text = value
    return out


@dcc_service("12.1")
def request_wan_matrix(request: Request, dcc: DccState) -> etree._Element:
    """12.1: the request echoed, and the region(s) with the rig's coverage."""
    postcode = text(request.body, "sr:PartialAddress/sr:PostCode")
    if postcode is None:
        regions = list(REGIONS)
    else:
        try:
            regions = [region_of(postcode)]
        except ValueError as exc:
            raise ServiceRefused(codes.NOT_DUIS, str(exc)) from None
    out = etree.Element(f"{_E}DSPWANMatrix", nsmap={"sr": SR})
    echoed = etree.SubElement(out, f"{_E}Request")
    echoed.extend(etree.fromstring(etree.tostring(request.body)))
    out.extend(_answer(r) for r in regions)
    return out
