"""Load shedding: a bounded number of model requests in flight; beyond it, 503 with Retry-After at once.

Two cores run one check at a time well; twenty at once only make every reader wait, and the queue grows until
clients time out with nothing. A request that cannot start within ``wait_s`` is refused immediately, with a
Retry-After the client can honour, so the requests that are admitted finish at full speed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from veracity.service.errors import VeracityError


class Admission:
    def __init__(self, max_in_flight: int, wait_s: float = 2.0, retry_after_s: int = 2) -> None:
        self.max_in_flight = max(1, int(max_in_flight))
        self.wait_s = wait_s
        self.retry_after_s = retry_after_s
        self._slots = threading.BoundedSemaphore(self.max_in_flight)

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.wait_s):
            raise VeracityError(
                "overloaded",
                f"Veracity is busy ({self.max_in_flight} checks in flight); retry after {self.retry_after_s} s, "
                "or raise VERACITY_MAX_IN_FLIGHT if the machine has cores to spare.",
                503,
                retry_after=self.retry_after_s,
            )
        try:
            yield
        finally:
            self._slots.release()
