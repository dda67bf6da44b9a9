"""Prometheus metrics and the health probes."""

from __future__ import annotations

import re
import socket

from starlette.testclient import TestClient

import reqless
from reqless_web import create_app
from tests.web.api.conftest import KLASS, OpenApi, fail_jobs


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in an exposition, found by name and exact labels."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name + (f"{{{wanted}}}" if labels else "")) + r" (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"no sample {name} {labels} in:\n{text}"
    return float(match.group(1))


def test_metrics_count_jobs_by_queue_and_state(api: TestClient, rq: reqless.Client) -> None:
    q = rq.queues["mail"]
    q.put_many([(KLASS, {}) for _ in range(3)])
    q.put(KLASS, {}, delay=600)
    q.pop()
    q.pause()
    response = api.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert "# TYPE reqless_queue_jobs gauge" in text
    assert sample(text, "reqless_queue_jobs", queue="mail", state="waiting") == 2
    assert sample(text, "reqless_queue_jobs", queue="mail", state="running") == 1
    assert sample(text, "reqless_queue_jobs", queue="mail", state="scheduled") == 1
    assert sample(text, "reqless_queue_paused", queue="mail") == 1


def test_metrics_count_failures_and_workers(api: TestClient, rq: reqless.Client) -> None:
    fail_jobs(rq, "mail", 2, group="smtp")
    rq.queues["mail"].put(KLASS, {})
    rq.queues["mail"].pop()
    text = api.get("/metrics").text
    assert sample(text, "reqless_failed_jobs", group="smtp") == 2
    assert sample(text, "reqless_workers") == 1
    assert sample(text, "reqless_worker_jobs", worker="test-worker", kind="jobs") == 1
    assert sample(text, "reqless_queue_failures_today", queue="mail") == 2


def test_metrics_summarise_todays_wait_and_run_times(api: TestClient, rq: reqless.Client) -> None:
    q = rq.queues["mail"]
    q.put_many([(KLASS, {}) for _ in range(2)])
    for job in q.pop(2):
        job.complete()
    text = api.get("/metrics").text
    assert "# TYPE reqless_queue_wait_seconds summary" in text
    assert sample(text, "reqless_queue_wait_seconds_count", queue="mail") == 2
    assert sample(text, "reqless_queue_run_seconds_count", queue="mail") == 2
    assert sample(text, "reqless_queue_wait_seconds_sum", queue="mail") >= 0


def test_label_values_are_escaped(api: TestClient, rq: reqless.Client) -> None:
    rq.queues['say "hi"\\now'].put(KLASS, {})
    text = api.get("/metrics").text
    assert sample(text, "reqless_queue_jobs", queue='say \\"hi\\"\\\\now', state="waiting") == 1


def test_healthz_answers_while_the_process_runs(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}


def test_readyz_answers_when_the_server_is_reachable(api: TestClient) -> None:
    assert api.get("/readyz").json() == {"status": "ready"}


def test_readyz_and_the_api_answer_503_when_the_server_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    app = create_app(f"redis://127.0.0.1:{port}/0", auth="none")
    with TestClient(app, base_url="http://127.0.0.1") as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "unreachable" in ready.json()["error"]
        assert client.get("/api/v1/queues").status_code == 503
        assert client.get("/metrics").status_code == 503
        assert client.get("/healthz").status_code == 200


def test_metrics_need_authentication_when_it_is_configured(open_api: OpenApi) -> None:
    client = open_api(auth="basic", users="prom:scrape:viewer")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", auth=("prom", "scrape")).status_code == 200
