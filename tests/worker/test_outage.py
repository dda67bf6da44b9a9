"""A server outage is never a job's failure, and a killed child costs no lease.

The worker CLI runs against a server of the test's own with the append-only
file on (every write on disk before it is answered), which the test restarts
on the same port and data directory mid-run, and whose children it SIGKILLs.
Jobs record each run in a file; afterwards every job must have ended as it
asked (completed, or moved on and completed there), none failed, none lost,
and a job may have run more than once only where a killed child ran it.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

import reqless
from reqless import commands
from reqless._errors import translate_server_error
from reqless_worker._outage import Outage, server_name
from tests.conftest import Server
from tests.worker.conftest import RestartableServer, StartWorker, get_job, wait_until
from tests.worker.jobs_for_tests import events

JOBS = "tests.worker.jobs_for_tests"
FINISHES = ("next", "complete", "return")


def failures(client: reqless.Client) -> dict[str, int]:
    [counts] = client.execute(commands.failure_counts())
    return dict(counts)


def runs(log: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Each (jid, queue)'s runs, in order."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for line in events(log, "started"):
        found.setdefault((line["jid"], line["queue"]), []).append(line)
    return found


def visited(job: reqless.Job) -> set[str]:
    """The queues a job was put in (a completed job names none)."""
    return {str(entry["queue"]) for entry in job.history if entry.get("what") == "put"}


def kill_a_child(worker: Any, killed: set[int]) -> None:
    wait_until(lambda: worker.children(), timeout=10)
    victim = worker.children()[0]
    os.kill(victim, signal.SIGKILL)
    killed.add(victim)


@pytest.mark.parametrize("strategy", ["process", "gevent", "trio", "asyncio"])
def test_no_job_is_failed_or_lost_through_a_restart_and_killed_children(
    durable_server: RestartableServer, start_worker: StartWorker, tmp_path: Path, strategy: str
) -> None:
    log, url, count = tmp_path / "runs.log", durable_server.url, 150
    with reqless.Client(url) as client:
        jids = {
            client.queues["first"].put(
                f"{JOBS}.AsAsked",
                {"log": str(log), "seconds": 0.04, "finish": FINISHES[n % 3]},
            ): FINISHES[n % 3]
            for n in range(count)
        }
    concurrency = () if strategy == "process" else ("-c", "2")
    flags = ("--strategy", strategy, "-w", "2", *concurrency, "-i", "0.2")
    worker = start_worker(url, "-q", "first", "-q", "second", *flags)
    killed: set[int] = set()

    def started(at_least: int) -> Callable[[], bool]:
        return lambda: len(events(log, "started")) >= at_least

    wait_until(started(20), timeout=15)
    kill_a_child(worker, killed)
    wait_until(started(60), timeout=15)
    durable_server.stop()
    time.sleep(0.5)
    durable_server.start()
    wait_until(started(110), timeout=15)
    kill_a_child(worker, killed)

    with reqless.Client(url) as client:
        wait_until(
            lambda: {job.state for job in client.jobs.get(*jids)} == {"complete"}, timeout=30
        )
        jobs = {job.jid: job for job in client.jobs.get(*jids)}
        assert len(jobs) == count  # none lost
        assert failures(client) == {}
        for jid, finish in jids.items():
            assert visited(jobs[jid]) == ({"first", "second"} if finish == "next" else {"first"})
    ran = runs(log)
    for jid, finish in jids.items():
        queues = ("first", "second") if finish == "next" else ("first",)
        for queue in queues:
            tries = ran.get((jid, queue), [])
            assert tries, f"{jid} never ran in {queue}"
            # Only a killed child's run may be followed by another.
            assert all(run["pid"] in killed for run in tries[:-1]), (jid, queue, tries)
    output = worker.output()
    assert "crashed" not in output
    assert "is back after an outage of" in output


def test_a_job_that_moves_itself_while_the_server_is_away_moves_once_it_is_back(
    durable_server: RestartableServer, start_worker: StartWorker, tmp_path: Path
) -> None:
    log, go, url = tmp_path / "runs.log", tmp_path / "go", durable_server.url
    worker = start_worker(url, "-q", "first", "-q", "second", "-w", "1", "-i", "0.2")
    with reqless.Client(url) as client:
        jid = client.queues["first"].put(f"{JOBS}.WaitsThenMoves", {"log": str(log), "go": str(go)})
        wait_until(lambda: events(log, "started"), timeout=15)
    durable_server.stop()
    go.touch()  # the job's complete("second") now meets the outage
    time.sleep(1.0)
    durable_server.start()

    with reqless.Client(url) as client:
        wait_until(lambda: get_job(client, jid).state == "complete", timeout=20)
        assert visited(get_job(client, jid)) == {"first", "second"}
        assert failures(client) == {}
    assert [line["queue"] for line in events(log, "started")] == ["first", "second"]
    output = worker.output()
    assert output.count("lost the server at") == 1, output
    assert output.count("is back after an outage of") == 1, output


@pytest.mark.parametrize("strategy", ["process", "gevent", "trio", "asyncio"])
def test_a_replacement_child_takes_back_the_job_its_predecessor_was_killed_in(
    server: Server, start_worker: StartWorker, client: reqless.Client, tmp_path: Path, strategy: str
) -> None:
    log = tmp_path / "runs.log"
    # The default lease (60 s): the job must not wait for it.
    jid = client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 2})
    flags = ("--strategy", strategy, "-w", "1", "-i", "0.2", "-n", "phoenix")
    worker = start_worker(server.url, "-q", "q", *flags)
    wait_until(lambda: events(log, "started"), timeout=15)
    [child] = worker.children()
    os.kill(child, signal.SIGKILL)

    wait_until(lambda: len(events(log, "started")) == 2, timeout=10)
    wait_until(lambda: get_job(client, jid).state == "complete", timeout=10)

    first, second = events(log, "started")
    assert first["pid"] == child and second["pid"] != child
    assert first["worker"] == second["worker"] == "phoenix-0"
    assert second["time"] - first["time"] < 10
    assert "took back 1 job(s) held by phoenix-0" in worker.output()
    assert failures(client) == {}


# ------------------------------------------------ too few replicas: logged, never a failure


@pytest.mark.parametrize("strategy", ["process", "gevent"])
def test_a_change_too_few_replicas_acknowledged_is_logged_and_the_jobs_go_on(
    server: Server, start_worker: StartWorker, tmp_path: Path, strategy: str
) -> None:
    # No replica at all: every state change (pop, completion, failure, retry) raises
    # ReplicationTimeoutError once WAIT gives up, though the master made it.
    log, url = tmp_path / "runs.log", f"{server.url}?wait_replicas=1&wait_timeout_ms=10"
    with reqless.Client(server.url) as client:
        first = client.queues["first"]
        jids = {
            first.put(f"{JOBS}.AsAsked", {"log": str(log), "finish": FINISHES[n % 3]}): FINISHES[
                n % 3
            ]
            for n in range(9)
        }
        failing = first.put(f"{JOBS}.Failing", {"log": str(log)})
        retrying = first.put(f"{JOBS}.SelfRetrying", {"log": str(log)})
    concurrency = () if strategy == "process" else ("-c", "2")
    worker = start_worker(
        url, "-q", "first", "-q", "second", "--strategy", strategy, *concurrency, "-i", "0.2"
    )
    with reqless.Client(server.url) as client:
        first = client.queues["first"]

        def settled() -> bool:
            states = {job.jid: job.state for job in client.jobs.get(*jids, failing, retrying)}
            return {states[jid] for jid in jids} == {"complete"} and (
                states[failing],
                states[retrying],
            ) == ("failed", "scheduled")

        wait_until(settled, timeout=30)
        # Idle now, waiting on the server: a put wakes the waiting pop, which hands
        # the job over though no replica acknowledged the pop.
        admin = server.client(decode_responses=True)
        wait_until(lambda: any(c["cmd"] == "bzpopmin" for c in admin.client_list()))
        admin.close()
        late = first.put(f"{JOBS}.AsAsked", {"log": str(log)})
        wait_until(lambda: get_job(client, late).state == "complete", timeout=30)
        jids[late] = "return"
        # Only the job's own bug failed a job: none failed for want of replicas.
        assert failures(client) == {"first-ValueError": 1}
        for jid, finish in jids.items():
            job = get_job(client, jid)
            assert visited(job) == ({"first", "second"} if finish == "next" else {"first"})
            assert len(runs(log)[(jid, "first")]) == 1  # never run again

    def warned_twice() -> bool:
        # Each job's pop and its end, named in the warnings (the log line may follow
        # the change it reports by a moment).
        warnings = [
            line.split("[")[0]
            for line in worker.output().splitlines()
            if "WARNING" in line and "replica(s) asked for acknowledged it in time" in line
        ]
        return all(sum(jid in line for line in warnings) >= 2 for jid in (*jids, failing, retrying))

    wait_until(warned_twice, timeout=10)
    output = worker.output()
    assert "crashed" not in output and "Traceback" not in output, output


def test_a_heartbeat_too_few_replicas_acknowledged_is_a_warning_and_the_job_runs_on(
    server: Server, short_leases: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    log, url = tmp_path / "runs.log", f"{server.url}?wait_replicas=1&wait_timeout_ms=10"
    # Longer than its 2 s lease: it lives on its heartbeats, none of them replicated.
    jid = short_leases.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 3})
    worker = start_worker(url, "-q", "q", "--max-jobs", "1")
    assert worker.wait(30) == 0, worker.output()
    job = get_job(short_leases, jid)
    assert job.state == "complete"
    assert [e["what"] for e in job.history].count("popped") == 1
    output = worker.output()
    assert f"the heartbeat of {jid}: done on the master" in output
    errors = [line for line in output.splitlines() if "ERROR" in line]
    assert not any("heartbeat of" in line for line in errors), output


# --------------------------------------------------------- what counts as an outage


@pytest.mark.parametrize("driver", ["redis", "valkey"])
@pytest.mark.parametrize("name", ["valkey", "redis"])
def test_a_read_only_replica_is_an_outage(
    make_server: Callable[[str], RestartableServer], name: str, driver: str
) -> None:
    primary = make_server(name)
    primary.start()
    replica = make_server(name)
    replica.extra = ["--replicaof", "127.0.0.1", str(primary.port)]
    replica.start()
    with (
        reqless.Client(replica.url, driver=driver) as client,
        pytest.raises(reqless.ServerUnavailableError, match="read only replica"),
    ):
        client.queues["q"].put("Klass", {})
    with reqless.Client(primary.url) as writer:
        writer.config["heartbeat"] = 10  # loads the core, which the replica copies
    admin = redis.Redis(host="127.0.0.1", port=replica.port)
    wait_until(lambda: admin.function_list(), timeout=10)
    admin.close()
    # Answered in place of each call's reply, the outage still concerns the batch.
    with (
        reqless.Client(replica.url, driver=driver) as client,
        pytest.raises(reqless.ServerUnavailableError, match="read only replica"),
    ):
        client.execute(commands.core("config.set", "heartbeat", 20), return_errors=True)


# MASTERDOWN is what a cut-off replica answers to plain commands; the core's FCALL is
# allowed on a stale replica and meets READONLY instead, so it is tested as text.
@pytest.mark.parametrize(
    "message",
    [
        "LOADING Redis is loading the dataset in memory",
        "LOADING Valkey is loading the dataset in memory",
        "READONLY You can't write against a read only replica.",
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        "ERR user_script:1: -READONLY You can't write against a read only replica. "
        "script: 0123, on @user_script:1.",
    ],
)
def test_server_answers_meaning_not_now_are_outages(message: str) -> None:
    assert isinstance(translate_server_error(message), reqless.ServerUnavailableError)


def test_a_core_refusal_naming_those_words_is_not_an_outage() -> None:
    error = translate_server_error('user_script:1: Put(): Arg "jid" LOADING missing')
    assert not isinstance(error, reqless.ServerUnavailableError)


# ----------------------------------------------------------- the shared backoff


def unavailable() -> reqless.ServerUnavailableError:
    return reqless.ServerUnavailableError("redis://127.0.0.1:1/0: connection refused")


def flaky(failures: int, error: Callable[[], Exception] = unavailable) -> Callable[[], str]:
    left = [failures]

    def call() -> str:
        if left[0] > 0:
            left[0] -= 1
            raise error()
        return "answered"

    return call


def test_an_outage_is_retried_with_a_growing_backoff_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage("the server at test")
    outage.back()  # reached once: what follows is an outage, not a start-up wait
    pauses: list[float] = []

    assert outage.retry(flaky(7), wait=pauses.append) == "answered"

    assert pauses == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0]
    messages = [record.getMessage() for record in caplog.records]
    assert sum("lost the server at test" in m for m in messages) == 1
    assert sum("the server at test is back after an outage of" in m for m in messages) == 1
    assert not outage.down and outage.recoveries == 1


def test_before_the_server_first_answered_each_backoff_step_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    outage = Outage("the server at test")

    assert outage.attempt(flaky(1), "default", lambda pause: None) == "default"
    assert outage.attempt(flaky(1), "default", lambda pause: None) == "default"
    assert outage.attempt(flaky(0), "default", lambda pause: None) == "answered"

    messages = [record.getMessage() for record in caplog.records]
    assert sum("waiting for the server at test" in m for m in messages) == 2
    assert sum("reached the server at test" in m for m in messages) == 1


def test_a_refusal_or_bad_credentials_are_not_retried() -> None:
    outage = Outage()
    with pytest.raises(reqless.LostLockError):
        outage.retry(flaky(1, lambda: reqless.LostLockError("no")), wait=lambda pause: None)
    denied = flaky(1, lambda: reqless.AuthenticationError("bad password"))
    with pytest.raises(reqless.AuthenticationError):
        outage.retry(denied, wait=lambda pause: None)


def test_give_up_ends_the_retries() -> None:
    with pytest.raises(reqless.ServerUnavailableError):
        Outage().retry(flaky(100), wait=lambda pause: None, give_up=lambda: True)


def test_server_name_hides_credentials() -> None:
    assert server_name("redis://user:secret@host:6380/1") == "redis://host:6380/1"
    assert server_name("redis://:secret@host/0") == "redis://host/0"
    assert server_name("unix:///tmp/valkey.sock") == "unix:///tmp/valkey.sock"
