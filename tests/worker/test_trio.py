"""What only the trio strategy does, end to end on a real server: ``async def`` natively.

An async job method runs in its job's own trio task, and its exception fails
the job. What every strategy must do, trio included, is in
test_every_strategy.py, which also gives trio's slots the async jobs below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import reqless
from tests.conftest import Server
from tests.worker.conftest import StartWorker, get_job
from tests.worker.jobs_for_tests import events, record

trio = pytest.importorskip("trio")

JOBS = "tests.worker.jobs_for_tests"
# The trio-only job classes below: a worker imports them from this module
# (test_every_strategy.py too, by this name).
HERE = "tests.worker.test_trio"
TRIO = ("--strategy", "trio", "-w", "1")


class AsyncSleepy:
    """``async def``, sleeping on trio's clock: it only works inside the trio loop."""

    @staticmethod
    async def process(job: Any) -> None:
        record(job, "started")
        await trio.sleep(job.payload.get("seconds", 1))
        record(job, "finished")


class InTrioTask:
    """Reports the trio task it runs in."""

    @staticmethod
    async def process(job: Any) -> None:
        await trio.sleep(0)
        record(job, "task", name=trio.lowlevel.current_task().name)


def test_an_async_method_runs_natively_in_its_jobs_trio_task(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{HERE}.InTrioTask", {"log": str(log)})
    worker = start_worker(server.url, "-q", "q", *TRIO, "-c", "2", "--max-jobs", "1")
    assert worker.wait(30) == 0, worker.output()
    assert [line["name"] for line in events(log, "task")] == [f"job {jid}"]
    assert get_job(client, jid).state == "complete"


def test_an_async_method_that_raises_fails_its_job_with_the_exception_type(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    # No "log" key: AsyncSleepy's record() raises KeyError inside the trio loop.
    jid = client.queues["q"].put(f"{HERE}.AsyncSleepy", {"seconds": 0})
    worker = start_worker(server.url, "-q", "q", *TRIO, "-c", "2", "--max-jobs", "1")
    assert worker.wait(30) == 0, worker.output()
    failure = get_job(client, jid).failure
    assert failure is not None and failure.group == "q-KeyError"
    assert "KeyError" in failure.message
