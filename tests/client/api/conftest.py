"""A ``reqless.Client`` for each server x driver, on a clock the test controls.

``client`` acts as worker ``worker-a`` and ``other`` as ``worker-b``; both share
``clock``, so a test moves time forward instead of sleeping. ``admin`` (from
the parent conftest) reads the server behind the client's back.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import reqless
from tests.conftest import Server

START = 1_700_000_000.0


class Clock:
    """A settable ``now`` for the client: call it for the time, ``advance`` to move it."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(server: Server, driver_name: str, clock: Clock) -> Iterator[reqless.Client]:
    with reqless.Client(server.url, driver=driver_name, worker_name="worker-a", clock=clock) as c:
        yield c


@pytest.fixture
def other(server: Server, driver_name: str, clock: Clock) -> Iterator[reqless.Client]:
    with reqless.Client(server.url, driver=driver_name, worker_name="worker-b", clock=clock) as c:
        yield c


@pytest.fixture
def queue(client: reqless.Client) -> reqless.Queue:
    return client.queues["q"]
