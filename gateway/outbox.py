"""The outbox: every asynchronous DUIS response and alert, signed by the DCC and kept in the
store until :mod:`gateway.delivery` has POSTed it to its DCC User's Receive Response
Service (so nothing queued is lost when the gateway restarts)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from lxml import etree

from gateway.config import UserConfig
from gateway.store import Store
from rig.protocol.duis.message import Response
from rig.protocol.duis.signed import sign_document
from rig.protocol.eui import Eui64
from rig.protocol.keystore import Credential

log = logging.getLogger("gateway.outbox")


class Outbox:
    def __init__(
        self,
        store: Store,
        users: Mapping[Eui64, UserConfig],
        signer: Credential,
        xsd: etree.XMLSchema,
    ) -> None:
        self.store = store
        self.users = users
        self.signer = signer
        self.xsd = xsd
        self.wakeup = asyncio.Event()  # delivery waits on it

    def sign(self, response: Response) -> bytes:
        """A DUIS response signed with the DCC's XML key, checked against the schema."""
        return sign_document(response.to_element(), self.signer, xsd=self.xsd)

    def queue(self, user: Eui64, request_id: str | None, kind: str, response: Response) -> None:
        cfg = self.users.get(user)
        if cfg is None:
            log.warning("duis.no_user", extra={"user": user.duis, "request_id": request_id})
            return
        self.store.enqueue(user.duis, cfg.receive_url, request_id, kind, self.sign(response))
        if request_id:
            self.store.hop(request_id, "duis.queued", kind=kind)
        self.wakeup.set()
