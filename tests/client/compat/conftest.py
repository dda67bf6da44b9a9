"""Clients for the reqless-py compatibility tests: each server x driver, on a test clock.

``userland`` is put on ``sys.path`` so the tests import ``gnomes`` as the
README's users do (``import gnomes``, ``"gnomes.GnomesJob"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import reqless
from tests.client.api.conftest import Clock
from tests.conftest import Server

USERLAND = str(Path(__file__).parent / "userland")


@pytest.fixture(autouse=True)
def userland(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(USERLAND)


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
