"""The ESME's reads of family 4 (DLMS/COSEM), as RTDS 4.5.0 has them. Declared as
:mod:`rig.protocol.gbcs.catalogue` declares the others, which gathers them into USE_CASES
(this module must not import the catalogue).

====== ===== ================================================= ===============================
SRV    code  use case                                          the command
====== ===== ================================================= ===============================
4.1.2  0029  ECS17d read energy registers (TOU)                protected read (0-0:43.2.9) of
                                                               the TOU registers 0-0:94.44.34.1
4.8.1  0037  ECS22b read active import profile data          protected read (0-0:43.2.7) of
                                                               0-0:99.1.0 between two dates
4.17   0060  ECS66 read daily consumption log                  protected read (0-0:43.2.4) of
                                                               0-0:99.1.3 between two dates
====== ===== ================================================= ===============================

ECS17d's answer is encrypted for the requester and dated: the TOU registers' value, one
structure holding the 48 rate registers (a twin-element meter adds its secondary
element's 4; the rig's ESME is single-element). ECS66's and ECS22b's are encrypted, not
dated: a compact array of (UTC seconds since 2000 of a midnight or a half-hour boundary,
the energy imported over the day or half hour that ended there) for each one in the range.
A protected read names the counter and the two parties, so its argument is given by the
DCC's transform
(:func:`tou_registers_argument`, :func:`log_argument`).
"""

from __future__ import annotations

from rig.protocol.gbcs import access, cosem
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.usecase import Form, UseCase

ESME = "ESME"
PROTECTED_READ = "protected_read"  # the given argument of a protected read

# the TOU registers (class 1 data): 48 import registers, one per tariff rate
TOU_REGISTERS = cosem.Attribute(1, cosem.obis("0-0:94.44.34.1"), 2)
TOU_PROTECTION = cosem.Method(30, cosem.obis("0-0:43.2.9"), 1)  # ECS17d's data protection
TOU_RATES = 48
# the daily consumption log (class 7 profile): (UTC seconds of a midnight, Wh of that day)
DAILY_CONSUMPTION_LOG = cosem.Attribute(7, cosem.obis("0-0:99.1.3"), 2)
DAILY_CONSUMPTION_PROTECTION = cosem.Method(30, cosem.obis("0-0:43.2.4"), 1)
# the active import profile (class 7 profile): (UTC seconds of a half hour's end, its Wh)
ACTIVE_IMPORT_PROFILE = cosem.Attribute(7, cosem.obis("0-0:99.1.0"), 2)
ACTIVE_IMPORT_PROTECTION = cosem.Method(30, cosem.obis("0-0:43.2.7"), 1)


def _protected(method: cosem.Method) -> access.Access:
    return access.Access((access.Invoke(method, name=PROTECTED_READ, kind=DataType.STRUCTURE),))


ECS17D = UseCase(
    "ECS17d",
    0x0029,
    ESME,
    Form.DLMS,
    _protected(TOU_PROTECTION),
    srvs=("4.1.2",),
    encrypted=True,
    dated=True,
)
ECS66 = UseCase(
    "ECS66",
    0x0060,
    ESME,
    Form.DLMS,
    _protected(DAILY_CONSUMPTION_PROTECTION),
    srvs=("4.17",),
    encrypted=True,
)

ECS22B = UseCase(
    "ECS22b",
    0x0037,
    ESME,
    Form.DLMS,
    _protected(ACTIVE_IMPORT_PROTECTION),
    srvs=("4.8.1",),
    encrypted=True,
)

USE_CASES: tuple[UseCase, ...] = (ECS17D, ECS22B, ECS66)
# the log each protected log read reads
LOGS = {ECS66.name: DAILY_CONSUMPTION_LOG, ECS22B.name: ACTIVE_IMPORT_PROFILE}


def tou_registers_argument(counter: int, originator: bytes, recipient: bytes) -> Data:
    """ECS17d's protected read of the TOU registers, for this counter and parties."""
    return cosem.protected_read_argument((TOU_REGISTERS,), counter, originator, recipient)


def log_argument(
    uc: UseCase, start: bytes, end: bytes, counter: int, originator: bytes, recipient: bytes
) -> Data:
    """A protected read of ``uc``'s log (ECS66's daily consumption log, ECS22b's active
    import profile) from ``start`` to ``end`` (DLMS date-times), for this counter and
    parties."""
    return cosem.protected_range_argument(LOGS[uc.name], start, end, counter, originator, recipient)
