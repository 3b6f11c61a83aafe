"""The Customer Identification Number (CIN) the DCC makes up for 9.1 (Request Customer
Identification Number): four digits, sent to the ESME (ECS50) or the GSME (GCS36) for the
meter to show the consumer. One maker for both families; a test pins it with
``monkeypatch.setattr(cin, "new_cin", ...)``."""

from __future__ import annotations

import secrets
from collections.abc import Callable

new_cin: Callable[[], str] = lambda: f"{secrets.randbelow(9000) + 1000}"  # noqa: E731
