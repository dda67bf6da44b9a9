"""Fixtures for the API tests: the dashboard app over a real server, seen through HTTP.

``api`` is Starlette's TestClient on an app without authentication (everyone is
admin) that sends the session's CSRF token with every request, as the pages do.
``open_api(**options)`` builds one with other settings (basic or proxy auth)
and no automatic token, for the security tests. ``rq`` is a plain synchronous
reqless client of the same server: it arranges the data and checks the effects,
independently of the code under test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

import reqless
from reqless_web import create_app
from tests.conftest import Server

KLASS = "app.jobs.Report"
SECRET = "a-fixed-secret-for-tests"

OpenApi = Callable[..., TestClient]


@pytest.fixture
def rq(server: Server) -> Iterator[reqless.Client]:
    client = reqless.Client(server.url, worker_name="test-worker")
    yield client
    client.close()


@pytest.fixture
def open_api(server: Server) -> Iterator[OpenApi]:
    with contextlib.ExitStack() as stack:

        def factory(**options: Any) -> TestClient:
            options.setdefault("secret", SECRET)
            app = create_app(server.url, **options)
            return stack.enter_context(TestClient(app, base_url="http://127.0.0.1"))

        yield factory


@pytest.fixture
def api(open_api: OpenApi) -> TestClient:
    client = open_api(auth="none")
    token = client.get("/api/v1/session").json()["csrf_token"]
    client.headers["X-CSRF-Token"] = token
    return client


def fail_jobs(
    rq: reqless.Client, queue: str, count: int, group: str = "boom", **put: Any
) -> list[str]:
    """``count`` jobs put in ``queue``, popped and failed into ``group``."""
    q = rq.queues[queue]
    jids = q.put_many([{"klass": KLASS, "data": {"n": n}, **put} for n in range(count)])
    for job in q.pop(count):
        job.fail(group, f"job {job.jid} went wrong")
    return jids
