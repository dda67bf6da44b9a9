"""Running jobs with the process strategy, end to end on a real server.

Each test starts the real CLI in its own processes and reads the outcome back
from the server (and from the lines the test jobs append to a file).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import reqless
from tests.conftest import Server
from tests.worker.conftest import StartWorker, wait_until
from tests.worker.jobs_for_tests import read_log

JOBS = "tests.worker.jobs_for_tests"


def test_a_worker_completes_the_jobs_of_its_queue(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jids = [client.queues["q"].put(f"{JOBS}.Record", {"log": str(log), "n": n}) for n in range(5)]
    worker = start_worker(server.url, "-q", "q", "-w", "2", "--max-jobs", "5")
    assert worker.wait() == 0, worker.output()
    assert sorted(line["jid"] for line in read_log(log)) == sorted(jids)
    assert {job.state for job in client.jobs.get(*jids)} == {"complete"}


def test_the_method_named_after_the_queue_runs_before_process(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    client.queues["alpha"].put(f"{JOBS}.PerQueue", {"log": str(log)})
    client.queues["beta"].put(f"{JOBS}.PerQueue", {"log": str(log)})
    worker = start_worker(server.url, "-q", "alpha", "-q", "beta", "-w", "1", "--max-jobs", "2")
    assert worker.wait() == 0, worker.output()
    assert sorted((line["queue"], line["event"]) for line in read_log(log)) == [
        ("alpha", "alpha"),
        ("beta", "process"),
    ]


def test_an_exception_fails_the_job_with_queue_and_exception_type_as_group(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    jid = client.queues["q"].put(f"{JOBS}.Failing", {"log": str(tmp_path / "jobs.log")})
    worker = start_worker(server.url, "-q", "q", "-w", "1", "--max-jobs", "1")
    assert worker.wait() == 0, worker.output()
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job) and job.state == "failed"
    assert job.failure is not None
    assert job.failure.group == "q-ValueError"
    assert "Traceback" in job.failure.message and "the job's own bug" in job.failure.message


def test_a_class_that_cannot_be_imported_fails_its_job_and_the_worker_goes_on(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    missing = client.queues["q"].put("no_such_module.Job", {})
    no_method = client.queues["q"].put(f"{JOBS}.NoMethod", {})
    fine = client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)})
    worker = start_worker(server.url, "-q", "q", "-w", "1", "--max-jobs", "3")
    assert worker.wait() == 0, worker.output()
    failures = {job.jid: job.failure for job in client.jobs.get(missing, no_method)}
    import_failure, method_failure = failures[missing], failures[no_method]
    assert import_failure is not None and import_failure.group == "q-ModuleNotFoundError"
    assert "no_such_module" in import_failure.message
    assert method_failure is not None and method_failure.group == "q-method-missing"
    assert [line["jid"] for line in read_log(log)] == [fine]


def test_a_method_that_returns_without_finishing_its_job_has_it_completed(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    jid = client.queues["q"].put(f"{JOBS}.Record", {"log": str(tmp_path / "jobs.log")})
    worker = start_worker(server.url, "-q", "q", "-w", "1", "--max-jobs", "1")
    assert worker.wait() == 0, worker.output()
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    assert job.state == "complete"
    assert [entry["what"] for entry in job.history] == ["put", "popped", "done"]


def test_a_job_that_finished_itself_is_left_as_its_method_left_it(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    completed = client.queues["q"].put(f"{JOBS}.SelfCompleting", {"log": str(log)})
    moved = client.queues["q"].put(f"{JOBS}.Mover", {"log": str(log), "to": "elsewhere"})
    retried = client.queues["q"].put(f"{JOBS}.SelfRetrying", {"log": str(log)})
    worker = start_worker(server.url, "-q", "q", "-w", "1", "--max-jobs", "3")
    assert worker.wait() == 0, worker.output()
    jobs = {job.jid: job for job in client.jobs.get(completed, moved, retried)}
    # Completed once: a second complete would have failed and been logged as a lost lock.
    assert [e["what"] for e in jobs[completed].history] == ["put", "popped", "done"]
    assert (jobs[moved].state, jobs[moved].queue_name) == ("waiting", "elsewhere")
    assert (jobs[retried].state, jobs[retried].remaining) == ("scheduled", 4)
    assert "lost the lock" not in worker.output()


def test_an_async_method_runs_to_the_end(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jid = client.queues["q"].put(f"{JOBS}.AsyncJob", {"log": str(log)})
    worker = start_worker(server.url, "-q", "q", "-w", "1", "--max-jobs", "1")
    assert worker.wait() == 0, worker.output()
    assert [line["event"] for line in read_log(log)] == ["async-ran"]
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job) and job.state == "complete"


def test_an_idle_worker_starts_a_new_job_at_once_not_after_its_poll_interval(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    worker = start_worker(server.url, "-q", "q", "-w", "1", "-i", "30")
    # Idle: it has popped (and so registered) and found nothing.
    wait_until(lambda: any(w.name.endswith("-0") for w in client.workers.counts), timeout=15)
    time.sleep(0.5)
    delays: list[float] = []
    for n in range(1, 6):
        put_at = time.time()
        client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)})
        wait_until(lambda n=n: len(read_log(log)) >= n, timeout=5, interval=0.005)  # type: ignore[misc]
        delays.append(read_log(log)[-1]["time"] - put_at)
    # Polling every 30 s could not start five jobs in 5 s; wake-up does it in milliseconds.
    assert max(delays) < 0.5, (delays, worker.output())


def test_jobs_in_queues_matching_a_glob_are_run(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    client.queues["mail-eu"].put(f"{JOBS}.Record", {"log": str(log)})
    client.queues["mail-us"].put(f"{JOBS}.Record", {"log": str(log)})
    skipped = client.queues["mail-test"].put(f"{JOBS}.Record", {"log": str(log)})
    worker = start_worker(
        server.url, "-q", "mail-*", "-q", "!mail-test", "-w", "1", "--max-jobs", "2"
    )
    assert worker.wait() == 0, worker.output()
    assert sorted(line["queue"] for line in read_log(log)) == ["mail-eu", "mail-us"]
    job = client.jobs[skipped]
    assert isinstance(job, reqless.Job) and job.state == "waiting"


def test_short_jobs_popped_in_batches_each_run_and_complete_exactly_once(
    server: Server, client: reqless.Client, start_worker: StartWorker
) -> None:
    queue = client.queues["q"]
    jids = queue.put_many([(f"{JOBS}.Noop", {})] * 400)
    worker = start_worker(server.url, "-q", "q", "-w", "2", "--max-jobs", "400")
    assert worker.wait(60) == 0, worker.output()
    jobs = client.jobs.get(*jids)
    assert {job.state for job in jobs} == {"complete"}
    assert {sum(e["what"] == "popped" for e in job.history) for job in jobs} == {1}


def test_term_while_draining_a_deep_queue_leaves_no_job_running(
    server: Server, client: reqless.Client, start_worker: StartWorker
) -> None:
    queue = client.queues["q"]
    jids = queue.put_many([(f"{JOBS}.Noop", {})] * 3000)
    worker = start_worker(server.url, "-q", "q", "-w", "2")
    wait_until(lambda: queue.counts.waiting < 2500, timeout=30)
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output()
    jobs = client.jobs.get(*jids)
    # Every job popped was either run and completed, or given back: none is stranded.
    assert {job.state for job in jobs} <= {"complete", "waiting"}
    assert queue.counts.running == 0
    assert all(sum(e["what"] == "done" for e in job.history) <= 1 for job in jobs)


def test_short_jobs_are_reported_while_a_long_job_popped_with_them_still_runs(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    queue = client.queues["q"]
    log = tmp_path / "jobs.log"
    short = queue.put_many([{"klass": f"{JOBS}.Noop", "priority": 1}] * 60)
    slow = queue.put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 30})
    worker = start_worker(server.url, "-q", "q", "-w", "1")
    wait_until(lambda: any(line["event"] == "started" for line in read_log(log)), timeout=20)
    # Whatever batch the slow job came in, the jobs before it are reported now.
    wait_until(lambda: {job.state for job in client.jobs.get(*short)} == {"complete"}, timeout=5)
    sleeper = client.jobs[slow]
    assert isinstance(sleeper, reqless.Job) and sleeper.state == "running"
    worker.signal(signal.SIGINT)
    assert worker.wait() == 0, worker.output()
