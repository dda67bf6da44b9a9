"""Bounds on what one client may cost: failed logins per address, event streams per user.

Both live in the process: a dashboard run as several processes bounds each one
on its own, which still caps a guesser at a small multiple of the limit.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["FailedLogins", "StreamCounts"]


class FailedLogins:
    """At most ``limit`` failed logins per client address in any ``window`` seconds.

    Past the limit the address is refused without its password being checked,
    until its oldest failure leaves the window, so guessing stays slow whatever
    the guesser sends. Only the ``max_addresses`` most recently failing
    addresses are remembered, so a flood of addresses cannot exhaust memory.
    """

    def __init__(
        self,
        limit: int = 10,
        window: float = 60.0,
        *,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str) -> float | None:
        """Seconds until ``address`` may try again, or None if it may now."""
        failures = self._failures.get(address)
        if failures is None:
            return None
        now = self.clock()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        if len(failures) < self.limit:
            return None
        return failures[0] + self.window - now

    def failed(self, address: str) -> None:
        failures = self._failures.pop(address, None) or deque(maxlen=self.limit)
        failures.append(self.clock())
        self._failures[address] = failures
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)


class StreamCounts:
    """How many event streams each user holds open, against a cap."""

    def __init__(self) -> None:
        self._held: dict[str, int] = {}

    def held(self, key: str) -> int:
        return self._held.get(key, 0)

    def acquire(self, key: str, cap: int) -> bool:
        held = self._held.get(key, 0)
        if held >= cap:
            return False
        self._held[key] = held + 1
        return True

    def release(self, key: str) -> None:
        held = self._held.get(key, 0) - 1
        if held > 0:
            self._held[key] = held
        else:
            self._held.pop(key, None)
