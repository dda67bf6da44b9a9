"""``client.throttles[name]``: limits, holders, waiters."""

from __future__ import annotations

import reqless
from tests.client.api.jobs_for_tests import Plain
from tests.client.conftest import Clock


def test_maximum_ttl_and_delete(client: reqless.Client) -> None:
    throttle = client.throttles["api"]
    assert (throttle.maximum, throttle.ttl) == (0, -2)
    throttle.maximum = 3
    assert (throttle.maximum, throttle.ttl) == (3, -1)
    throttle.set_maximum(2, expiration=100)
    assert throttle.info() == reqless.ThrottleInfo("api", 2, 100)
    throttle.delete()
    assert throttle.maximum == 0


def test_locks_pending_and_release(
    client: reqless.Client, queue: reqless.Queue, clock: Clock
) -> None:
    throttle = client.throttles["api"]
    throttle.maximum = 1
    first = queue.put(Plain, {}, throttles=["api"])
    # Jobs put at the same instant pop in reverse jid order; a tick makes it FIFO.
    clock.advance(1)
    second = queue.put(Plain, {}, throttles=["api"])
    popped = queue.pop(2)
    assert [job.jid for job in popped] == [first]
    assert throttle.locks() == [first]
    assert throttle.pending() == [second]
    throttle.release(first)
    assert throttle.locks() == []
    assert throttle.pending() == []
    assert [job.jid for job in queue.pop(1)] == [second]
