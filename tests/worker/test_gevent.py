"""What only the gevent strategy does, end to end on a real server.

The standard library is patched before anything else is imported, and a job
that fails to import costs one greenlet's job, not the child. What every
strategy must do, gevent included, is in test_every_strategy.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import reqless
from tests.conftest import Server
from tests.worker.conftest import StartWorker, get_job
from tests.worker.jobs_for_tests import events, record

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
