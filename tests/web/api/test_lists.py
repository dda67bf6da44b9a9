"""The throttle and recurring-job listings (API and pages), the failure column and the
unknown-queue page (issue 15, item 7)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

import reqless
from tests.web.api.conftest import KLASS, fail_jobs


def throttled_shop(rq: reqless.Client) -> None:
    """imports: queue throttle 5; supplier-api: 1 holder, 2 waiting; mail: no throttle."""
    rq.queues["mail"].put(KLASS, {})
    rq.queues["imports"].throttle.set_maximum(5)
    rq.throttles["supplier-api"].set_maximum(1)
    for n in range(3):
        rq.queues["imports"].put(KLASS, {"n": n}, throttles=["supplier-api"])
    assert len(rq.queues["imports"].pop(3)) == 1


def test_the_throttle_list_shows_queue_and_named_throttles_in_use(
    api: TestClient, rq: reqless.Client
) -> None:
    throttled_shop(rq)
    rows = api.get("/api/v1/throttles").json()
    assert [row["id"] for row in rows] == ["ql:q:imports", "supplier-api"]
    queue, named = rows
    assert (queue["queue"], queue["maximum"], queue["locks"]) == ("imports", 5, 1)
    assert (named["queue"], named["maximum"], named["locks"], named["pending"]) == (None, 1, 1, 2)


def test_an_empty_server_has_no_throttles(api: TestClient) -> None:
    assert api.get("/api/v1/throttles").json() == []


def test_the_throttles_page_lists_them_and_links_each(api: TestClient, rq: reqless.Client) -> None:
    throttled_shop(rq)
    page = api.get("/throttles")
    assert page.status_code == 200
    assert 'href="/throttles/supplier-api"' in page.text
    assert 'href="/throttles/ql%3Aq%3Aimports"' in page.text
    assert 'data-throttle="ql:q:mail"' not in page.text
    assert '<a href="/throttles" class="current">Throttles</a>' in page.text


@pytest.mark.parametrize("path", ["/throttles/", "/throttles?name=", "/recurring/"])
def test_the_bare_list_paths_are_not_errors(api: TestClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 200
    assert "Bad request" not in response.text
    assert "There is no recurring job" not in response.text


def test_a_throttle_may_be_opened_by_name(api: TestClient) -> None:
    response = api.get("/throttles?name=a/b", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/throttles/a%2Fb"


def test_recurring_jobs_of_every_queue_are_listed_and_paged(
    api: TestClient, rq: reqless.Client
) -> None:
    digest = rq.queues["reports"].recur(KLASS, {"to": "ops"}, 3600)
    pings = [rq.queues["health"].recur(KLASS, {"n": n}, 60) for n in range(3)]
    everything = api.get("/api/v1/recurring-jobs").json()
    assert everything["total"] == 4
    assert sorted(job["jid"] for job in everything["jobs"]) == sorted([digest, *pings])
    assert {job["queue"] for job in everything["jobs"]} == {"reports", "health"}
    second = api.get("/api/v1/recurring-jobs?offset=3&limit=2").json()
    assert (second["total"], len(second["jobs"])) == (4, 1)


def test_the_recurring_page_lists_every_queue(api: TestClient, rq: reqless.Client) -> None:
    digest = rq.queues["reports"].recur(KLASS, {}, 3600)
    ping = rq.queues["health"].recur(KLASS, {}, 60)
    page = api.get("/recurring")
    assert page.status_code == 200
    assert f'href="/recurring/{digest}"' in page.text
    assert f'href="/recurring/{ping}"' in page.text
    assert "2 in all queues" in page.text
    assert '<a href="/recurring" class="current">Recurring</a>' in page.text


def test_the_failure_column_shows_the_exception_line_of_a_traceback(
    api: TestClient, rq: reqless.Client
) -> None:
    rq.queues["mail"].put(KLASS, {})
    job = rq.queues["mail"].pop()
    assert job is not None
    job.fail(
        "mail-KeyError",
        "Traceback (most recent call last):\n"
        '  File "app/jobs.py", line 3, in process\n'
        "    raise KeyError('to')\n"
        "KeyError: 'to'\n",
    )
    page = api.get("/failures/mail-KeyError").text
    assert '<span class="msg">KeyError: &#39;to&#39;</span>' in page
    assert '<span class="msg">Traceback (most recent call last):' not in page


def test_the_failure_column_shows_a_plain_message_s_first_line(
    api: TestClient, rq: reqless.Client
) -> None:
    fail_jobs(rq, "mail", 1, group="mail-Timeout")
    page = api.get("/failures/mail-Timeout").text
    assert '<span class="msg">job ' in page


def test_an_unknown_queue_page_says_the_queue_was_never_seen(api: TestClient) -> None:
    response = api.get("/queues/underpant")
    assert response.status_code == 404
    assert "The queue &#39;underpant&#39; has never been seen" in response.text


def test_a_known_queue_without_jobs_still_has_its_page(api: TestClient, rq: reqless.Client) -> None:
    rq.queues["mail"].put(KLASS, {})
    job = rq.queues["mail"].pop()
    assert job is not None
    job.complete()
    assert api.get("/queues/mail").status_code == 200


def test_a_queue_throttle_without_a_maximum_is_not_listed_though_held(
    api: TestClient, rq: reqless.Client
) -> None:
    rq.queues["mail"].put(KLASS, {})
    assert rq.queues["mail"].pop() is not None
    assert rq.throttles["ql:q:mail"].locks()
    assert api.get("/api/v1/throttles").json() == []
