"""Leases, signals, restarts and reconnection with the process strategy, on a real server."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import reqless
from tests.conftest import Server
from tests.worker.conftest import RestartableServer, StartWorker, wait_until
from tests.worker.jobs_for_tests import read_log

JOBS = "tests.worker.jobs_for_tests"


def events(log: Path, name: str) -> list[dict[str, object]]:
    return [line for line in read_log(log) if line["event"] == name]


def get_job(client: reqless.Client, jid: str) -> reqless.Job:
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    return job


def test_a_job_whose_child_was_killed_is_reclaimed_and_completed_once_by_another_worker(
    server: Server, short_leases: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    client, log = short_leases, tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 1})
    first = start_worker(server.url, "-q", "q", "-w", "1", "-n", "first")
    wait_until(lambda: events(log, "started"), timeout=15)
    # The machine dies: child first (mid-job), then its supervisor, so nothing restarts.
    os.kill(first.children()[0], signal.SIGKILL)
    first.kill_group()
    second = start_worker(server.url, "-q", "q", "-w", "1", "-n", "second", "--max-jobs", "1")
    assert second.wait(30) == 0, second.output()
    assert [line["worker"] for line in events(log, "started")] == ["first-0", "second-0"]
    assert [line["worker"] for line in events(log, "finished")] == ["second-0"]
    job = get_job(client, jid)
    assert job.state == "complete"
    assert [e["what"] for e in job.history].count("done") == 1


def test_a_killed_child_is_replaced_and_the_log_says_why(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    worker = start_worker(server.url, "-q", "q", "-w", "1")
    wait_until(lambda: worker.children(), timeout=15)
    (victim,) = worker.children()
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: worker.children() and worker.children() != [victim], timeout=15)
    wait_until(lambda: "killed by SIGKILL" in worker.output(), timeout=5)
    log = tmp_path / "jobs.log"
    client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)})
    wait_until(lambda: read_log(log), timeout=15)
    assert read_log(log)[0]["pid"] != victim


def test_term_lets_the_running_job_finish_then_exits_0(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 1.5})
    # Lower priority: both puts may share a millisecond, and ties pop in jid order.
    waiting = client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 0}, priority=-1)
    worker = start_worker(server.url, "-q", "q", "-w", "1")
    wait_until(lambda: events(log, "started"), timeout=15)
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0, worker.output()
    assert [line["jid"] for line in events(log, "finished")] == [jid]
    assert get_job(client, jid).state == "complete"
    # Draining takes no new job.
    assert get_job(client, waiting).state == "waiting"


def test_term_gives_a_job_back_when_it_outlasts_the_drain_deadline(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 30})
    worker = start_worker(server.url, "-q", "q", "-w", "1", "--drain-timeout", "0.5")
    wait_until(lambda: events(log, "started"), timeout=15)
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0, worker.output()
    job = get_job(client, jid)
    assert (job.state, job.remaining) == ("waiting", 4)
    assert not events(log, "finished")


def test_int_stops_at_once_and_gives_the_running_job_back_even_past_except_exception(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{JOBS}.Swallower", {"log": str(log), "seconds": 30})
    worker = start_worker(server.url, "-q", "q", "-w", "1")
    wait_until(lambda: events(log, "started"), timeout=15)
    started = time.monotonic()
    worker.signal(signal.SIGINT)
    assert worker.wait(15) == 0, worker.output()
    assert time.monotonic() - started < 5
    job = get_job(client, jid)
    # Given back, not lost: waiting again, one retry spent.
    assert (job.state, job.remaining) == ("waiting", 4)
    assert not events(log, "finished") and not events(log, "swallowed")


def test_a_cancelled_job_is_stopped_and_its_child_replaced(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 5})
    worker = start_worker(server.url, "-q", "q", "-w", "1")
    wait_until(lambda: events(log, "started"), timeout=15)
    (child,) = worker.children()
    get_job(client, jid).cancel()
    wait_until(lambda: worker.children() and worker.children() != [child], timeout=10)
    assert "stopped a job whose lock was lost" in worker.output()
    time.sleep(0.5)
    assert not events(log, "finished")


def test_a_job_moved_away_by_another_client_is_stopped(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 5})
    worker = start_worker(server.url, "-q", "q", "-w", "1")
    wait_until(lambda: events(log, "started"), timeout=15)
    (child,) = worker.children()
    get_job(client, jid).requeue("elsewhere")
    wait_until(lambda: worker.children() and worker.children() != [child], timeout=10)
    time.sleep(0.5)
    assert not events(log, "finished")
    assert get_job(client, jid).state == "waiting"


def test_heartbeats_keep_a_job_longer_than_its_lease(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    client.config["heartbeat"] = 1
    client.config["grace-period"] = 0
    log = tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 3.5})
    worker = start_worker(server.url, "-q", "q", "-w", "1", "--max-jobs", "1")
    wait_until(lambda: events(log, "started"), timeout=15)
    # Another worker keeps trying to take it: it would succeed as soon as a lease lapsed.
    thief = reqless.Client(server.url, worker_name="thief")
    while worker.process.poll() is None:
        assert thief.queues["q"].pop() is None
        time.sleep(0.1)
    thief.close()
    assert worker.wait() == 0, worker.output()
    job = get_job(client, jid)
    assert job.state == "complete"
    assert [e["what"] for e in job.history] == ["put", "popped", "done"]


def test_each_job_gets_an_empty_sandbox_that_is_removed_afterwards(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log, workdir = tmp_path / "jobs.log", tmp_path / "work"
    for _ in range(2):
        client.queues["q"].put(f"{JOBS}.SandboxUser", {"log": str(log)})
    worker = start_worker(server.url, "-q", "q", "-w", "1", "-d", str(workdir), "--max-jobs", "2")
    assert worker.wait() == 0, worker.output()
    sandbox = workdir / "reqless-py-workers" / "sandbox-0"
    seen = events(log, "sandbox")
    assert [(line["path"], line["existed"], line["contents"]) for line in seen] == [
        (str(sandbox), True, []),
        (str(sandbox), True, []),  # the first job's leftover was cleaned away
    ]
    assert not sandbox.exists()


def test_a_changed_job_module_is_reimported_with_reload(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    code, log = tmp_path / "code", tmp_path / "jobs.log"
    code.mkdir()
    source = (
        "from tests.worker.jobs_for_tests import record\n"
        "class Versioned:\n"
        "    @staticmethod\n"
        "    def process(job):\n"
        "        record(job, 'version', version={version!r})\n"
    )
    module = code / "versioned_job.py"
    module.write_text(source.format(version="one"))
    worker = start_worker(server.url, "-q", "q", "-w", "1", "-p", str(code), "--reload")
    client.queues["q"].put("versioned_job.Versioned", {"log": str(log)})
    wait_until(lambda: len(events(log, "version")) == 1, timeout=15)
    module.write_text(source.format(version="second"))
    client.queues["q"].put("versioned_job.Versioned", {"log": str(log)})
    wait_until(lambda: len(events(log, "version")) == 2, timeout=15)
    assert [line["version"] for line in events(log, "version")] == ["one", "second"]
    assert {line["pid"] for line in events(log, "version")} == set(worker.children())


def test_resume_first_runs_the_jobs_this_worker_name_still_holds(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)})
    # A previous run of worker "box" popped it as its child 0, then died.
    with reqless.Client(server.url, worker_name="box-0") as previous:
        popped = previous.queues["q"].pop()
        assert popped is not None and popped.jid == jid
    worker = start_worker(server.url, "-q", "q", "-w", "1", "-n", "box", "-r", "--max-jobs", "1")
    assert worker.wait() == 0, worker.output()
    assert [(line["jid"], line["worker"]) for line in read_log(log)] == [(jid, "box-0")]
    assert get_job(client, jid).state == "complete"


def test_max_jobs_per_child_replaces_the_child(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    for _ in range(4):
        client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)})
    worker = start_worker(
        server.url, "-q", "q", "-w", "1", "--max-jobs-per-child", "2", "--max-jobs", "4"
    )
    assert worker.wait() == 0, worker.output()
    pids = [line["pid"] for line in read_log(log)]
    assert len(pids) == 4
    assert pids[0] == pids[1] != pids[2] == pids[3]


def test_max_jobs_counts_the_jobs_of_all_children_together(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    for _ in range(6):
        client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)})
    worker = start_worker(server.url, "-q", "q", "-w", "2", "--max-jobs", "4")
    assert worker.wait() == 0, worker.output()
    assert len(read_log(log)) == 4
    assert client.queues["q"].counts.waiting == 2


def test_hup_replaces_every_child(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    worker = start_worker(server.url, "-q", "q", "-w", "2")
    wait_until(lambda: len(worker.children()) == 2, timeout=15)
    before = set(worker.children())
    worker.signal(signal.SIGHUP)
    wait_until(
        lambda: len(worker.children()) == 2 and not before & set(worker.children()), timeout=30
    )
    log = tmp_path / "jobs.log"
    client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)})
    wait_until(lambda: read_log(log), timeout=30)
    assert read_log(log)[0]["pid"] not in before


def test_the_worker_carries_on_after_the_server_restarts(
    restartable_server: RestartableServer, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    url = restartable_server.url
    worker = start_worker(url, "-q", "q", "-w", "1", "-i", "0.2")
    with reqless.Client(url) as client:
        client.queues["q"].put(f"{JOBS}.Record", {"log": str(log), "n": 1})
        wait_until(lambda: len(read_log(log)) == 1, timeout=15)
    # A restart loses the data and the loaded core (no persistence configured).
    restartable_server.stop()
    time.sleep(1.0)
    restartable_server.start()
    with reqless.Client(url) as client:
        jid = client.queues["q"].put(f"{JOBS}.Record", {"log": str(log), "n": 2})
        wait_until(lambda: len(read_log(log)) == 2, timeout=20)
        wait_until(lambda: get_job(client, jid).state == "complete", timeout=5)
    assert worker.process.poll() is None
    # It noticed the outage: on its pub/sub connection always, on a pop only when
    # one fell inside the second the server was down.
    assert "lost its connection" in worker.output() or "reconnected" in worker.output()
