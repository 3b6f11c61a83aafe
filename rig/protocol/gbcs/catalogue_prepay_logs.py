"""The ESME's prepayment reads and logs, as RTDS 4.5.0 has them. Declared as
:mod:`rig.protocol.gbcs.catalogue` declares the others, which gathers them into CATALOGUE
(this module must not import the catalogue).

====== ===== ================================================= ===============================
SRV    code  use case                                          the command
====== ===== ================================================= ===============================
4.3    002D  ECS19 read instantaneous prepay values            protected read (0-0:43.2.1) of
                                                               the prepayment registers
4.4.5  00C9  ECS20d billing data log (prepayment credits)      GET of 0-0:98.1.5 by a range of
                                                               UTC times
4.14   0034  ECS21b prepayment daily read log                  protected read (0-0:43.2.6) of
                                                               0-0:98.1.8 between two dates
====== ===== ================================================= ===============================

ECS19's answer is encrypted for the requester and dated; ECS20d's is MAC'd in clear: a
compact array of (UTC seconds since 2000, credit) for each top-up the meter applied in the
range; ECS21b's is encrypted, not dated: a compact array of (UTC seconds since 2000, the
six prepayment registers) for each midnight in the range. A protected read names the
counter and the two parties, so its argument is given by the DCC's transform
(:func:`prepay_registers_argument`, :func:`daily_log_argument`).
"""

from __future__ import annotations

from rig.protocol.gbcs import access, cosem
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.usecase import Form, UseCase

ESME = "ESME"
PROTECTED_READ = "protected_read"  # the given argument of a protected read
START, END = "start", "end"  # the given range of a log read, UTC seconds since 2000

ECS19 = UseCase(
    "ECS19",
    0x002D,
    ESME,
    Form.DLMS,
    access.Access(
        (access.Invoke(cosem.PREPAYMENT_PROTECTION, name=PROTECTED_READ, kind=DataType.STRUCTURE),)
    ),
    srvs=("4.3",),
    encrypted=True,
    dated=True,
)
ECS20D = UseCase(
    "ECS20d",
    0x00C9,
    ESME,
    Form.DLMS,
    access.Access((access.ReadRange(cosem.PREPAYMENT_CREDITS_LOG, cosem.UTC_SECONDS, START, END),)),
    srvs=("4.4.5",),
)

ECS21B = UseCase(
    "ECS21b",
    0x0034,
    ESME,
    Form.DLMS,
    access.Access(
        (access.Invoke(cosem.DAILY_LOG_PROTECTION, name=PROTECTED_READ, kind=DataType.STRUCTURE),)
    ),
    srvs=("4.14",),
    encrypted=True,
    unknown_remote_party=True,  # a supplier that is not the KRP, with its KA certificate
)

USE_CASES: tuple[UseCase, ...] = (ECS19, ECS20D, ECS21B)


def prepay_registers_argument(counter: int, originator: bytes, recipient: bytes) -> Data:
    """ECS19's protected read of the prepayment registers, for this counter and parties."""
    return cosem.protected_read_argument(
        (cosem.PREPAYMENT_REGISTERS,), counter, originator, recipient
    )


def daily_log_argument(
    start: bytes, end: bytes, counter: int, originator: bytes, recipient: bytes
) -> Data:
    """ECS21b's protected read of the daily read log from ``start`` to ``end`` (DLMS
    date-times), for this counter and parties."""
    return cosem.protected_range_argument(
        cosem.PREPAYMENT_DAILY_LOG, start, end, counter, originator, recipient
    )
