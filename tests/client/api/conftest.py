"""The API tests: the clients on a test clock come from ``tests/client/conftest.py``;
``queue`` is ``client``'s queue ``q``."""

from __future__ import annotations

import pytest

import reqless


@pytest.fixture
def queue(client: reqless.Client) -> reqless.Queue:
    return client.queues["q"]
