"""``job.process()``: run the class's method for the queue, fail clearly when it cannot."""

from __future__ import annotations

import pytest

import reqless
from tests.client.api import jobs_for_tests
from tests.client.api.jobs_for_tests import Broken, NoMethod, PerQueue, Plain


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    jobs_for_tests.CALLS.clear()


def _run(client: reqless.Client, queue_name: str, klass: type | str) -> reqless.Job:
    jid = client.queues[queue_name].put(klass, {"x": 1})
    job = client.queues[queue_name].pop()
    assert job is not None
    job.process()
    found = client.jobs[jid]
    assert isinstance(found, reqless.Job)
    return found


def test_the_method_named_after_the_queue_runs(client: reqless.Client) -> None:
    job = _run(client, "q", PerQueue)
    assert [("q", job.jid, {"x": 1})] == jobs_for_tests.CALLS
    assert job.state == "complete"


def test_process_runs_when_no_method_is_named_after_the_queue(client: reqless.Client) -> None:
    job = _run(client, "elsewhere", Plain)
    assert [("process", job.jid, {"x": 1})] == jobs_for_tests.CALLS


def test_an_exception_fails_the_job_with_its_traceback(client: reqless.Client) -> None:
    job = _run(client, "q", Broken)
    assert job.state == "failed"
    assert job.failure is not None
    assert job.failure.group == "q-ValueError"
    assert "Traceback" in job.failure.message
    assert "the job's own bug" in job.failure.message


def test_a_class_that_cannot_be_imported_fails_the_job(client: reqless.Client) -> None:
    job = _run(client, "q", "tests.client.api.no_such_module.Job")
    assert job.failure is not None
    assert job.failure.group == "q-ModuleNotFoundError"
    assert "no_such_module" in job.failure.message


def test_a_class_without_the_method_fails_the_job(client: reqless.Client) -> None:
    job = _run(client, "q", NoMethod)
    assert job.failure is not None
    assert job.failure.group == "q-method-missing"
