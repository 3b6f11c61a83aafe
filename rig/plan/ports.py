"""Ports on the controller machine: pick a free one, or check a fixed one is free."""

from __future__ import annotations

import socket


class PortInUse(RuntimeError):
    pass


def free_port(bind: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((bind, 0))
        return s.getsockname()[1]


def check_free(port: int, what: str, bind: str = "0.0.0.0", kind: int = socket.SOCK_STREAM) -> None:
    """Raise :class:`PortInUse` naming the description field when ``port`` is taken."""
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((bind, port))
        except OSError:
            proto = "TCP" if kind == socket.SOCK_STREAM else "UDP"
            raise PortInUse(
                f"{what} {port}/{proto} is already in use on this machine; stop what holds it "
                f"(`ss -lntup | grep :{port}`) or set {what}: auto in the rig description"
            ) from None
