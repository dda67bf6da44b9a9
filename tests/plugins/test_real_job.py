"""The built-in plugins on a real ``reqless.Job`` popped from a real server.

The other tests use a fake job; this one keeps the fake honest: the attribute
names the built-ins read must be those of the client's ``Job``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import reqless
from reqless_plugins import JobContextFilter, PluginManager, WorkerInfo, bind_log_context
from tests.conftest import Server


@pytest.fixture
def popped(server: Server) -> Iterator[reqless.Job]:
    with reqless.Client(server.url, worker_name="host-9-1") as client:
        queue = client.queues["mail"]
        jid = queue.put("myapp.jobs.Mail", {"to": "a@example.com"})
        job = queue.pop()
        assert job is not None and job.jid == jid
        yield job


def test_log_context_and_sandbox_work_on_a_popped_job(popped: reqless.Job, tmp_path: Path) -> None:
    manager = PluginManager.load()
    worker = WorkerInfo("host-9-1", "process", tmp_path, 1, 0)

    context = manager.log_context(popped)
    record = logging.LogRecord("myapp", logging.INFO, __file__, 1, "sent", None, None)
    with bind_log_context(context):
        JobContextFilter().filter(record)
    path = manager.decide("reqless_sandbox_path", worker=worker)
    manager.decide("reqless_sandbox_prepare", worker=worker, path=path, job=popped)

    assert context == {
        "jid": popped.jid,
        "queue": "mail",
        "klass": "myapp.jobs.Mail",
        "worker": "host-9-1",
    }
    assert vars(record)["job_context"] == (
        f" [jid={popped.jid} queue=mail klass=myapp.jobs.Mail worker=host-9-1]"
    )
    assert path == tmp_path / "reqless-py-workers" / "sandbox-0"
    assert path.is_dir()
