"""Retrying or canceling a whole failure group: done on the server, in chunks, with no cap."""

from __future__ import annotations

from starlette.testclient import TestClient

import reqless
from reqless_web._api._bulk import CHUNK
from tests.web.api.conftest import KLASS, fail_jobs

# More than two chunks, so the chunking itself is exercised.
MANY = 2 * CHUNK + 100


def test_retry_a_group_larger_than_a_chunk_sends_every_job_back_to_its_queue(
    api: TestClient, rq: reqless.Client
) -> None:
    mail = fail_jobs(rq, "mail", MANY - 10, group="smtp")
    sms = fail_jobs(rq, "sms", 10, group="smtp")
    response = api.post("/api/v1/failures/smtp/retry").json()
    assert response == {"group": "smtp", "count": MANY, "skipped": {}}
    assert rq.jobs.failed() == {}
    assert rq.queues["mail"].counts.waiting == len(mail)
    assert rq.queues["sms"].counts.waiting == len(sms)


def test_cancel_a_group_larger_than_a_chunk_deletes_every_job(
    api: TestClient, rq: reqless.Client
) -> None:
    jids = fail_jobs(rq, "mail", MANY, group="smtp")
    response = api.post("/api/v1/failures/smtp/cancel").json()
    assert (response["count"], response["skipped"]) == (MANY, {})
    assert rq.jobs.failed() == {}
    assert rq.jobs.get(*jids[:: CHUNK // 5]) == []


def test_cancel_skips_jobs_others_depend_on_and_says_why(
    api: TestClient, rq: reqless.Client
) -> None:
    q = rq.queues["mail"]
    needed = q.put(KLASS, {"needed": True})
    waiting = q.put(KLASS, {}, depends=[needed])
    popped = q.pop()
    assert popped is not None and popped.jid == needed
    popped.fail("smtp", "down")
    others = fail_jobs(rq, "mail", 30, group="smtp")
    response = api.post("/api/v1/failures/smtp/cancel").json()
    assert response["count"] == len(others)
    assert list(response["skipped"]) == [needed]
    assert waiting in response["skipped"][needed]
    assert rq.jobs.failed() == {"smtp": 1}


def test_other_groups_are_left_alone(api: TestClient, rq: reqless.Client) -> None:
    fail_jobs(rq, "mail", 3, group="smtp")
    fail_jobs(rq, "mail", 2, group="dns")
    api.post("/api/v1/failures/smtp/cancel")
    assert rq.jobs.failed() == {"dns": 2}


def test_an_empty_or_unknown_group_does_nothing(api: TestClient) -> None:
    assert api.post("/api/v1/failures/none-here/retry").json()["count"] == 0
