"""An idle worker waits on the server: its pop is woken by the put, for every strategy.

Each child of an idle worker keeps a ``BZPOPMIN`` on the wake keys of its
queues in flight, with its pop pipelined behind it; a put through our client
writes the wake key and so starts the job with no poll. Puts from clients that
write no wake key are caught by the ``ql:log`` fallback. Every worker here
polls only every 60 s, so a job that runs within the test's hang guard was
woken, not polled.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import redis

import reqless
from tests.conftest import Server
from tests.worker.conftest import StartWorker, Worker, get_job, wait_until
from tests.worker.jobs_for_tests import events, read_log

JOBS = "tests.worker.jobs_for_tests"
STRATEGIES = ["process", "gevent", "trio", "asyncio"]
# Far beyond every wait_until() here: a job that runs was woken, not polled.
NEVER = "60"


def blocked_children(server: Server) -> list[dict[str, str]]:
    """The server's clients blocked in a BZPOPMIN (a waiting pop)."""
    bare = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        return [c for c in bare.client_list() if c["cmd"] == "bzpopmin" and "b" in c["flags"]]
    finally:
        bare.close()


def start_idle(
    server: Server, start_worker: StartWorker, strategy: str, *flags: str, children: int = 1
) -> Worker:
    worker = start_worker(
        server.url, "--strategy", strategy, "-w", str(children), "-i", NEVER, *flags
    )
    wait_until(lambda: len(blocked_children(server)) >= children, timeout=30)
    return worker


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(
    ("serves", "into"),
    [(("q",), "q"), (("first", "second"), "second")],
    ids=["its-queue", "a-later-queue"],
)
def test_an_idle_child_waits_on_the_server_and_a_put_starts_its_job(
    server: Server,
    client: reqless.Client,
    start_worker: StartWorker,
    tmp_path: Path,
    strategy: str,
    serves: tuple[str, ...],
    into: str,
) -> None:
    log = tmp_path / "jobs.log"
    start_idle(server, start_worker, strategy, *(f"-q{queue}" for queue in serves))
    for n in range(1, 4):
        jid = client.queues[into].put(f"{JOBS}.Record", {"log": str(log)})
        wait_until(lambda n=n: len(read_log(log)) >= n, timeout=10)  # type: ignore[misc]
        assert read_log(log)[-1]["jid"] == jid
        wait_until(lambda jid=jid: get_job(client, jid).state == "complete")  # type: ignore[misc]
    # Idle again, and waiting on the server again.
    wait_until(lambda: len(blocked_children(server)) == 1)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_put_by_a_client_that_writes_no_wake_key_still_wakes_the_child(
    server: Server, start_worker: StartWorker, tmp_path: Path, strategy: str
) -> None:
    log = tmp_path / "jobs.log"
    start_idle(server, start_worker, strategy, "-q", "q")
    # Like a Ruby worker or the original client: only the core's put event on ql:log.
    with reqless.Client(server.url, wake_workers=False) as other:
        jid = other.queues["q"].put(f"{JOBS}.Record", {"log": str(log)})
        wait_until(lambda: len(read_log(log)) == 1, timeout=10)
        assert read_log(log)[0]["jid"] == jid
        assert not other._driver.execute_command("KEYS", "reqless:wake:*")


@pytest.mark.parametrize("strategy", ["gevent", "trio", "asyncio"])
def test_a_free_slot_waits_on_the_server_while_another_slot_runs_its_job(
    server: Server,
    client: reqless.Client,
    start_worker: StartWorker,
    tmp_path: Path,
    strategy: str,
) -> None:
    log = tmp_path / "jobs.log"
    start_idle(server, start_worker, strategy, "-q", "q", "-c", "2")
    client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 1})
    wait_until(lambda: events(log, "started"), timeout=10)
    wait_until(lambda: len(blocked_children(server)) == 1)
    # The wait (60 s) blocks neither the hub nor trio's loop: the running job ends meanwhile.
    wait_until(lambda: events(log, "finished"), timeout=10)
    # The slot freed ends the wait (to wait for two jobs); the child waits again.
    wait_until(lambda: len(blocked_children(server)) == 1)
    short = client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)})
    wait_until(lambda: events(log, "ran"), timeout=10)
    assert [line["jid"] for line in events(log, "ran")] == [short]


@pytest.mark.parametrize("wake_workers", [True, False], ids=["wake-key", "ql:log-advanced"])
def test_a_job_completed_into_the_childs_queue_starts_at_once(
    server: Server, start_worker: StartWorker, tmp_path: Path, wake_workers: bool
) -> None:
    log = tmp_path / "jobs.log"
    start_idle(server, start_worker, "process", "-q", "next")
    with reqless.Client(server.url, worker_name="upstream", wake_workers=wake_workers) as other:
        other.queues["first"].put(f"{JOBS}.Record", {"log": str(log)})
        job = other.queues["first"].pop()
        assert job is not None
        job.complete("next")
        wait_until(lambda: len(read_log(log)) == 1, timeout=10)
        assert read_log(log)[0]["jid"] == job.jid


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_cuts_the_wait_on_the_server_short(
    server: Server, start_worker: StartWorker, strategy: str, signum: int
) -> None:
    worker = start_idle(server, start_worker, strategy, "-q", "q")
    worker.signal(signum)
    # The wait would last 60 s if the signal did not cut it short.
    assert worker.wait(timeout=15) == 0, worker.output()
    assert not blocked_children(server)


def test_a_job_budget_is_kept_while_children_wait(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    worker = start_idle(server, start_worker, "process", "-q", "q", "--max-jobs", "3", children=2)
    jids = []
    for n in range(1, 4):
        jids.append(client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)}))
        wait_until(lambda n=n: len(read_log(log)) >= n, timeout=10)  # type: ignore[misc]
    # Each child held a claim on the budget while it waited; none is left over.
    assert worker.wait(timeout=15) == 0, worker.output()
    assert sorted(line["jid"] for line in read_log(log)) == sorted(jids)
