"""What only the asyncio strategy does, end to end on a real server.

``async def`` methods run on the child's event loop (asyncio libraries work in
them, the asyncio reqless client included); synchronous ones run in a pool
thread, never on the loop; a lost lock cancels an async job's task and its
``finally`` blocks run; a job that blocks the loop is logged with its jid;
SIGUSR1 shows every task; ``--loop uvloop`` without uvloop is refused. What
every strategy must do, asyncio included, is in test_every_strategy.py, which
also gives asyncio's slots the async jobs below.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import reqless
import reqless.aio
from reqless_worker._cli import main as cli_main
from tests.conftest import Server
from tests.worker.conftest import StartWorker, get_job, wait_until
from tests.worker.jobs_for_tests import events, record

# The job classes below: a worker imports them from this module (test_every_strategy.py too).
HERE = "tests.worker.test_asyncio"
ASYNCIO = ("--strategy", "asyncio", "-w", "1")


class AsyncSleepy:
    """``async def``, sleeping on the running loop; records its ``finally`` too."""

    @staticmethod
    async def process(job: Any) -> None:
        record(job, "started")
        try:
            await asyncio.sleep(job.payload.get("seconds", 1))
            record(job, "finished")
        finally:
            record(job, "finally")


class WhereAmI:
    """Reports where it runs: the task and loop for async, the thread for sync."""

    @staticmethod
    async def process(job: Any) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        record(
            job,
            "async",
            task=None if task is None else task.get_name(),
            loop_thread=threading.current_thread() is threading.main_thread(),
            loop_running=loop.is_running(),
            loop_module=type(loop).__module__,
        )

    @staticmethod
    def sync(job: Any) -> None:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        record(
            job,
            "sync",
            on_loop=on_loop,
            main_thread=threading.current_thread() is threading.main_thread(),
        )


class UsesAsyncClient:
    """An asyncio library inside a job: the asyncio reqless client reads this very job."""

    @staticmethod
    async def process(job: Any) -> None:
        async with reqless.aio.Client(job.payload["url"]) as client:
            found = await client.jobs[job.jid]
            other = await client.queues["other"].put(f"{HERE}.WhereAmI", {"log": "/dev/null"})
        assert isinstance(found, reqless.aio.Job)
        record(job, "seen", state=found.state, worker=found.worker_name, other=other)


class BlocksTheLoop:
    """Holds the event loop with a blocking call in an ``async def`` method."""

    @staticmethod
    async def process(job: Any) -> None:
        record(job, "started")
        time.sleep(job.payload.get("seconds", 1.6))  # blocking: the watchdog's case
        record(job, "finished")


class SyncBeside:
    """A synchronous job that keeps working while another job sleeps on the loop."""

    @staticmethod
    def process(job: Any) -> None:
        for _ in range(3):
            record(job, "tick")
            time.sleep(0.05)


def test_async_methods_run_on_the_loop_and_sync_ones_in_a_thread(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    async_jid = client.queues["q"].put(f"{HERE}.WhereAmI", {"log": str(log)})
    sync_jid = client.queues["sync"].put(f"{HERE}.WhereAmI", {"log": str(log)})
    worker = start_worker(
        server.url, "-q", "q", "-q", "sync", *ASYNCIO, "-c", "2", "--max-jobs", "2"
    )
    assert worker.wait(30) == 0, worker.output()
    [ran_async] = events(log, "async")
    [ran_sync] = events(log, "sync")
    assert ran_async["loop_running"] and ran_async["loop_thread"]
    assert ran_async["task"] is not None
    assert ran_sync["on_loop"] is False and ran_sync["main_thread"] is False
    assert {get_job(client, jid).state for jid in (async_jid, sync_jid)} == {"complete"}


def test_a_job_can_use_the_asyncio_client_on_the_running_loop(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{HERE}.UsesAsyncClient", {"log": str(log), "url": server.url})
    worker = start_worker(server.url, "-q", "q", *ASYNCIO, "--max-jobs", "1")
    assert worker.wait(30) == 0, worker.output()
    [seen] = events(log, "seen")
    assert (seen["state"], seen["worker"]) == ("running", seen["worker"])
    assert seen["worker"].endswith("-0")
    assert get_job(client, jid).state == "complete"
    assert get_job(client, seen["other"]).state == "waiting"


def test_an_async_method_that_raises_fails_its_job_with_the_exception_type(
    server: Server, client: reqless.Client, start_worker: StartWorker
) -> None:
    # No "log" key: AsyncSleepy's record() raises KeyError on the loop.
    jid = client.queues["q"].put(f"{HERE}.AsyncSleepy", {"seconds": 0})
    worker = start_worker(server.url, "-q", "q", *ASYNCIO, "--max-jobs", "1")
    assert worker.wait(30) == 0, worker.output()
    failure = get_job(client, jid).failure
    assert failure is not None and failure.group == "q-KeyError"


def test_a_lost_lock_cancels_the_async_jobs_task_and_its_finally_runs(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    doomed = client.queues["q"].put(f"{HERE}.AsyncSleepy", {"log": str(log), "seconds": 30})
    worker = start_worker(server.url, "-q", "q", *ASYNCIO, "-c", "2")
    wait_until(lambda: events(log, "started"), timeout=15)
    get_job(client, doomed).cancel()
    wait_until(lambda: events(log, "finally"), timeout=15)
    wait_until(lambda: "no longer ours" in worker.output(), timeout=5)
    assert not events(log, "finished")
    [child] = worker.children()
    # The child carries on: the next job runs in it.
    after = client.queues["q"].put(f"{HERE}.AsyncSleepy", {"log": str(log), "seconds": 0})
    wait_until(lambda: get_job(client, after).state == "complete", timeout=15)
    assert worker.children() == [child]
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0, worker.output()


def test_a_sync_job_runs_on_while_an_async_one_awaits(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    sleeper = client.queues["q"].put(f"{HERE}.AsyncSleepy", {"log": str(log), "seconds": 30})
    worker = start_worker(server.url, "-q", "q", *ASYNCIO, "-c", "2")
    wait_until(lambda: events(log, "started"), timeout=15)
    beside = client.queues["q"].put(f"{HERE}.SyncBeside", {"log": str(log)})
    wait_until(lambda: get_job(client, beside).state == "complete", timeout=15)
    assert len(events(log, "tick")) == 3
    assert get_job(client, sleeper).state == "running"
    worker.signal(signal.SIGINT)
    assert worker.wait(15) == 0, worker.output()
    # Given back, its finally run: waiting again with one retry spent.
    assert get_job(client, sleeper).state == "waiting"
    assert events(log, "finally") and not events(log, "finished")


def test_a_job_blocking_the_loop_is_logged_with_its_jid_and_stack(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{HERE}.BlocksTheLoop", {"log": str(log)})
    worker = start_worker(server.url, "-q", "q", *ASYNCIO, "--max-jobs", "1")
    assert worker.wait(30) == 0, worker.output()
    output = worker.output()
    assert f"job {jid} has blocked the event loop" in output
    assert "time.sleep(" in output  # its stack, down to the blocking call
    assert get_job(client, jid).state == "complete"


def test_usr1_logs_every_tasks_stack(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{HERE}.AsyncSleepy", {"log": str(log), "seconds": 30})
    worker = start_worker(server.url, "-q", "q", *ASYNCIO)
    wait_until(lambda: events(log, "started"), timeout=15)
    [child] = worker.children()
    os.kill(child, signal.SIGUSR1)
    wait_until(lambda: "asyncio tasks on request" in worker.output(), timeout=10)
    output = worker.output()
    assert "asyncio.sleep(" in output  # the job's own frame, inside its task
    assert f"job {jid}" in output  # the task that runs the job
    worker.signal(signal.SIGINT)
    assert worker.wait(15) == 0, worker.output()


def test_loop_uvloop_runs_the_jobs_on_uvloop(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    pytest.importorskip("uvloop")
    log = tmp_path / "jobs.log"
    jids = [client.queues["q"].put(f"{HERE}.WhereAmI", {"log": str(log)}) for _ in range(2)]
    worker = start_worker(
        server.url, "-q", "q", *ASYNCIO, "--loop", "uvloop", "-i", "0.2", "--max-jobs", "2"
    )
    assert worker.wait(30) == 0, worker.output()
    assert {line["loop_module"] for line in events(log, "async")} == {"uvloop"}
    assert {get_job(client, jid).state for jid in jids} == {"complete"}


def test_loop_uvloop_without_uvloop_is_refused_clearly(
    server: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if it were not installed: find_spec answers None for a None in sys.modules.
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert importlib.util.find_spec("uvloop") is None
    code = cli_main(["--url", server.url, "-q", "q", "--strategy", "asyncio", "--loop", "uvloop"])
    assert code == 2
    assert "uvloop" in capsys.readouterr().err


def test_concurrency_defaults_to_ten_for_the_concurrent_strategies_only() -> None:
    from reqless_worker._settings import WorkerSettings

    for name in ("gevent", "trio", "asyncio"):
        assert WorkerSettings.from_env({}, strategy=name, queues=("q",)).concurrency == 10
    assert WorkerSettings.from_env({}, queues=("q",)).concurrency == 1
    assert WorkerSettings.from_env({}, strategy="asyncio", concurrency=3).concurrency == 3
    env = {"REQLESS_CONCURRENCY": "4", "REQLESS_STRATEGY": "asyncio"}
    assert WorkerSettings.from_env(env).concurrency == 4
    assert WorkerSettings.from_env({"REQLESS_STRATEGY": "trio"}).concurrency == 10
