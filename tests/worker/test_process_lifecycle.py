"""What only the process strategy does, end to end on a real server.

A killed child is replaced, HUP replaces every child, ``--reload`` reimports a
changed module, ``--max-jobs-per-child`` recycles a child, ``--max-jobs``
counts all children's jobs, and TERM gives back a job that outlasts the drain
deadline. What every strategy must do, this one included, is in
test_every_strategy.py.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import reqless
from tests.conftest import Server
from tests.worker.conftest import StartWorker, get_job, wait_until
from tests.worker.jobs_for_tests import events, read_log

JOBS = "tests.worker.jobs_for_tests"


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
