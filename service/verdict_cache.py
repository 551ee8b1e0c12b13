"""A bounded, thread-safe cache of verdicts, so that checking the same page again is nearly free.

The browser extension re-checks a page each time its icon is clicked, and articles repeat their claims (the seed
article states several twice). A verdict depends only on the claim text, the corpus and the models, so the key
is exactly that: (claim, corpus version, model revisions). Adding evidence changes the corpus version, and with
it every key: nothing stale is ever served.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    """Least-recently-used, at most ``size`` entries (0 disables it); safe to share between request threads."""

    def __init__(self, size: int) -> None:
        self.size = max(0, int(size))
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        if not self.size:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
