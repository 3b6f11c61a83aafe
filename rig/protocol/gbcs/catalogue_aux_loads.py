"""GBCS use cases of the ESME's auxiliary loads, boost button and auxiliary controller (6.14.x,
7.5-7.16): declared here, gathered by :mod:`rig.protocol.gbcs.catalogue` into CATALOGUE (this
module must not import the catalogue). Laid out as RTDS 4.5.0 has them:

====== ===== ============================================== =========== ================
SRV    code  use case                                       command     response
====== ===== ============================================== =========== ================
6.14.1 0053  ECS46a set the descriptions (1 SET each given)  signed      signed
6.14.2 0054  ECS46c ALCS calendar and switch ids             signed      signed, dated
6.14.3 011A  ECS46d auxiliary controller calendar            signed      signed, dated
7.5    0055  ECS47 activate ALCS [n]: its duration, script   signed      signed
7.6    0055  ECS47 deactivate ALCS [n]: its duration, script signed      signed
7.8    0055  ECS47 reset ALCS [n]: the script alone          signed      signed
7.7    00BB  ECS61a read ALCS data (17 GET)                  ACB MAC     MAC
7.9    005F  ECS62 add to the boost button (5 SET)           ACB MAC     MAC
7.10   005F  ECS62 remove from the boost button (5 SET)      ACB MAC     MAC
7.11   005E  ECS61c boost button details (log by range)      ACB MAC     MAC
7.12   004B  ECS38 randomised offset limit (1 SET)           signed      signed
7.13   011E  ECS47a controller [n] state: start, end, script signed      signed
7.14   011C  ECS61d controller configuration (7 GET)         ACB MAC     MAC
7.15   011D  ECS61e controller operational data (10 GET)     ACB MAC     MAC
7.16   011F  ECS47e limit APC [n]: start, end, script        signed      signed
====== ===== ============================================== =========== ================

Auxiliary controller n (1-5) is the class 1 object 0-0:94.44.(116+n); its attributes 2 of E
1 and 2 hold ECS47's durations (long-unsigned) and ECS47a's start and end (date-times), of
E 3 and 4 ECS47e's. The script ECS47 runs on the script table 0-0:10.0.103 is
``n << 8 | action`` (0x11 activate, 0x12 deactivate, 0x20 reset); ECS47a's and ECS47e's
(on 0-0:10.0.107) ``mode << 12 | n << 8 | level`` (mode 1 output, 2 input from the
controlled load). Where a request names some controllers only, the SETs of the others are
left out (optional parts).

DCC's mapping table lists neither ECS47 (7.5, 7.6, 7.8), ECS61a (7.7) nor ECS46c (6.14.2);
RTDS 4.5.0 has them for those SRVs, which DUIS's matrix still holds: they are served as
RTDS has them (``in_dcc_table=False``).
"""

from __future__ import annotations

from rig.protocol.gbcs import access, cosem
from rig.protocol.gbcs.cosem import Attribute, Method, obis
from rig.protocol.gbcs.dlms import DataType
from rig.protocol.gbcs.usecase import Form, Protection, UseCase

ESME = "ESME"
LOADS = range(1, 6)  # ALCS/HCALCS/APC [n]: five of them
_D = DataType


def _data(text: str) -> Attribute:
    """A class 1 data object's value."""
    return Attribute(1, obis(text), 2)


RANDOMISED_OFFSET_LIMIT = _data("0-0:94.44.0.1")  # seconds (ECS38)
DESCRIPTIONS = tuple(_data(f"0-0:94.44.0.{10 + n}") for n in LOADS)  # visible-strings
SWITCH_IDS = tuple(_data(f"0-0:94.44.0.{20 + n}") for n in LOADS)  # an HCALCS's EUI, or 0s
OPERATIONAL = tuple(_data(f"0-0:94.44.0.{30 + n}") for n in LOADS)  # utf8 JSON of the state
BOOST_ASSOCIATION = tuple(_data(f"0-0:94.44.6.{n}") for n in LOADS)  # booleans
BOOST_STATE = _data("0-0:94.44.7")  # boolean: the boost function is on
BOOST_LOG = Attribute(7, obis("0-0:99.98.20"), 2)  # (UTC start, UTC end) of each boost
SWITCH_STATES = tuple(Attribute(70, obis(f"0-{n}:96.3.10"), 2) for n in LOADS)  # output_state
SPECIAL_DAYS = Attribute(cosem.SPECIAL_DAYS, obis("0-0:11.0.3"), cosem.ENTRIES)
SPECIAL_DAYS_TO_COME = Attribute(cosem.SPECIAL_DAYS, obis("0-1:11.0.3"), cosem.ENTRIES)
CALENDAR = Attribute(cosem.SCHEDULE, obis("0-0:12.0.2"), cosem.ENTRIES)
CALENDAR_TO_COME = Attribute(cosem.SCHEDULE, obis("0-1:12.0.2"), cosem.ENTRIES)
# when the calendar and special days to come take effect (class 9000 activation date-times;
# RTDS's 8F66 alerts name them: ..._CALENDAR 0-0:94.44.128.26, ..._SPECIAL_DAYS .35)
CALENDAR_ACTIVATION = Attribute(cosem.FUTURE_DATED, obis("0-0:94.44.128.26"), cosem.ACTIVATION)
SPECIAL_DAYS_ACTIVATION = Attribute(cosem.FUTURE_DATED, obis("0-0:94.44.128.35"), cosem.ACTIVATION)
SCRIPTS = Method(9, obis("0-0:10.0.103"), 1)  # the auxiliary controllers' script table
APC_LIMIT_SCRIPTS = Method(9, obis("0-0:10.0.107"), 1)  # ECS47e's


def controller(n: int, element: int) -> Attribute:
    """Auxiliary controller ``n``'s value of E ``element`` (see the module's text)."""
    return _data(f"0-0:94.44.{116 + n}.{element}")


# ECS47's script actions, the low byte of its script id
ACTIVATE, DEACTIVATE, RESET = 0x11, 0x12, 0x20
OUTPUT, INPUT = 1, 2  # ECS47a/ECS47e's modes: the controller's output, or its input

SCRIPT = "script"


def _set_state(elements: tuple[tuple[int, str, DataType], ...], scripts: Method) -> access.Access:
    """One optional SET per controller and element (the request's controller's), then the
    script."""
    writes = tuple(
        access.Write(controller(n, e), f"{name}_{n}", kind, optional=True)
        for n in LOADS
        for e, name, kind in elements
    )
    return access.Access((*writes, access.Invoke(scripts, name=SCRIPT, kind=_D.LONG_UNSIGNED)))


def _critical(
    name: str,
    code: int,
    request: access.Access,
    *srvs: str,
    dated: bool = False,
    in_dcc_table: bool = True,
) -> UseCase:
    return UseCase(
        name, code, ESME, Form.DLMS, request, srvs=srvs, critical=True,
        response=Protection.SIGNATURE, dated=dated, in_dcc_table=in_dcc_table,
    )  # fmt: skip


def _reads(*targets: Attribute) -> access.Access:
    return access.Access(tuple(access.Read(t) for t in targets))


def _calendar(*first: access.Write) -> access.Access:
    w = access.Write
    return access.Access(
        (
            *first,
            w(SPECIAL_DAYS_TO_COME, "special_days", _D.ARRAY),
            w(CALENDAR_TO_COME, "calendar", _D.ARRAY),
            w(CALENDAR_ACTIVATION, "calendar_at", _D.OCTET_STRING),
            w(SPECIAL_DAYS_ACTIVATION, "special_days_at", _D.OCTET_STRING),
        )
    )


ECS46A = _critical(
    "ECS46a",
    0x0053,
    access.Access(
        tuple(
            access.Write(d, f"description_{n}", _D.VISIBLE_STRING, optional=True)
            for n, d in zip(LOADS, DESCRIPTIONS, strict=True)
        )
    ),
    "6.14.1",
)
ECS46C = _critical(
    "ECS46c",
    0x0054,
    _calendar(
        *(
            access.Write(s, f"switch_{n}", _D.OCTET_STRING, optional=True)
            for n, s in zip(LOADS, SWITCH_IDS, strict=True)
        )
    ),
    "6.14.2",
    dated=True,
    in_dcc_table=False,
)
ECS46D = _critical("ECS46d", 0x011A, _calendar(), "6.14.3", dated=True)
ECS47 = _critical(
    "ECS47",
    0x0055,
    _set_state(((1, "activate", _D.LONG_UNSIGNED), (2, "deactivate", _D.LONG_UNSIGNED)), SCRIPTS),
    "7.5",
    "7.6",
    "7.8",
    in_dcc_table=False,
)
_PERIOD = ((1, "start", _D.OCTET_STRING), (2, "end", _D.OCTET_STRING))
ECS47A = _critical("ECS47a", 0x011E, _set_state(_PERIOD, SCRIPTS), "7.13")
_LIMIT = ((3, "start", _D.OCTET_STRING), (4, "end", _D.OCTET_STRING))
ECS47E = _critical("ECS47e", 0x011F, _set_state(_LIMIT, APC_LIMIT_SCRIPTS), "7.16")
ECS38 = _critical(
    "ECS38",
    0x004B,
    access.Access((access.Write(RANDOMISED_OFFSET_LIMIT, "limit", _D.LONG_UNSIGNED),)),
    "7.12",
)
ECS61A = UseCase(
    "ECS61a",
    0x00BB,
    ESME,
    Form.DLMS,
    _reads(*DESCRIPTIONS, *SWITCH_IDS, SPECIAL_DAYS, CALENDAR, *SWITCH_STATES),
    srvs=("7.7",),
    in_dcc_table=False,
)
ECS62 = UseCase(
    "ECS62",
    0x005F,
    ESME,
    Form.DLMS,
    access.Access(
        tuple(
            access.Write(b, f"boost_{n}", _D.BOOLEAN, optional=True)
            for n, b in zip(LOADS, BOOST_ASSOCIATION, strict=True)
        )
    ),
    srvs=("7.9", "7.10"),
)
START, END = "start", "end"  # ECS61c's log period, UTC seconds since 2000
ECS61C = UseCase(
    "ECS61c",
    0x005E,
    ESME,
    Form.DLMS,
    access.Access(
        (
            access.Read(BOOST_STATE),
            access.ReadRange(BOOST_LOG, cosem.UTC_SECONDS, START, END),
            *(access.Read(b) for b in BOOST_ASSOCIATION),
        )
    ),
    srvs=("7.11",),
)
ECS61D = UseCase(
    "ECS61d", 0x011C, ESME, Form.DLMS, _reads(*DESCRIPTIONS, SPECIAL_DAYS, CALENDAR),
    srvs=("7.14",), acb_originated=True,  # the User rides as the supplementary remote party
)  # fmt: skip
ECS61E = UseCase(
    "ECS61e", 0x011D, ESME, Form.DLMS, _reads(*SWITCH_IDS, *OPERATIONAL), srvs=("7.15",)
)

USE_CASES: tuple[UseCase, ...] = (
    ECS46A,
    ECS46C,
    ECS46D,
    ECS47,
    ECS47A,
    ECS47E,
    ECS38,
    ECS61A,
    ECS62,
    ECS61C,
    ECS61D,
    ECS61E,
)
# an activation date-time none of whose fields is given: at once (RTDS's IMMEDIATE), and
# the all-0xFF one of a cancellation (RTDS's CANCELLATION: the calendar to come is dropped)
AT_ONCE = bytes.fromhex("0000000000000000008000ff")
NEVER = bytes.fromhex("ffffffffffffffffff8000ff")
