"""Load shedding and rate limits: how much work the server takes on, in all and from one client.

``Admission``: a bounded number of model requests in flight and a bounded queue; beyond it, 503 with Retry-After
at once.
``RateLimiter``: requests per minute per client (service/access.py decides who a client is); beyond it, 429.

Two cores run one check at a time well; twenty at once only make every reader wait, and the queue grows until
clients time out with nothing. A request that cannot start within ``wait_s`` is refused immediately, with a
Retry-After the client can honour, so the requests that are admitted finish at full speed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from veracity.service.errors import VeracityError

T = TypeVar("T")


class Admission:
    """``max_in_flight`` checks run; up to ``max_queued`` more wait (at most ``wait_s``) for a slot; any request
    beyond those is refused at once. Without the bound on waiters every server thread ends up waiting, the
    server's own connection queue grows behind them, and latency climbs with the load instead of staying flat.
    """

    def __init__(self, max_in_flight: int, wait_s: float = 2.0, retry_after_s: int = 2, max_queued: int = 4) -> None:
        self.max_in_flight = max(1, int(max_in_flight))
        self.max_queued = max(0, int(max_queued))
        self.wait_s = wait_s
        self.retry_after_s = retry_after_s
        self._slots = threading.BoundedSemaphore(self.max_in_flight)
        self._waiting = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="veracity-model")

    def _busy(self) -> VeracityError:
        return VeracityError(
            "overloaded",
            f"Veracity is busy ({self.max_in_flight} checks in flight, {self.max_queued} waiting); retry after "
            f"{self.retry_after_s} s, or raise VERACITY_MAX_IN_FLIGHT if the machine has cores to spare.",
            503,
            retry_after=self.retry_after_s,
        )

    def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a slot, on one of ``max_in_flight`` model threads; its result or exception.

        The server has many more threads than slots (so that a request beyond the queue can be refused at once),
        and every thread that runs the models keeps its own allocator arena and kernel caches: on two cores, 16
        threads taking turns held 400 MB more than 4 did. Model work therefore runs on a fixed pool.
        """
        with self.slot():
            return self._pool.submit(fn, *args, **kwargs).result()

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            with self._lock:
                if self._waiting >= self.max_queued:
                    raise self._busy()
                self._waiting += 1
            try:
                admitted = self._slots.acquire(timeout=self.wait_s)
            finally:
                with self._lock:
                    self._waiting -= 1
            if not admitted:
                raise self._busy()
        try:
            yield
        finally:
            self._slots.release()


class RateLimiter:
    """At most ``per_minute`` requests per client, with bursts up to the same number (a token bucket).

    Load shedding keeps the server answering when everyone together asks too much; this keeps one client from
    taking every slot. A client is an accepted API key, or else the address the request came from (a key
    that is not accepted does not count, or changing it at random would dodge the limit).
    """

    MAX_CLIENTS = 10_000  # buckets kept; idle clients (full buckets) are forgotten first

    def __init__(self, per_minute: int) -> None:
        self.per_minute = int(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, time of last update)
        self._lock = threading.Lock()

    def acquire(self, client: str, now: float | None = None) -> float:
        """Take one token for ``client``: 0.0 when allowed, else the seconds until one is free."""
        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                return (1.0 - tokens) / rate
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > self.MAX_CLIENTS:
                self._forget_idle(now, rate)
            return 0.0

    def _forget_idle(self, now: float, rate: float) -> None:
        full = [c for c, (t, last) in self._buckets.items() if t + (now - last) * rate >= self.per_minute]
        for client in full:
            del self._buckets[client]
        while len(self._buckets) > self.MAX_CLIENTS:  # all busy: drop the longest-untouched
            del self._buckets[min(self._buckets, key=lambda c: self._buckets[c][1])]
