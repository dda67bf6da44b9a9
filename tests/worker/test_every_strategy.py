"""What every strategy must show end to end (issue 4, item 9), once per strategy, on a real server.

Each test here runs for ``process`` (serial jobs in one child), ``gevent``,
``trio`` and ``asyncio`` (one child with ``-c`` greenlets or tasks); the one
about a child running several jobs at once, for the last three only. Where the strategies
differ only in detail (how many jobs one child runs at once, where its
sandboxes are, whether a lost lock costs the child), :class:`Strategy` says
so. What only one strategy does stays in its own module: test_process_lifecycle.py,
test_gevent.py, test_trio.py, test_asyncio.py.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import reqless
from tests.conftest import Server
from tests.worker.conftest import RestartableServer, StartWorker, get_job, wait_until
from tests.worker.jobs_for_tests import events, read_log

JOBS = "tests.worker.jobs_for_tests"
SLEEPY, SWALLOWER, RECORD = f"{JOBS}.Sleepy", f"{JOBS}.Swallower", f"{JOBS}.Record"
MOVES = f"{JOBS}.MovesThenLingers"


@dataclass(frozen=True)
class Strategy:
    """One strategy as these tests start it, and what they expect of it where it differs."""

    name: str
    # Greenlets or tasks per child (``-c``); None: the process strategy's one job at a time.
    concurrency: int | None
    # A lost lock kills the process strategy's child (nothing else can stop code in
    # its main thread); gevent and trio stop only the job's greenlet or task.
    lost_lock_replaces_child: bool
    lost_lock_log: str
    # trio runs ``async def`` methods natively: its tests give some slots an async job.
    async_sleeper: str | None = None

    @property
    def library(self) -> str | None:
        return None if self.name in ("process", "asyncio") else self.name

    @property
    def slots(self) -> int:
        """How many jobs the one child these tests start runs at once."""
        return self.concurrency or 1

    def flags(self, concurrency: int | None = None) -> tuple[str, ...]:
        """Flags for one child; ``concurrency`` overrides ``-c`` (which process has not)."""
        one_child = ("--strategy", self.name, "-w", "1")
        if self.concurrency is None:
            return one_child
        return (*one_child, "-c", str(concurrency or self.concurrency))

    def sleeper(self) -> str:
        """The class of a job that sleeps while the worker does something to it."""
        return self.async_sleeper or SLEEPY

    def one_job_per_slot(self, sync_klass: str, slots: int | None = None) -> list[str]:
        """Classes of jobs that fill every slot: on trio, every other one is async."""
        alternate = self.async_sleeper or sync_klass
        return [sync_klass if i % 2 == 0 else alternate for i in range(slots or self.slots)]

    def jobs_a_lost_lock_stops(self) -> list[str]:
        """A sync job that catches every Exception, and on trio a native async one."""
        return [*([self.async_sleeper] if self.async_sleeper else []), SWALLOWER]

    def sandboxes(self, workdir: Path) -> set[Path]:
        """``<workdir>/reqless-py-workers/sandbox-0[/greenlet-<m>]`` of child 0."""
        child = workdir / "reqless-py-workers" / "sandbox-0"
        if self.concurrency is None:
            return {child}
        return {child / f"greenlet-{m}" for m in range(self.concurrency)}


STRATEGIES = [
    Strategy(
        "process",
        concurrency=None,
        lost_lock_replaces_child=True,
        lost_lock_log="stopped a job whose lock was lost",
    ),
    Strategy(
        "gevent", concurrency=2, lost_lock_replaces_child=False, lost_lock_log="no longer ours"
    ),
    Strategy(
        "trio",
        concurrency=2,
        lost_lock_replaces_child=False,
        lost_lock_log="no longer ours",
        async_sleeper="tests.worker.test_trio.AsyncSleepy",
    ),
    Strategy(
        "asyncio",
        concurrency=2,
        lost_lock_replaces_child=False,
        lost_lock_log="no longer ours",
        async_sleeper="tests.worker.test_asyncio.AsyncSleepy",
    ),
]
CONCURRENT = [strategy for strategy in STRATEGIES if strategy.concurrency]


def strategy_id(strategy: Strategy) -> str:
    return strategy.name


@pytest.fixture(params=STRATEGIES, ids=strategy_id)
def strategy(request: pytest.FixtureRequest) -> Strategy:
    chosen: Strategy = request.param
    if chosen.library is not None:
        pytest.importorskip(chosen.library)
    return chosen


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """The file the test's jobs report to (one JSON line each, see jobs_for_tests.py)."""
    return tmp_path / "jobs.log"


@pytest.mark.parametrize("strategy", CONCURRENT, ids=strategy_id, indirect=True)
def test_one_child_runs_as_many_jobs_at_once_as_it_has_greenlets_or_tasks(
    server: Server, client: reqless.Client, start_worker: StartWorker, log: Path, strategy: Strategy
) -> None:
    data = {"log": str(log), "seconds": 1}
    jids = [client.queues["q"].put(k, data) for k in strategy.one_job_per_slot(SLEEPY, 4)]
    worker = start_worker(server.url, "-q", "q", *strategy.flags(4), "--max-jobs", "4")
    assert worker.wait(30) == 0, worker.output()
    started, finished = events(log, "started"), events(log, "finished")
    assert sorted(line["jid"] for line in finished) == sorted(jids)
    assert len({line["pid"] for line in started}) == 1
    # Concurrent, not serial: every job started before the first one finished.
    assert max(line["time"] for line in started) < min(line["time"] for line in finished)
    assert {get_job(client, jid).state for jid in jids} == {"complete"}


@pytest.mark.parametrize("strategy", CONCURRENT, ids=strategy_id, indirect=True)
def test_short_jobs_popped_with_a_long_one_run_beside_it_not_after_it(
    server: Server, client: reqless.Client, start_worker: StartWorker, log: Path, strategy: Strategy
) -> None:
    queue = client.queues["q"]
    worker = start_worker(server.url, "-q", "q", *strategy.flags(2))
    # Short jobs first: the child learns that its jobs are short and pops in batches.
    warm = queue.put_many([(RECORD, {"log": str(log)})] * 10)
    wait_until(lambda: {get_job(client, jid).state for jid in warm} == {"complete"}, timeout=15)
    # One pop may now bring the long job with short ones queued behind it in the child.
    [long, *short] = queue.put_many(
        [(SLEEPY, {"log": str(log), "seconds": 3}), *[(RECORD, {"log": str(log)})] * 10]
    )
    wait_until(lambda: {get_job(client, jid).state for jid in short} == {"complete"}, timeout=15)
    assert get_job(client, long).state == "running"
    assert not events(log, "finished")
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0, worker.output()
    assert get_job(client, long).state == "complete"


def test_a_job_whose_child_was_killed_is_reclaimed_and_completed_once_by_another_worker(
    server: Server,
    short_leases: reqless.Client,
    start_worker: StartWorker,
    log: Path,
    strategy: Strategy,
) -> None:
    client = short_leases
    jid = client.queues["q"].put(strategy.sleeper(), {"log": str(log), "seconds": 1})
    first = start_worker(server.url, "-q", "q", *strategy.flags(), "-n", "first")
    wait_until(lambda: events(log, "started"), timeout=15)
    # The machine dies: child first (mid-job), then its supervisor, so nothing restarts.
    os.kill(first.children()[0], signal.SIGKILL)
    first.kill_group()
    second = start_worker(
        server.url, "-q", "q", *strategy.flags(), "-n", "second", "--max-jobs", "1"
    )
    assert second.wait(30) == 0, second.output()
    assert [line["worker"] for line in events(log, "started")] == ["first-0", "second-0"]
    assert [line["worker"] for line in events(log, "finished")] == ["second-0"]
    job = get_job(client, jid)
    assert job.state == "complete"
    assert [e["what"] for e in job.history].count("done") == 1


def test_term_lets_running_jobs_finish_takes_no_new_one_and_exits_0(
    server: Server, client: reqless.Client, start_worker: StartWorker, log: Path, strategy: Strategy
) -> None:
    data = {"log": str(log), "seconds": 1.5}
    running = [client.queues["q"].put(k, data) for k in strategy.one_job_per_slot(SLEEPY)]
    # Queued from the start, one more than the slots: the worker must leave it there.
    # Lower priority: the puts may share a millisecond, and ties pop in jid order.
    waiting = client.queues["q"].put(SLEEPY, {"log": str(log), "seconds": 0}, priority=-1)
    worker = start_worker(server.url, "-q", "q", *strategy.flags())
    wait_until(lambda: len(events(log, "started")) == len(running), timeout=15)
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0, worker.output()
    assert sorted(line["jid"] for line in events(log, "finished")) == sorted(running)
    assert {get_job(client, jid).state for jid in running} == {"complete"}
    assert get_job(client, waiting).state == "waiting"


def test_int_stops_running_jobs_at_once_and_gives_them_back_even_past_except_exception(
    server: Server, client: reqless.Client, start_worker: StartWorker, log: Path, strategy: Strategy
) -> None:
    data = {"log": str(log), "seconds": 30}
    jids = [client.queues["q"].put(k, data) for k in strategy.one_job_per_slot(SWALLOWER)]
    worker = start_worker(server.url, "-q", "q", *strategy.flags())
    wait_until(lambda: len(events(log, "started")) == len(jids), timeout=15)
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
@pytest.mark.parametrize(
    ("strategy", "klass"),
    [
        pytest.param(strategy, klass, id=f"{strategy.name}-{klass.rsplit('.', 1)[1]}")
        for strategy in STRATEGIES
        for klass in strategy.jobs_a_lost_lock_stops()
    ],
    indirect=["strategy"],
)
def test_a_lost_lock_stops_only_that_job_and_frees_its_slot(
    server: Server,
    client: reqless.Client,
    start_worker: StartWorker,
    log: Path,
    strategy: Strategy,
    klass: str,
    how: str,
) -> None:
    doomed = client.queues["q"].put(klass, {"log": str(log), "seconds": 30})
    # One slot, so the next job can only run once the doomed one is stopped.
    worker = start_worker(server.url, "-q", "q", *strategy.flags(concurrency=1))
    wait_until(lambda: events(log, "started"), timeout=15)
    (child,) = worker.children()
    if how == "moved":
        get_job(client, doomed).requeue("elsewhere")
    else:
        get_job(client, doomed).cancel()
    # The slot is free again long before the doomed job would have ended.
    after = client.queues["q"].put(RECORD, {"log": str(log)})
    wait_until(lambda: events(log, "ran"), timeout=20)
    # "ran" is logged by the job's method; the worker completes the job after it.
    wait_until(lambda: get_job(client, after).state == "complete", timeout=5)
    wait_until(lambda: strategy.lost_lock_log in worker.output(), timeout=5)
    time.sleep(0.5)
    # Stopped: a synchronous job cannot swallow it with `except Exception`.
    assert not events(log, "finished") and not events(log, "swallowed")
    if how == "moved":
        assert get_job(client, doomed).state == "waiting"
    (ran,) = events(log, "ran")
    if strategy.lost_lock_replaces_child:
        assert ran["pid"] != child, "a fresh child ran the next job"
    else:
        assert ran["pid"] == child and worker.children() == [child], "the child kept running"


def test_heartbeats_keep_a_job_longer_than_its_lease(
    server: Server, client: reqless.Client, start_worker: StartWorker, log: Path, strategy: Strategy
) -> None:
    client.config["heartbeat"] = 1
    client.config["grace-period"] = 0
    jid = client.queues["q"].put(strategy.sleeper(), {"log": str(log), "seconds": 3.5})
    worker = start_worker(server.url, "-q", "q", *strategy.flags(), "--max-jobs", "1")
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


def test_each_child_greenlet_or_task_has_its_own_sandbox_emptied_before_and_removed_after_each_job(
    server: Server, client: reqless.Client, start_worker: StartWorker, log: Path, strategy: Strategy
) -> None:
    workdir = log.parent / "work"
    sandboxes = {str(path) for path in strategy.sandboxes(workdir)}
    # Twice as many jobs as sandboxes: some sandbox serves a second job, which
    # must find the first one's leftover file cleaned away. Each takes a while, so
    # that every slot gets one (a slot runs short jobs popped beside it itself).
    jobs = 2 * len(sandboxes)
    for _ in range(jobs):
        client.queues["q"].put(f"{JOBS}.SandboxUser", {"log": str(log), "seconds": 0.2})
    worker = start_worker(
        server.url, "-q", "q", *strategy.flags(), "-d", str(workdir), "--max-jobs", str(jobs)
    )
    assert worker.wait() == 0, worker.output()
    seen = events(log, "sandbox")
    assert len(seen) == jobs
    # Every sandbox was used; each job found its own existing and empty.
    assert {line["path"] for line in seen} == sandboxes
    assert all(line["existed"] and line["contents"] == [] for line in seen)
    assert not any(Path(path).exists() for path in sandboxes)


def test_resume_first_runs_the_jobs_this_worker_name_still_holds(
    server: Server, client: reqless.Client, start_worker: StartWorker, log: Path, strategy: Strategy
) -> None:
    jids = [client.queues["q"].put(RECORD, {"log": str(log)}) for _ in range(3)]
    # A previous run of worker "box" popped them as its child 0, then died.
    with reqless.Client(server.url, worker_name="box-0") as previous:
        assert sorted(job.jid for job in previous.queues["q"].pop(3)) == sorted(jids)
    worker = start_worker(
        server.url, "-q", "q", *strategy.flags(), "-n", "box", "-r", "--max-jobs", "3"
    )
    assert worker.wait() == 0, worker.output()
    assert sorted((line["jid"], line["worker"]) for line in read_log(log)) == sorted(
        (jid, "box-0") for jid in jids
    )
    assert {get_job(client, jid).state for jid in jids} == {"complete"}


def test_the_worker_carries_on_after_the_server_restarts(
    restartable_server: RestartableServer, start_worker: StartWorker, log: Path, strategy: Strategy
) -> None:
    url = restartable_server.url
    worker = start_worker(url, "-q", "q", *strategy.flags(), "-i", "0.2")
    with reqless.Client(url) as client:
        client.queues["q"].put(RECORD, {"log": str(log), "n": 1})
        wait_until(lambda: len(read_log(log)) == 1, timeout=15)
    # A restart loses the data and the loaded core (no persistence configured).
    restartable_server.stop()
    time.sleep(1.0)
    restartable_server.start()
    with reqless.Client(url) as client:
        jid = client.queues["q"].put(RECORD, {"log": str(log), "n": 2})
        wait_until(lambda: len(read_log(log)) == 2, timeout=20)
        wait_until(lambda: get_job(client, jid).state == "complete", timeout=5)
    assert worker.process.poll() is None
    # It noticed the outage (its pub/sub connection always does) and logged it once,
    # with its end, however many of its threads met it.
    output = worker.output()
    assert output.count("lost the server at") == 1, output
    assert output.count("is back after an outage of") == 1, output


@pytest.mark.parametrize("strategy", CONCURRENT, ids=strategy_id, indirect=True)
def test_a_job_that_moves_itself_can_run_again_in_its_own_child_while_its_first_run_ends(
    server: Server, client: reqless.Client, start_worker: StartWorker, log: Path, strategy: Strategy
) -> None:
    jids = [client.queues["first"].put(MOVES, {"log": str(log)}) for _ in range(6)]
    worker = start_worker(server.url, "-q", "first", "-q", "second", *strategy.flags(4))
    wait_until(lambda: len(events(log, "ran-second")) == 6, timeout=30)
    wait_until(lambda: len(events(log, "lingered")) == 6, timeout=30)
    assert sorted(line["jid"] for line in events(log, "ran-second")) == sorted(jids)
    assert all(get_job(client, jid).state == "complete" for jid in jids)
    assert worker.process.poll() is None, worker.output()
    assert "Traceback" not in worker.output() and "crashed" not in worker.output()
