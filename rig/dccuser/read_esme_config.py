"""The DCC User's readers of the ESME's identity, security and operational configuration (6.5,
6.8, 6.12, 6.18.x, 6.20.x, 6.25, 6.26, 6.27; 6.11's ECS70 is read as 8.1.1's) (registered
with :func:`rig.dccuser.readers.reads`): ``result`` (0: every part done, else the first
result that is not 0), ``results`` (each SET's and ACTION's) and ``failed``, the parts not
done by name (a reset by its register's OBIS code)."""

from __future__ import annotations

from typing import Any

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.gbcs import access
from rig.protocol.gbcs.catalogue_esme_config import USE_CASES
from rig.protocol.gbcs.cosem import obis_text
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import access_response
from rig.protocol.gbcs.usecase import UseCase


def _part_name(part: access.Part) -> str:
    name = getattr(part, "name", None)
    return name if isinstance(name, str) else f"reset {obis_text(part.target.instance)}"


@reads(*USE_CASES)
def configuration_written(uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    results = [r.result for r in access_response(msg).results]
    out: dict[str, Any] = {"result": next((r for r in results if r), 0), "results": results}
    parts = uc.request.parts if isinstance(uc.request, access.Access) else ()
    if len(parts) == len(results):  # (ECS57 resets only the registers DUIS names)
        out["failed"] = [_part_name(p) for p, r in zip(parts, results, strict=True) if r]
    return out
