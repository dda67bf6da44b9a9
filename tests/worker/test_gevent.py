"""The gevent strategy end to end: greenlets in real worker processes, on a real server."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

import reqless
from tests.conftest import Server
from tests.worker.conftest import RestartableServer, StartWorker, wait_until
from tests.worker.jobs_for_tests import read_log, record

pytest.importorskip("gevent")

JOBS = "tests.worker.jobs_for_tests"
# The gevent-only job class below: a worker imports it from this module.
HERE = "tests.worker.test_gevent"
GEVENT = ("--strategy", "gevent", "-w", "1")


class PatchReport:
    """Reports which standard modules gevent has patched in the process running it."""

    @staticmethod
    def process(job: Any) -> None:
        from gevent import monkey  # type: ignore[import-untyped]

        modules = ("socket", "ssl", "threading", "time", "select")
        record(job, "patched", modules=[name for name in modules if monkey.is_module_patched(name)])


def events(log: Path, name: str) -> list[dict[str, Any]]:
    return [line for line in read_log(log) if line["event"] == name]


def get_job(client: reqless.Client, jid: str) -> reqless.Job:
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    return job


def test_one_child_runs_as_many_jobs_at_once_as_it_has_greenlets(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jids = [
        client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 1}) for _ in range(4)
    ]
    worker = start_worker(server.url, "-q", "q", *GEVENT, "-c", "4", "--max-jobs", "4")
    assert worker.wait(30) == 0, worker.output()
    started, finished = events(log, "started"), events(log, "finished")
    assert sorted(line["jid"] for line in finished) == sorted(jids)
    assert len({line["pid"] for line in started}) == 1
    # Concurrent, not serial: every job started before the first one finished.
    assert max(line["time"] for line in started) < min(line["time"] for line in finished)
    assert {get_job(client, jid).state for jid in jids} == {"complete"}


def test_the_standard_library_is_patched_before_the_client_or_job_code_is_imported(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{HERE}.PatchReport", {"log": str(log)})
    worker = start_worker(server.url, "-q", "q", *GEVENT, "--max-jobs", "1")
    assert worker.wait(30) == 0, worker.output()
    assert [line["modules"] for line in events(log, "patched")] == [
        ["socket", "ssl", "threading", "time", "select"]
    ]
    assert get_job(client, jid).state == "complete"
    # gevent warns when it patches a module that something imported first.
    assert "MonkeyPatchWarning" not in worker.output()


def test_a_job_whose_child_was_killed_is_reclaimed_and_completed_once_by_another_worker(
    server: Server, short_leases: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    client, log = short_leases, tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 1})
    first = start_worker(server.url, "-q", "q", *GEVENT, "-c", "2", "-n", "first")
    wait_until(lambda: events(log, "started"), timeout=15)
    os.kill(first.children()[0], signal.SIGKILL)
    first.kill_group()
    second = start_worker(
        server.url, "-q", "q", *GEVENT, "-c", "2", "-n", "second", "--max-jobs", "1"
    )
    assert second.wait(30) == 0, second.output()
    assert [line["worker"] for line in events(log, "started")] == ["first-0", "second-0"]
    assert [line["worker"] for line in events(log, "finished")] == ["second-0"]
    job = get_job(client, jid)
    assert job.state == "complete"
    assert [e["what"] for e in job.history].count("done") == 1


def test_term_lets_running_jobs_finish_takes_no_new_one_and_exits_0(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    running = [
        client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 1.5})
        for _ in range(2)
    ]
    worker = start_worker(server.url, "-q", "q", *GEVENT, "-c", "2")
    wait_until(lambda: len(events(log, "started")) == 2, timeout=15)
    waiting = client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 0})
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0, worker.output()
    assert sorted(line["jid"] for line in events(log, "finished")) == sorted(running)
    assert {get_job(client, jid).state for jid in running} == {"complete"}
    assert get_job(client, waiting).state == "waiting"


def test_int_stops_running_greenlets_at_once_and_gives_their_jobs_back(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jids = [
        client.queues["q"].put(f"{JOBS}.Swallower", {"log": str(log), "seconds": 30})
        for _ in range(2)
    ]
    worker = start_worker(server.url, "-q", "q", *GEVENT, "-c", "2")
    wait_until(lambda: len(events(log, "started")) == 2, timeout=15)
    started = time.monotonic()
    worker.signal(signal.SIGINT)
    assert worker.wait(15) == 0, worker.output()
    assert time.monotonic() - started < 5
    # Given back, not lost: waiting again with one retry spent, and never finished.
    assert {(get_job(client, jid).state, get_job(client, jid).remaining) for jid in jids} == {
        ("waiting", 4)
    }
    assert not events(log, "finished") and not events(log, "swallowed")


@pytest.mark.parametrize("how", ["moved", "cancelled"])
def test_a_lost_lock_kills_only_that_jobs_greenlet_and_frees_its_slot(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path, how: str
) -> None:
    log = tmp_path / "jobs.log"
    doomed = client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 30})
    worker = start_worker(server.url, "-q", "q", *GEVENT, "-c", "1")
    wait_until(lambda: events(log, "started"), timeout=15)
    (child,) = worker.children()
    if how == "moved":
        get_job(client, doomed).requeue("elsewhere")
    else:
        get_job(client, doomed).cancel()
    # The only greenlet is free again long before the doomed job would have ended.
    after = client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)})
    wait_until(lambda: events(log, "ran"), timeout=20)
    assert get_job(client, after).state == "complete"
    time.sleep(0.5)
    assert not events(log, "finished")
    assert worker.children() == [child], "the child itself keeps running"
    assert "no longer ours" in worker.output()


def test_heartbeats_keep_a_job_longer_than_its_lease(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    client.config["heartbeat"] = 1
    client.config["grace-period"] = 0
    log = tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 3.5})
    worker = start_worker(server.url, "-q", "q", *GEVENT, "-c", "2", "--max-jobs", "1")
    wait_until(lambda: events(log, "started"), timeout=15)
    # Another worker keeps trying to take it: it would succeed as soon as a lease lapsed.
    with reqless.Client(server.url, worker_name="thief") as thief:
        while worker.process.poll() is None:
            assert thief.queues["q"].pop() is None
            time.sleep(0.1)
    assert worker.wait() == 0, worker.output()
    job = get_job(client, jid)
    assert job.state == "complete"
    assert [e["what"] for e in job.history] == ["put", "popped", "done"]


def test_each_greenlet_has_its_own_sandbox_emptied_before_and_removed_after_each_job(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log, workdir = tmp_path / "jobs.log", tmp_path / "work"
    for _ in range(4):
        client.queues["q"].put(f"{JOBS}.SandboxUser", {"log": str(log)})
    worker = start_worker(
        server.url, "-q", "q", *GEVENT, "-c", "2", "-d", str(workdir), "--max-jobs", "4"
    )
    assert worker.wait() == 0, worker.output()
    child = workdir / "reqless-py-workers" / "sandbox-0"
    greenlets = {str(child / "greenlet-0"), str(child / "greenlet-1")}
    seen = events(log, "sandbox")
    assert len(seen) == 4
    # Both greenlets' sandboxes were used; each job found its own existing and empty.
    assert {line["path"] for line in seen} == greenlets
    assert all(line["existed"] and line["contents"] == [] for line in seen)
    assert not any(Path(path).exists() for path in greenlets)


def test_a_job_class_that_cannot_be_imported_fails_its_job_and_the_greenlets_go_on(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    broken = client.queues["q"].put("tests.worker.no_such_module.Job", {})
    fine = client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)}, priority=-1)
    worker = start_worker(server.url, "-q", "q", *GEVENT, "-c", "2", "--max-jobs", "2")
    assert worker.wait() == 0, worker.output()
    failure = get_job(client, broken).failure
    assert failure is not None and failure.group == "q-ModuleNotFoundError"
    assert get_job(client, fine).state == "complete"


def test_resume_first_runs_the_jobs_this_worker_name_still_holds(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jids = [client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)}) for _ in range(3)]
    # A previous run of worker "box" popped them as its child 0, then died.
    with reqless.Client(server.url, worker_name="box-0") as previous:
        assert sorted(job.jid for job in previous.queues["q"].pop(3)) == sorted(jids)
    worker = start_worker(
        server.url, "-q", "q", *GEVENT, "-c", "2", "-n", "box", "-r", "--max-jobs", "3"
    )
    assert worker.wait() == 0, worker.output()
    assert sorted((line["jid"], line["worker"]) for line in read_log(log)) == sorted(
        (jid, "box-0") for jid in jids
    )
    assert {get_job(client, jid).state for jid in jids} == {"complete"}


def test_the_worker_carries_on_after_the_server_restarts(
    restartable_server: RestartableServer, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    url = restartable_server.url
    worker = start_worker(url, "-q", "q", *GEVENT, "-c", "2", "-i", "0.2")
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
