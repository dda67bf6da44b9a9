"""Fixtures for the client's tests: each driver on each server.

``driver_name`` runs a test once with redis-py and once with valkey-py;
combined with the root ``server`` fixture (Valkey and Redis), a test that
takes ``driver`` runs four times. ``admin`` is a plain redis-py client of the
same server, for looking behind the client's back (flushing scripts, ACL
users, reading keys).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

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
