"""Read endpoints: what the pages show, as the core reports it."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

import reqless
from reqless_web._api._common import ENDPOINTS
from tests.web.api.conftest import KLASS, fail_jobs


def test_overview_has_counts_failures_workers_tracked_and_the_server(
    api: TestClient, rq: reqless.Client
) -> None:
    rq.queues["mail"].put_many([(KLASS, {"n": n}) for n in range(3)])
    rq.queues["mail"].pause()
    fail_jobs(rq, "reports", 2, group="reports-TimeoutError")
    tracked = rq.queues["mail"].put(KLASS, {})
    rq.jobs[tracked].track()  # type: ignore[union-attr]
    overview = api.get("/api/v1/overview").json()
    mail = next(q for q in overview["queues"] if q["name"] == "mail")
    assert (mail["waiting"], mail["paused"]) == (4, True)
    assert overview["failures"] == {"reports-TimeoutError": 2}
    assert overview["workers"] == [{"name": "test-worker", "jobs": 0, "stalled": 0}]
    assert overview["tracked"] == {"jobs": 1, "expired": 0}
    assert overview["redis"]["used_memory_human"]
    assert overview["redis"]["connected_clients"] >= 1
    assert overview["redis"]["version"]


def test_queues_lists_the_counts_of_every_queue(api: TestClient, rq: reqless.Client) -> None:
    rq.queues["a"].put(KLASS, {})
    rq.queues["b"].put(KLASS, {}, delay=60)
    counts = {q["name"]: q for q in api.get("/api/v1/queues").json()}
    assert counts["a"]["waiting"] == 1
    assert counts["b"]["scheduled"] == 1


def test_a_queue_has_counts_throttle_and_todays_stats(api: TestClient, rq: reqless.Client) -> None:
    rq.queues["mail"].put(KLASS, {})
    rq.queues["mail"].throttle.maximum = 3
    rq.queues["mail"].pop()
    detail = api.get("/api/v1/queues/mail").json()
    assert detail["counts"]["running"] == 1
    assert detail["throttle"] == {"maximum": 3, "ttl": -1}
    assert detail["stats"]["wait"]["count"] == 1
    assert len(detail["stats"]["wait"]["histogram"]) == 148


def test_queue_stats_of_another_day_are_empty(api: TestClient, rq: reqless.Client) -> None:
    rq.queues["mail"].put(KLASS, {})
    rq.queues["mail"].pop()
    today = api.get("/api/v1/queues/mail/stats").json()
    last_week = api.get("/api/v1/queues/mail/stats", params={"date": time.time() - 7 * 86400})
    assert today["wait"]["count"] == 1
    assert last_week.json()["wait"]["count"] == 0


def test_queue_stats_refuse_a_date_that_is_not_a_timestamp(api: TestClient) -> None:
    response = api.get("/api/v1/queues/mail/stats", params={"date": "yesterday"})
    assert response.status_code == 400
    assert "'yesterday'" in response.json()["error"]


def test_waiting_jobs_are_paged_with_the_total_in_priority_order(
    api: TestClient, rq: reqless.Client
) -> None:
    q = rq.queues["mail"]
    jids = [q.put(KLASS, {"n": n}, priority=n) for n in range(7)]
    first = api.get("/api/v1/queues/mail/jobs", params={"state": "waiting", "limit": 3}).json()
    second = api.get(
        "/api/v1/queues/mail/jobs", params={"state": "waiting", "offset": 3, "limit": 3}
    ).json()
    assert (first["total"], first["offset"], first["limit"]) == (7, 0, 3)
    assert [j["jid"] for j in first["jobs"]] == jids[6:3:-1]
    assert [j["jid"] for j in second["jobs"]] == jids[3:0:-1]


def test_waiting_jobs_leave_out_jobs_whose_lock_expired(
    api: TestClient, rq: reqless.Client
) -> None:
    rq.config["heartbeat"] = -10  # locks are born expired
    q = rq.queues["mail"]
    stalled = q.put(KLASS, {})
    q.pop()
    waiting = q.put(KLASS, {})
    page = api.get("/api/v1/queues/mail/jobs", params={"state": "waiting"}).json()
    assert [j["jid"] for j in page["jobs"]] == [waiting]
    stalled_page = api.get("/api/v1/queues/mail/jobs", params={"state": "stalled"}).json()
    assert [j["jid"] for j in stalled_page["jobs"]] == [stalled]
    assert stalled_page["total"] == 1


@pytest.mark.parametrize("state", ["running", "scheduled", "depends", "throttled"])
def test_jobs_of_each_state_are_listed_with_their_total(
    api: TestClient, rq: reqless.Client, state: str
) -> None:
    q = rq.queues["mail"]
    if state == "running":
        jid = q.put(KLASS, {})
        q.pop()
    elif state == "scheduled":
        jid = q.put(KLASS, {}, delay=600)
    elif state == "depends":
        first = q.put(KLASS, {})
        jid = q.put(KLASS, {}, depends=[first])
    else:
        q.throttle.maximum = 1
        both = {q.put(KLASS, {}), q.put(KLASS, {})}
        # Equal scores pop in jid order: whichever was not handed out waits.
        (jid,) = both - {job.jid for job in q.pop(2)}
    page = api.get("/api/v1/queues/mail/jobs", params={"state": state}).json()
    assert page["state"] == state
    assert page["total"] == 1
    assert [j["jid"] for j in page["jobs"]] == [jid]


def test_recurring_jobs_of_a_queue_are_listed(api: TestClient, rq: reqless.Client) -> None:
    jid = rq.queues["mail"].recur(KLASS, {"every": "hour"}, interval=3600, offset=3600)
    page = api.get("/api/v1/queues/mail/jobs", params={"state": "recurring"}).json()
    assert page["total"] == 1
    assert page["jobs"][0]["jid"] == jid
    assert page["jobs"][0]["interval"] == 3600
    listed = api.get("/api/v1/recurring", params={"queue": "mail"}).json()
    assert [r["jid"] for r in listed] == [jid]


def test_completed_jobs_are_listed_newest_first_without_a_total(
    api: TestClient, rq: reqless.Client
) -> None:
    q = rq.queues["mail"]
    q.put(KLASS, {})
    q.pop().complete()  # type: ignore[union-attr]
    page = api.get("/api/v1/queues/mail/jobs", params={"state": "complete"}).json()
    assert page["total"] is None
    assert page["jobs"][0]["state"] == "complete"


def test_an_unknown_state_or_bad_paging_is_a_400_naming_the_value(api: TestClient) -> None:
    bad_state = api.get("/api/v1/queues/mail/jobs", params={"state": "sleeping"})
    assert bad_state.status_code == 400
    assert "'sleeping'" in bad_state.json()["error"]
    bad_limit = api.get("/api/v1/queues/mail/jobs", params={"limit": "lots"})
    assert bad_limit.status_code == 400
    assert "'lots'" in bad_limit.json()["error"]
    too_many = api.get("/api/v1/failures/boom", params={"limit": 100_000})
    assert too_many.status_code == 400
    assert api.get("/api/v1/tracked", params={"offset": -1}).status_code == 400


def test_names_with_slashes_and_markup_round_trip_through_the_url(
    api: TestClient, rq: reqless.Client
) -> None:
    name = 'team/a <b>&"q"'
    rq.queues[name].put(KLASS, {})
    detail = api.get(f"/api/v1/queues/{name}").json()
    assert detail["counts"]["name"] == name
    assert detail["counts"]["waiting"] == 1
    page = api.get(f"/api/v1/queues/{name}/jobs", params={"state": "waiting"}).json()
    assert page["total"] == 1


def test_a_job_is_returned_whole(api: TestClient, rq: reqless.Client) -> None:
    parent = rq.queues["mail"].put(KLASS, {})
    jid = rq.queues["mail"].put(
        KLASS, {"to": "</script><script>alert(1)</script>"}, tags=["<b>x</b>"], depends=[parent]
    )
    job = api.get(f"/api/v1/jobs/{jid}").json()
    assert job["jid"] == jid
    assert job["klass"] == KLASS
    assert job["state"] == "depends"
    assert job["tags"] == ["<b>x</b>"]
    assert job["dependencies"] == [parent]
    assert job["failure"] is None
    assert job["data"] == '{"to":"</script><script>alert(1)</script>"}'
    assert [h["what"] for h in job["history"]] == ["put"]
    assert api.get(f"/api/v1/jobs/{parent}").json()["dependents"] == [jid]


def test_a_missing_job_is_a_404(api: TestClient) -> None:
    response = api.get("/api/v1/jobs/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "no job 'nope'"}


def test_failures_count_groups_and_page_their_jobs_newest_first(
    api: TestClient, rq: reqless.Client
) -> None:
    jids = fail_jobs(rq, "mail", 5, group="smtp")
    assert api.get("/api/v1/failures").json() == {"smtp": 5}
    page = api.get("/api/v1/failures/smtp", params={"offset": 1, "limit": 2}).json()
    assert page["total"] == 5
    assert page["group"] == "smtp"
    assert {j["failure"]["group"] for j in page["jobs"]} == {"smtp"}
    assert len(page["jobs"]) == 2
    assert {j["jid"] for j in page["jobs"]} <= set(jids)


def test_workers_and_the_jobs_a_worker_holds(api: TestClient, rq: reqless.Client) -> None:
    q = rq.queues["mail"]
    jid = q.put(KLASS, {})
    q.pop()
    assert api.get("/api/v1/workers").json() == [{"name": "test-worker", "jobs": 1, "stalled": 0}]
    held = api.get("/api/v1/workers/test-worker").json()
    assert held["name"] == "test-worker"
    assert [j["jid"] for j in held["jobs"]] == [jid]
    assert held["stalled"] == []


def test_a_worker_lists_its_stalled_jobs(api: TestClient, rq: reqless.Client) -> None:
    rq.config["heartbeat"] = -10
    jid = rq.queues["mail"].put(KLASS, {})
    rq.queues["mail"].pop()
    held = api.get("/api/v1/workers/test-worker").json()
    assert [j["jid"] for j in held["stalled"]] == [jid]


def test_tracked_jobs_are_paged_and_list_the_expired(api: TestClient, rq: reqless.Client) -> None:
    q = rq.queues["mail"]
    jids = [q.put(KLASS, {"n": n}) for n in range(3)]
    for jid in jids:
        rq.jobs[jid].track()  # type: ignore[union-attr]
    rq.jobs[jids[0]].cancel()  # type: ignore[union-attr]
    page = api.get("/api/v1/tracked", params={"limit": 1}).json()
    assert page["total"] == 2
    assert len(page["jobs"]) == 1
    assert page["expired"] == [jids[0]]


def test_tags_top_and_the_jobs_of_a_tag(api: TestClient, rq: reqless.Client) -> None:
    q = rq.queues["mail"]
    jids = [q.put(KLASS, {}, tags=["urgent", f"n{n}"]) for n in range(3)]
    assert api.get("/api/v1/tags/top").json() == ["urgent"]
    page = api.get("/api/v1/tags/urgent", params={"limit": 2}).json()
    assert page["total"] == 3
    assert page["tag"] == "urgent"
    assert len(page["jobs"]) == 2
    assert {j["jid"] for j in page["jobs"]} <= set(jids)


def test_a_throttle_shows_its_holders_and_waiters(api: TestClient, rq: reqless.Client) -> None:
    q = rq.queues["mail"]
    # Higher priority pops first; two puts in one millisecond would tie on jid order.
    first = q.put(KLASS, {}, throttles=["smtp"], priority=1)
    second = q.put(KLASS, {}, throttles=["smtp"])
    rq.throttles["smtp"].maximum = 1
    q.pop(2)
    throttle = api.get("/api/v1/throttles/smtp").json()
    assert throttle == {
        "id": "smtp",
        "maximum": 1,
        "ttl": -1,
        "locks": [first],
        "pending": [second],
    }
    queue_throttle = api.get("/api/v1/throttles/ql:q:mail").json()
    assert queue_throttle["id"] == "ql:q:mail"


def test_a_recurring_job_and_a_missing_one(api: TestClient, rq: reqless.Client) -> None:
    jid = rq.queues["mail"].recur(KLASS, {"a": 1}, interval=60, priority=2, retries=1)
    recurring = api.get(f"/api/v1/recurring/{jid}").json()
    assert recurring["queue"] == "mail"
    assert (recurring["interval"], recurring["priority"], recurring["retries"]) == (60, 2, 1)
    assert recurring["data"] == '{"a":1}'
    assert api.get("/api/v1/recurring/nope").status_code == 404
    assert api.get("/api/v1/recurring").status_code == 400


def test_patterns_and_config_read_their_defaults(api: TestClient) -> None:
    patterns = api.get("/api/v1/patterns").json()
    assert patterns == {
        "identifiers": {"default": ["*"]},
        "priorities": [{"pattern": ["default"], "fairly": False}],
    }
    config = api.get("/api/v1/config").json()
    assert config["heartbeat"] == "60"
    assert config["application"] == "reqless"


def test_the_openapi_document_describes_every_endpoint(api: TestClient) -> None:
    document = api.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": "/api/v1"}]
    for item in ENDPOINTS:
        path = item.path.replace(":path", "")
        operation = document["paths"][path][item.method.lower()]
        assert operation["x-required-role"] == item.role.name
    assert "get" in document["paths"]["/events"]


def test_an_unknown_api_path_is_a_json_404(api: TestClient) -> None:
    response = api.get("/api/v1/nothing/here")
    assert response.status_code == 404
    assert "nothing/here" in response.json()["error"]
