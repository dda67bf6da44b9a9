"""``reqless_worker.Worker`` run from Python, and burst mode (``run(burst=True)``, ``--burst``).

The in-process tests run the worker in pytest's own process, as a user's test
of their job module would: jobs are put, ``Worker(...).run(burst=True)``
returns once the queues are empty, and the outcome is read from the server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import textwrap
import uuid
from pathlib import Path

import pytest

import reqless
import reqless_worker
from reqless_worker import (
    ForkingWorker,
    GeventWorker,
    SerialWorker,
    UnknownStrategyError,
    Worker,
    WorkerSettingsError,
)
from tests.conftest import Server
from tests.worker.conftest import StartWorker, get_job
from tests.worker.jobs_for_tests import events, read_log

JOBS = "tests.worker.jobs_for_tests"
DRIVERS = ["redis", "valkey"]

# A user's job module, written as the original client's README shows job classes:
# one method per queue, each moving the job on to the next step. Spawner puts a new
# job into ``second`` after ``seconds``: work a running job makes for the worker.
USER_JOBS = """
import json
import os
import time
from pathlib import Path

import reqless


def note(job):
    data = json.loads(job.data)
    with Path(data["log"]).open("a") as out:
        out.write(json.dumps({"jid": job.jid, "queue": job.queue_name, "pid": os.getpid()}) + "\\n")


class GnomesJob:
    @staticmethod
    def underpants(job):
        note(job)
        job.complete("unknown")

    @staticmethod
    def unknown(job):
        note(job)
        job.complete("profit")

    @staticmethod
    def profit(job):
        note(job)
        if json.loads(job.data).get("broken"):
            raise RuntimeError("no profit after all")
        job.complete()


class Spawner:
    @staticmethod
    def first(job):
        data = json.loads(job.data)
        time.sleep(data["seconds"])
        with reqless.Client(data["url"]) as client:
            client.queues["second"].put(__name__ + ".Spawner", {"log": data["log"]})
        note(job)

    @staticmethod
    def second(job):
        note(job)
"""

STEPS = ["underpants", "unknown", "profit"]


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.fixture
def gnomes(tmp_path: Path) -> str:
    """The import name of a fresh copy of the user's job module, in ``tmp_path``."""
    name = f"gnomes_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(USER_JOBS))
    return name


def _queues_of(log: Path) -> list[str]:
    return sorted(json.loads(line)["queue"] for line in log.read_text().splitlines())


def _driver_or_skip(driver: str) -> None:
    if not _has(driver):
        pytest.skip(f"driver {driver} is not installed")


# ------------------------------------------------------------ in the caller's process


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_users_job_module_runs_through_worker_run_burst(
    server: Server, driver: str, gnomes: str, tmp_path: Path
) -> None:
    _driver_or_skip(driver)
    log = tmp_path / "gnomes.log"
    with reqless.Client(server.url, driver=driver, worker_name="gnome-tester") as client:
        queue = client.queues["underpants"]
        good = [queue.put(f"{gnomes}.GnomesJob", {"log": str(log), "n": n}) for n in range(3)]
        bad = queue.put(f"{gnomes}.GnomesJob", {"log": str(log), "broken": True})

        worker = Worker(STEPS, client, paths=[str(tmp_path)], interval=0.2)
        assert worker.run(burst=True) == 0

        for jid in good:
            job = get_job(client, jid)
            assert job.state == "complete"
            assert [entry["queue"] for entry in job.history if entry["what"] == "put"] == STEPS
        failed = get_job(client, bad)
        assert failed.state == "failed"
        assert failed.failure is not None and failed.failure.group == "profit-RuntimeError"
        # Run here, not in a forked child, and popped under the client's worker name.
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        assert {line["pid"] for line in lines} == {os.getpid()}
        assert len(lines) == 3 * len(good) + 3
        assert all(
            entry["worker"] == "gnome-tester-0"
            for entry in get_job(client, good[0]).history
            if entry["what"] == "popped"
        )
        assert all(client.queues[step].counts.waiting == 0 for step in STEPS)


def test_burst_on_empty_queues_returns_at_once_and_restores_the_callers_state(
    server: Server, client: reqless.Client, tmp_path: Path
) -> None:
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    path = list(__import__("sys").path)
    worker = Worker("nothing-here", client, paths=[str(tmp_path)])
    assert worker.run(burst=True) == 0
    assert {signum: signal.getsignal(signum) for signum in before} == before
    assert __import__("sys").path == path
    # The caller's client is untouched and still usable.
    assert client.queues["nothing-here"].counts.waiting == 0


def test_a_job_module_in_the_current_directory_is_found_unless_cwd_path_is_off(
    server: Server,
    client: reqless.Client,
    gnomes: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    data = {"log": str(tmp_path / "gnomes.log")}
    left_out = client.queues["profit"].put(f"{gnomes}.GnomesJob", data)
    assert Worker("profit", client, cwd_path=False).run(burst=True) == 0
    failure = get_job(client, left_out).failure
    assert failure is not None and failure.group == "profit-ModuleNotFoundError"
    found = client.queues["profit"].put(f"{gnomes}.GnomesJob", data)
    assert Worker("profit", client).run(burst=True) == 0
    assert get_job(client, found).state == "complete"


def test_serial_worker_is_the_in_process_worker(
    server: Server, client: reqless.Client, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jids = [client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)}) for _ in range(4)]
    worker = SerialWorker(["q"], client, interval=0.2)
    assert (worker.settings.strategy, worker.settings.workers) == ("process", 1)
    assert worker.run(burst=True) == 0
    assert {job.state for job in client.jobs.get(*jids)} == {"complete"}
    assert {line["pid"] for line in read_log(log)} == {os.getpid()}


def test_a_job_whose_lock_is_lost_in_process_does_not_end_the_callers_process(
    server: Server, client: reqless.Client, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    started = tmp_path / "started"
    jid = client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 1.5})
    other = client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)})
    import threading

    # The job is cancelled while it runs; the worker hears of it on its channel.
    def cancel_when_started() -> None:
        with reqless.Client(server.url) as other_client:
            for _ in range(200):
                if events(log, "started"):
                    get_job(other_client, jid).cancel()
                    started.touch()
                    return
                threading.Event().wait(0.02)

    canceller = threading.Thread(target=cancel_when_started)
    canceller.start()
    try:
        assert Worker("q", client, interval=0.2).run(burst=True) == 0
    finally:
        canceller.join(10)
    assert started.exists()
    assert client.jobs[jid] is None  # cancelled: its end was not reported over it
    assert get_job(client, other).state == "complete"
    assert events(log, "finished")  # it ran on to its end, in this still living process


@pytest.mark.skipif(not _has("trio"), reason="trio is not installed")
def test_trio_worker_runs_in_process_until_the_queues_are_empty(
    server: Server, client: reqless.Client, tmp_path: Path, gnomes: str
) -> None:
    log, spawned = tmp_path / "jobs.log", tmp_path / "spawned.log"
    jids = [client.queues["q"].put(f"{JOBS}.AsyncJob", {"log": str(log)}) for _ in range(3)]
    data = {"log": str(spawned), "url": server.url, "seconds": 0.3}
    spawner = client.queues["first"].put(f"{gnomes}.Spawner", data)
    worker = Worker(
        ["first", "second", "q"],
        client,
        strategy="trio",
        concurrency=3,
        interval=0.2,
        paths=[str(tmp_path)],
    )
    assert worker.run(burst=True) == 0
    assert {job.state for job in client.jobs.get(*jids, spawner)} == {"complete"}
    # The idle tasks did not stop while their neighbour ran: the job it put ran too.
    assert _queues_of(spawned) == ["first", "second"]
    assert {line["pid"] for line in read_log(log)} == {os.getpid()}


# ------------------------------------------------------------ forked children


def test_forking_worker_supervises_children_until_the_queues_are_empty(
    server: Server, client: reqless.Client, tmp_path: Path
) -> None:
    log = tmp_path / "jobs.log"
    jids = [client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)}) for _ in range(6)]
    worker = ForkingWorker(["q"], client, workers=2, interval=0.2)
    assert worker.settings.workers == 2
    assert worker.run(burst=True) == 0
    assert {job.state for job in client.jobs.get(*jids)} == {"complete"}
    pids = {line["pid"] for line in read_log(log)}
    assert pids and os.getpid() not in pids


@pytest.mark.skipif(not _has("gevent"), reason="gevent is not installed")
def test_gevent_worker_runs_in_a_child_it_patches_itself(
    server: Server, client: reqless.Client, tmp_path: Path, gnomes: str
) -> None:
    log, spawned = tmp_path / "jobs.log", tmp_path / "spawned.log"
    jids = [client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)}) for _ in range(5)]
    data = {"log": str(spawned), "url": server.url, "seconds": 0.3}
    spawner = client.queues["first"].put(f"{gnomes}.Spawner", data)
    worker = GeventWorker(
        ["first", "second", "q"], client, greenlets=4, interval=0.2, paths=[str(tmp_path)]
    )
    assert (worker.settings.strategy, worker.settings.concurrency) == ("gevent", 4)
    assert worker.run(burst=True) == 0
    assert {job.state for job in client.jobs.get(*jids, spawner)} == {"complete"}
    assert _queues_of(spawned) == ["first", "second"]
    # This process was not patched: the worker forked a child that patched itself.
    pids = {line["pid"] for line in read_log(log)}
    assert len(pids) == 1 and os.getpid() not in pids


# ------------------------------------------------------------ the command line


@pytest.mark.parametrize("strategy", ["process", "gevent", "trio"])
def test_the_cli_burst_flag_exits_0_once_the_queues_are_empty(
    server: Server,
    client: reqless.Client,
    start_worker: StartWorker,
    tmp_path: Path,
    strategy: str,
    gnomes: str,
) -> None:
    if strategy != "process" and not _has(strategy):
        pytest.skip(f"{strategy} is not installed")
    log, spawned = tmp_path / "jobs.log", tmp_path / "spawned.log"
    jids = [client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)}) for _ in range(6)]
    data = {"log": str(spawned), "url": server.url, "seconds": 0.3}
    spawner = client.queues["first"].put(f"{gnomes}.Spawner", data)
    worker = start_worker(
        server.url,
        "-q", "first", "-q", "second", "-q", "q",
        "-w", "2", "-c", "2", "-i", "0.2",
        "--strategy", strategy, "--burst",
    )  # fmt: skip
    assert worker.wait(60) == 0, worker.output()
    assert {job.state for job in client.jobs.get(*jids, spawner)} == {"complete"}
    assert _queues_of(spawned) == ["first", "second"]
    assert "every queue is empty" in worker.output()
    assert worker.children() == []


def test_burst_is_a_setting_from_the_environment_too() -> None:
    settings = reqless_worker.WorkerSettings.from_env({"REQLESS_BURST": "1"}, queues=("q",))
    assert settings.burst is True
    assert reqless_worker.WorkerSettings(queues=("q",)).burst is False


# ------------------------------------------------------------ arguments


def test_worker_takes_its_server_and_name_from_the_client(server: Server) -> None:
    with reqless.Client(server.url, worker_name="from-client") as client:
        worker = Worker("q", client, concurrency=3, interval=0.5, max_jobs=7)
    settings = worker.settings
    assert (settings.url, settings.name) == (server.url, "from-client")
    assert settings.driver == client.settings.driver
    assert (settings.queues, settings.concurrency, settings.interval) == (("q",), 3, 0.5)
    assert (settings.max_jobs, settings.workers, settings.burst) == (7, 1, False)
    assert "from-client" in repr(worker)


def test_forking_and_gevent_aliases_map_the_original_arguments() -> None:
    forking = ForkingWorker(["a", "b"], url="redis://127.0.0.1:1", workers=3, greenlets=5)
    assert (forking.settings.workers, forking.settings.strategy) == (3, "gevent")
    assert (forking.settings.concurrency, forking.fork) == (5, True)
    assert ForkingWorker("a").settings.workers == (os.cpu_count() or 1)
    gevent = GeventWorker("a", greenlets=7)
    assert (gevent.settings.strategy, gevent.settings.concurrency) == ("gevent", 7)
    assert SerialWorker("a").fork is False


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"queues": []}, "queues"),
        ({"queues": ["ok", ""]}, "queues"),
        ({"queues": "q", "bogus": 1}, "bogus"),
        ({"queues": "q", "workers": 0}, "workers"),
        ({"queues": "q", "interval": -1}, "interval"),
    ],
)
def test_bad_arguments_raise_an_error_naming_them(arguments: dict[str, object], named: str) -> None:
    with pytest.raises(WorkerSettingsError, match=named):
        Worker(**arguments)  # type: ignore[arg-type]


def test_an_unknown_strategy_is_refused_when_the_worker_is_made() -> None:
    with pytest.raises(UnknownStrategyError, match="nope"):
        Worker("q", strategy="nope")
    assert issubclass(UnknownStrategyError, reqless.ReqlessError)


def test_run_refuses_a_thread_other_than_the_main_one(server: Server) -> None:
    import threading

    errors: list[BaseException] = []

    def run() -> None:
        try:
            Worker("q", url=server.url).run(burst=True)
        except reqless_worker.WorkerError as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert len(errors) == 1 and "main thread" in str(errors[0])
