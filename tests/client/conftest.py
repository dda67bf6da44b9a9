"""Fixtures for the client's tests: each driver on each server.

``driver_name`` runs a test once with redis-py and once with valkey-py;
combined with the root ``server`` fixture (Valkey and Redis), a test that
takes ``driver`` runs four times. ``admin`` is a plain redis-py client of the
same server, for looking behind the client's back (flushing scripts, ACL
users, reading keys).

The API and compatibility tests (``api/``, ``compat/``) share the clients on a
clock the test controls: ``client`` acts as worker ``worker-a`` and ``other``
as ``worker-b``, both on ``clock``, so a test moves time forward instead of
sleeping; ``run(scenario)`` runs an asyncio scenario with an asyncio client
(worker ``worker-a``, same clock) in a fresh event loop. A module may define
its own fixture of one of these names instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import pytest
import redis

import reqless
import reqless.aio
from reqless._settings import ClientSettings
from reqless.drivers import Driver, connect
from tests.conftest import Server

DRIVER_NAMES = ("redis", "valkey")


@pytest.fixture(params=("function", "eval"))
def form(request: pytest.FixtureRequest) -> str:
    """The core's form under test: the Function library (FCALL) or the EVAL script."""
    value: str = request.param
    return value


@pytest.fixture(params=DRIVER_NAMES)
def driver_name(request: pytest.FixtureRequest) -> str:
    """The name of the driver under test."""
    name: str = request.param
    return name


@pytest.fixture
def settings(server: Server, driver_name: str) -> ClientSettings:
    """Settings for the test server with the driver under test."""
    return ClientSettings.from_url(server.url, driver_name, environ={})


@pytest.fixture
def driver(settings: ClientSettings) -> Iterator[Driver]:
    """A connected driver, closed after the test."""
    connected = connect(settings)
    yield connected
    connected.close()


@pytest.fixture
def admin(server: Server) -> Iterator[redis.Redis]:
    """A decoded redis-py client of the test server, independent of the code under test.

    The server keeps its scripts and functions across ``FLUSHALL``; tests
    start with neither, and with command statistics reset, so each shows the
    loading and the calls it causes.
    """
    client = server.client(decode_responses=True)
    client.script_flush()
    client.function_flush()
    client.config_resetstat()
    yield client
    client.close()


START = 1_700_000_000.0

#: An asyncio test's body, given the asyncio client.
Scenario = Callable[[reqless.aio.Client], Awaitable[None]]


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
def run(server: Server, driver_name: str, clock: Clock) -> Callable[[Scenario], None]:
    """Run a scenario with an asyncio client (worker ``worker-a``) in a fresh event loop."""

    def runner(scenario: Scenario) -> None:
        async def main() -> None:
            async with reqless.aio.Client(
                server.url, driver=driver_name, worker_name="worker-a", clock=clock
            ) as aio_client:
                await scenario(aio_client)

        asyncio.run(main())

    return runner
