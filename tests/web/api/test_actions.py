"""Actions: each one changes the server the way the page's button says."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

import reqless
from tests.web.api.conftest import KLASS, fail_jobs


def job(rq: reqless.Client, jid: str) -> reqless.Job:
    found = rq.jobs[jid]
    assert isinstance(found, reqless.Job)
    return found


def test_pause_and_unpause_a_queue(api: TestClient, rq: reqless.Client) -> None:
    rq.queues["mail"].put(KLASS, {})
    assert api.post("/api/v1/queues/mail/pause").json() == {"queue": "mail", "paused": True}
    assert rq.queues["mail"].pop() is None
    api.post("/api/v1/queues/mail/unpause")
    assert rq.queues["mail"].pop() is not None


def test_throttle_a_queue(api: TestClient, rq: reqless.Client) -> None:
    response = api.post("/api/v1/queues/mail/throttle", json={"maximum": 2})
    assert response.json() == {"queue": "mail", "maximum": 2, "ttl": -1}
    assert rq.queues["mail"].throttle.maximum == 2


def test_a_throttle_maximum_must_be_a_non_negative_integer(api: TestClient) -> None:
    for body, word in (({}, "required"), ({"maximum": -1}, "-1"), ({"maximum": "2"}, '"2"')):
        response = api.post("/api/v1/queues/mail/throttle", json=body)
        assert response.status_code == 400
        assert word in response.json()["error"]


def test_a_body_that_is_not_a_json_object_is_a_400(api: TestClient) -> None:
    response = api.post(
        "/api/v1/queues/mail/throttle",
        content=b"[1, 2]",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    broken = api.post("/api/v1/queues/mail/throttle", content=b"{maximum")
    assert broken.status_code == 400
    assert "not JSON" in broken.json()["error"]


def test_forget_a_queue(api: TestClient, rq: reqless.Client) -> None:
    rq.queues["old"].put(KLASS, {})
    rq.queues["old"].pop().complete()  # type: ignore[union-attr]
    api.post("/api/v1/queues/old/forget")
    assert "old" not in rq.queues.names


def test_retry_a_failed_job_puts_it_back_in_its_queue(api: TestClient, rq: reqless.Client) -> None:
    (jid,) = fail_jobs(rq, "mail", 1)
    retried = api.post(f"/api/v1/jobs/{jid}/retry").json()
    assert (retried["state"], retried["queue"]) == ("waiting", "mail")
    assert rq.jobs.failed() == {}
    assert job(rq, jid).state == "waiting"


def test_retry_keeps_the_jobs_throttles_priority_and_tags(
    api: TestClient, rq: reqless.Client
) -> None:
    (jid,) = fail_jobs(rq, "mail", 1, priority=7, tags=["vip"], throttles=["smtp"])
    api.post(f"/api/v1/jobs/{jid}/retry")
    retried = job(rq, jid)
    assert retried.priority == 7
    assert retried.tags == ["vip"]
    assert set(retried.throttles) == {"smtp", "ql:q:mail"}


def test_retry_works_for_jobs_of_any_client_class_name(
    api: TestClient, rq: reqless.Client, server: object
) -> None:
    # Other languages' clients name classes without a Python module path.
    (jid,) = fail_jobs(rq, "mail", 1)
    redis_client = server.client()  # type: ignore[attr-defined]
    redis_client.hset(f"ql:j:{jid}", "klass", "SendMail")
    assert api.post(f"/api/v1/jobs/{jid}/retry").status_code == 200
    assert job(rq, jid).state == "waiting"


def test_move_a_job_to_another_queue(api: TestClient, rq: reqless.Client) -> None:
    jid = rq.queues["mail"].put(KLASS, {"x": 1})
    moved = api.post(f"/api/v1/jobs/{jid}/move", json={"queue": "bulk-mail"}).json()
    assert moved["queue"] == "bulk-mail"
    assert rq.queues["bulk-mail"].counts.waiting == 1
    assert rq.queues["mail"].counts.waiting == 0
    assert api.post(f"/api/v1/jobs/{jid}/move", json={}).status_code == 400


def test_cancel_a_job(api: TestClient, rq: reqless.Client) -> None:
    jid = rq.queues["mail"].put(KLASS, {})
    assert api.post(f"/api/v1/jobs/{jid}/cancel").json() == {"jid": jid, "canceled": True}
    assert rq.jobs[jid] is None


def test_cancel_refuses_a_job_others_depend_on(api: TestClient, rq: reqless.Client) -> None:
    first = rq.queues["mail"].put(KLASS, {})
    rq.queues["mail"].put(KLASS, {}, depends=[first])
    response = api.post(f"/api/v1/jobs/{first}/cancel")
    assert response.status_code == 400
    assert "is a dependency of" in response.json()["error"]
    assert rq.jobs[first] is not None


def test_actions_on_a_missing_job_are_a_404(api: TestClient) -> None:
    for action in ("retry", "cancel", "track", "timeout"):
        response = api.post(f"/api/v1/jobs/ghost/{action}")
        assert response.status_code == 404
        assert "'ghost'" in response.json()["error"]


def test_change_a_jobs_priority(api: TestClient, rq: reqless.Client) -> None:
    low = rq.queues["mail"].put(KLASS, {})
    rq.queues["mail"].put(KLASS, {}, priority=5)
    assert api.post(f"/api/v1/jobs/{low}/priority", json={"priority": 10}).json()["priority"] == 10
    assert rq.queues["mail"].pop().jid == low  # type: ignore[union-attr]


def test_track_and_untrack_a_job(api: TestClient, rq: reqless.Client) -> None:
    jid = rq.queues["mail"].put(KLASS, {})
    api.post(f"/api/v1/jobs/{jid}/track")
    assert job(rq, jid).tracked is True
    api.post(f"/api/v1/jobs/{jid}/untrack")
    assert job(rq, jid).tracked is False


def test_tag_and_untag_a_job(api: TestClient, rq: reqless.Client) -> None:
    jid = rq.queues["mail"].put(KLASS, {}, tags=["a"])
    tagged = api.post(f"/api/v1/jobs/{jid}/tag", json={"tags": ["b", "<c>"]}).json()
    assert tagged == {"jid": jid, "tags": ["a", "b", "<c>"]}
    api.post(f"/api/v1/jobs/{jid}/untag", json={"tags": ["a"]})
    assert job(rq, jid).tags == ["b", "<c>"]
    bad = api.post(f"/api/v1/jobs/{jid}/tag", json={"tags": "b"})
    assert bad.status_code == 400


def test_undepend_some_or_all_dependencies(api: TestClient, rq: reqless.Client) -> None:
    q = rq.queues["mail"]
    a, b = q.put(KLASS, {}), q.put(KLASS, {})
    jid = q.put(KLASS, {}, depends=[a, b])
    assert api.post(f"/api/v1/jobs/{jid}/undepend", json={"jids": [a]}).json()["dependencies"] == [
        b
    ]
    freed = api.post(f"/api/v1/jobs/{jid}/undepend", json={"all": True}).json()
    assert (freed["state"], freed["dependencies"]) == ("waiting", [])


def test_undepend_a_job_not_waiting_on_others_is_a_400(api: TestClient, rq: reqless.Client) -> None:
    jid = rq.queues["mail"].put(KLASS, {})
    response = api.post(f"/api/v1/jobs/{jid}/undepend", json={"all": True})
    assert response.status_code == 400
    assert "depends state" in response.json()["error"]


def test_timeout_a_running_job(api: TestClient, rq: reqless.Client) -> None:
    jid = rq.queues["mail"].put(KLASS, {})
    rq.queues["mail"].pop()
    assert api.post(f"/api/v1/jobs/{jid}/timeout").json()["state"] == "stalled"
    waiting = rq.queues["mail"].put(KLASS, {})
    assert api.post(f"/api/v1/jobs/{waiting}/timeout").status_code == 400


def test_forget_a_worker(api: TestClient, rq: reqless.Client) -> None:
    rq.queues["mail"].pop()
    assert [w.name for w in rq.workers.counts] == ["test-worker"]
    api.post("/api/v1/workers/test-worker/forget")
    assert rq.workers.counts == []


def test_set_release_and_delete_a_throttle(api: TestClient, rq: reqless.Client) -> None:
    q = rq.queues["mail"]
    holder = q.put(KLASS, {}, throttles=["smtp"])
    waiter = q.put(KLASS, {}, throttles=["smtp"])
    set_ = api.post("/api/v1/throttles/smtp", json={"maximum": 1, "expiration": 3600}).json()
    assert set_["maximum"] == 1
    assert 0 < set_["ttl"] <= 3600
    popped = {j.jid for j in q.pop(2)}
    assert popped <= {holder, waiter} and len(popped) == 1
    (held,) = popped
    api.post("/api/v1/throttles/smtp/release", json={"jids": [held]})
    assert rq.throttles["smtp"].locks() == []
    api.delete("/api/v1/throttles/smtp")
    assert rq.throttles["smtp"].maximum == 0


def test_update_and_cancel_a_recurring_job(api: TestClient, rq: reqless.Client) -> None:
    jid = rq.queues["mail"].recur(KLASS, {"a": 1}, interval=60)
    updated = api.post(
        f"/api/v1/recurring/{jid}",
        json={"interval": 120, "priority": 3, "retries": 2, "backlog": 1, "data": '{"a": 2}'},
    ).json()
    assert (updated["interval"], updated["priority"], updated["retries"]) == (120, 3, 2)
    assert (updated["backlog"], json.loads(updated["data"])) == (1, {"a": 2})
    as_value = api.post(f"/api/v1/recurring/{jid}", json={"data": {"b": [1]}}).json()
    assert json.loads(as_value["data"]) == {"b": [1]}
    api.post(f"/api/v1/recurring/{jid}/cancel")
    assert rq.jobs[jid] is None


def test_recurring_updates_are_validated(api: TestClient, rq: reqless.Client) -> None:
    jid = rq.queues["mail"].recur(KLASS, {}, interval=60)
    for body in ({"interval": 0}, {"retries": -1}, {"data": "not json"}, {"colour": 1}, {}):
        assert api.post(f"/api/v1/recurring/{jid}", json=body).status_code == 400
    assert api.post("/api/v1/recurring/nope", json={"priority": 1}).status_code == 404


def test_replace_the_queue_patterns(api: TestClient, rq: reqless.Client) -> None:
    response = api.put(
        "/api/v1/patterns",
        json={
            "identifiers": {"mail": ["mail-*"]},
            "priorities": [{"pattern": ["mail-urgent"], "fairly": True}],
        },
    ).json()
    assert response["identifiers"] == {"default": ["*"], "mail": ["mail-*"]}
    assert response["priorities"][0] == {"pattern": ["mail-urgent"], "fairly": True}
    assert rq.queue_patterns.identifiers == {"default": ["*"], "mail": ["mail-*"]}
    assert api.put("/api/v1/patterns", json={"priorities": [{"fairly": True}]}).status_code == 400


def test_set_and_unset_a_config_option(api: TestClient, rq: reqless.Client) -> None:
    assert api.put("/api/v1/config/heartbeat", json={"value": 30}).json() == {
        "key": "heartbeat",
        "value": "30",
    }
    assert rq.config["heartbeat"] == 30
    assert api.delete("/api/v1/config/heartbeat").json()["value"] == "60"
    assert api.put("/api/v1/config/heartbeat", json={"value": None}).status_code == 400
