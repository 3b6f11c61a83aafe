"""Behaviours registered by key with a decorator, where they belong: the DCC's transform of
each use case, a device's handler, the DCC User's reader, the DCC's own services.

Registering is a decorator at the definition (``@transforms(ECS17B)``), not an entry in a
central list someone must edit; registering a key twice is an error, so two modules
cannot silently serve the same use case.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Registry(Generic[K, V]):
    def __init__(self, what: str) -> None:
        self.what = what  # "transform", "handler": for the error message
        self._items: dict[K, V] = {}

    def register(self, *keys: K) -> Callable[[V], V]:
        """A decorator registering its function under every key given."""

        def add(item: V) -> V:
            for key in keys:
                if key in self._items:
                    raise ValueError(f"{key} already has a {self.what}")
                self._items[key] = item
            return item

        return add

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items
