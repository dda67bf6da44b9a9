"""``PopWaiter``: a pop that waits on the server until a put through our client wakes it.

Each test runs on both servers, with both drivers, and (where the way the
pop is sent matters) in both forms of the core: the function form pipelines
the pop behind the ``BZPOPMIN`` with the server's clock, the eval form pops
after the wake-up. Threads stand in for a worker's idle loop; timeouts here
are hang guards only.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import redis

import reqless
from reqless._wake import wake_key
from tests.conftest import Server, _free_port

KLASS = "tests.client.api.jobs_for_tests.Plain"
# Far beyond any test's hang guard: a pop that returns before it was woken.
LONG = 60.0
GUARD = 20.0


@pytest.fixture
def make_client(
    server: Server, driver_name: str, form: str, admin: redis.Redis
) -> Iterator[Callable[..., reqless.Client]]:
    made: list[reqless.Client] = []

    def make(**options: object) -> reqless.Client:
        client = reqless.Client(server.url, driver=driver_name, form=form, **options)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def waiting(make_client: Callable[..., reqless.Client]) -> reqless.Client:
    """The client the waiters pop with, as worker ``waiter``."""
    return make_client(worker_name="waiter")


@pytest.fixture
def putter(make_client: Callable[..., reqless.Client]) -> reqless.Client:
    client = make_client(worker_name="putter")
    # The core loaded before anyone waits: a put that finds it missing sends its
    # wake-up twice (before and after loading it), and the first wakes waiters early.
    client.queues["q"].length()
    return client


@pytest.fixture
def threads() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield pool


def blocked(admin: redis.Redis) -> int:
    """How many clients are blocked in a BZPOPMIN now."""
    return sum(1 for c in admin.client_list() if c["cmd"] == "bzpopmin" and "b" in c["flags"])


def wait_blocked(admin: redis.Redis, count: int = 1) -> None:
    deadline = time.monotonic() + GUARD
    while blocked(admin) < count:
        assert time.monotonic() < deadline, "the waiter never blocked on the server"
        time.sleep(0.005)


def popping(
    threads: ThreadPoolExecutor, waiter: reqless.PopWaiter, count: int = 1
) -> Future[list[reqless.Job]]:
    return threads.submit(waiter.pop, count, LONG)


def test_a_put_wakes_a_waiting_pop_which_holds_the_job(
    waiting: reqless.Client,
    putter: reqless.Client,
    admin: redis.Redis,
    threads: ThreadPoolExecutor,
) -> None:
    with reqless.PopWaiter(waiting, "q") as waiter:
        popped = popping(threads, waiter)
        wait_blocked(admin)
        jid = putter.queues["q"].put(KLASS, {"n": 1})
        [job] = popped.result(GUARD)
        assert (job.jid, job.queue_name, job.payload) == (jid, "q", {"n": 1})
        assert waiter.woken_by == "q"
    assert isinstance(job, reqless.Job)
    assert (job.state, job.worker_name) == ("running", "waiter")
    stored = putter.jobs[jid]
    assert isinstance(stored, reqless.Job)
    assert (stored.state, stored.worker_name) == ("running", "waiter")
    assert putter.workers["waiter"].jobs == [jid]
    # The pop was stamped after the put, however long the waiter had waited.
    history = stored.history
    assert [entry["what"] for entry in history] == ["put", "popped"]
    assert history[1]["when"] >= history[0]["when"]


class TaggedJob(reqless.Job):
    """A Job subclass, as a worker's own job class would be."""


def test_the_jobs_popped_are_of_the_job_class_given(
    waiting: reqless.Client,
    putter: reqless.Client,
    admin: redis.Redis,
    threads: ThreadPoolExecutor,
) -> None:
    with reqless.PopWaiter(waiting, "q", job_class=TaggedJob) as waiter:
        # One woken by a put, one found by the pop at the end of a wait.
        popped = popping(threads, waiter)
        wait_blocked(admin)
        woken = putter.queues["q"].put(KLASS, {"n": 1})
        [first] = popped.result(GUARD)
        unannounced = putter.queues["q"].put(KLASS, {"n": 2}, delay=0.01)
        time.sleep(0.05)
        [second] = waiter.pop(1, 0.1)
    assert [type(job) for job in (first, second)] == [TaggedJob, TaggedJob]
    assert [(job.jid, job.payload) for job in (first, second)] == [
        (woken, {"n": 1}),
        (unannounced, {"n": 2}),
    ]


def test_the_function_form_pipelines_the_pop_so_even_an_interrupted_wait_pops(
    make_client: Callable[..., reqless.Client],
    waiting: reqless.Client,
    admin: redis.Redis,
    threads: ThreadPoolExecutor,
    form: str,
) -> None:
    with reqless.PopWaiter(waiting, "q") as waiter:
        popped = popping(threads, waiter)
        wait_blocked(admin)
        # A job no wake-up announces: only a pop already on the server can take it.
        jid = make_client(wake_workers=False).queues["q"].put(KLASS, {})
        waiter.interrupt()
        jobs = popped.result(GUARD)
    if form == "function":
        # Behind the BZPOPMIN: it ran when CLIENT UNBLOCK ended the wait.
        assert [job.jid for job in jobs] == [jid]
    else:
        # Written after the wake-up, which never came: nothing was popped.
        assert jobs == []


def test_a_client_with_its_own_clock_pops_after_the_wake_up_with_that_clock(
    make_client: Callable[..., reqless.Client],
    putter: reqless.Client,
    admin: redis.Redis,
    threads: ThreadPoolExecutor,
) -> None:
    later = time.time() + 10 * 86400
    waiting = make_client(worker_name="waiter", clock=lambda: later)
    with reqless.PopWaiter(waiting, "q") as waiter:
        popped = popping(threads, waiter)
        wait_blocked(admin)
        jid = putter.queues["q"].put(KLASS, {})
        assert [job.jid for job in popped.result(GUARD)] == [jid]
    job = putter.jobs[jid]
    assert isinstance(job, reqless.Job)
    assert job.history[1] == {"what": "popped", "when": int(later), "worker": "waiter"}


def test_put_many_wakes_as_many_waiters_as_jobs(
    waiting: reqless.Client,
    putter: reqless.Client,
    admin: redis.Redis,
    threads: ThreadPoolExecutor,
) -> None:
    waiters = [reqless.PopWaiter(waiting, "q") for _ in range(3)]
    try:
        popped = [popping(threads, waiter) for waiter in waiters]
        wait_blocked(admin, 3)
        jids = putter.queues["q"].put_many([(KLASS, {"n": n}) for n in range(3)])
        got = [job.jid for future in popped for job in future.result(GUARD)]
        assert sorted(got) == sorted(jids)
    finally:
        for waiter in waiters:
            waiter.close()


def test_a_put_into_a_wake_on_queue_wakes_the_waiter_and_hands_that_job_over(
    waiting: reqless.Client,
    putter: reqless.Client,
    admin: redis.Redis,
    threads: ThreadPoolExecutor,
) -> None:
    with reqless.PopWaiter(waiting, "first", wake_on=["second", "third"]) as waiter:
        popped = popping(threads, waiter, 2)
        wait_blocked(admin)
        jid = putter.queues["third"].put(KLASS, {})
        assert [(job.jid, job.queue_name) for job in popped.result(GUARD)] == [(jid, "third")]
        assert waiter.woken_by == "third"


def test_a_pop_that_times_out_returns_nothing(waiting: reqless.Client, admin: redis.Redis) -> None:
    with reqless.PopWaiter(waiting, "q") as waiter:
        assert waiter.pop(1, 0.1) == []
        assert waiter.woken_by is None
        assert waiter.pop(0, 0.1) == []


def test_the_pop_at_the_end_of_a_wait_finds_jobs_put_without_a_wake_up(
    make_client: Callable[..., reqless.Client], waiting: reqless.Client, admin: redis.Redis
) -> None:
    quiet = make_client(wake_workers=False)
    jid = quiet.queues["q"].put(KLASS, {})
    with reqless.PopWaiter(waiting, "q") as waiter:
        assert [job.jid for job in waiter.pop(1, 0.1)] == [jid]
        assert waiter.woken_by is None


def test_a_wake_up_left_by_an_earlier_put_ends_the_next_wait_at_once(
    waiting: reqless.Client, putter: reqless.Client, admin: redis.Redis
) -> None:
    jid = putter.queues["q"].put(KLASS, {})
    with reqless.PopWaiter(waiting, "q") as waiter:
        assert [job.jid for job in waiter.pop(1, LONG)] == [jid]
        assert admin.exists(wake_key("q")) == 0


def test_interrupt_from_another_thread_ends_the_wait_with_nothing(
    waiting: reqless.Client, admin: redis.Redis, threads: ThreadPoolExecutor
) -> None:
    with reqless.PopWaiter(waiting, "q") as waiter:
        popped = popping(threads, waiter)
        wait_blocked(admin)
        waiter.interrupt()
        assert popped.result(GUARD) == []
        assert blocked(admin) == 0
        # The waiter carries on: the interrupt was used up by that pop.
        assert waiter.pop(1, 0.1) == []


def test_interrupt_before_pop_makes_that_pop_return_at_once(
    waiting: reqless.Client, putter: reqless.Client, admin: redis.Redis
) -> None:
    jid = putter.queues["q"].put(KLASS, {})
    with reqless.PopWaiter(waiting, "q") as waiter:
        waiter.interrupt()
        waiter.interrupt()  # twice is once
        assert waiter.pop(1, LONG) == []
        assert putter.queues["q"].peek().jid == jid  # type: ignore[union-attr]
        assert [job.jid for job in waiter.pop(1, LONG)] == [jid]


def test_a_byte_in_the_pipe_without_an_interrupt_does_not_end_a_wait(
    waiting: reqless.Client,
    putter: reqless.Client,
    admin: redis.Redis,
    threads: ThreadPoolExecutor,
) -> None:
    with reqless.PopWaiter(waiting, "q") as waiter:
        # What an interrupt() leaves when its pop took the flag before it wrote the byte.
        os.write(waiter._write_fd, b"!")
        popped = popping(threads, waiter)
        wait_blocked(admin)
        jid = putter.queues["q"].put(KLASS, {})
        assert [job.jid for job in popped.result(GUARD)] == [jid]


def test_a_lost_connection_is_raised_and_the_next_pop_reconnects(
    waiting: reqless.Client,
    putter: reqless.Client,
    admin: redis.Redis,
    threads: ThreadPoolExecutor,
) -> None:
    with reqless.PopWaiter(waiting, "q") as waiter:
        popped = popping(threads, waiter)
        wait_blocked(admin)
        [blocked_id] = [c["id"] for c in admin.client_list() if c["cmd"] == "bzpopmin"]
        admin.client_kill_filter(_id=blocked_id)
        with pytest.raises(reqless.ServerUnavailableError):
            popped.result(GUARD)
        popped = popping(threads, waiter)
        wait_blocked(admin)
        jid = putter.queues["q"].put(KLASS, {})
        assert [job.jid for job in popped.result(GUARD)] == [jid]


def test_a_wait_ended_by_the_masters_demotion_is_an_outage_raised_at_once(
    make_client: Callable[..., reqless.Client],
    server: Server,
    admin: redis.Redis,
    threads: ThreadPoolExecutor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A failover's demotion ends the wait with UNBLOCKED (or READONLY): the caller must
    # hear of it at once and reconnect, not sleep out the wait as for a key it cannot
    # wait on. A client clock of its own writes the pop after the wake-up, so nothing
    # pipelined behind the wait reports the demotion in its stead.
    waiting = make_client(worker_name="waiter", clock=lambda: time.time())
    waiting.queues["q"].length()
    with reqless.PopWaiter(waiting, "q") as waiter:
        popped = popping(threads, waiter)
        wait_blocked(admin)
        # Replica of a master that is not there: read only, keeping its data.
        admin.execute_command("REPLICAOF", server.host, str(_free_port()))
        try:
            with pytest.raises(reqless.ServerUnavailableError):
                popped.result(GUARD)
            # Already a replica: the next pop is refused at once too.
            with pytest.raises(reqless.ServerUnavailableError):
                waiter.pop(1, LONG)
        finally:
            admin.execute_command("REPLICAOF", "NO", "ONE")
    assert "polling every wait instead" not in caplog.text


def test_a_pop_that_finds_the_core_gone_loads_it_and_pops(
    make_client: Callable[..., reqless.Client],
    waiting: reqless.Client,
    admin: redis.Redis,
    threads: ThreadPoolExecutor,
) -> None:
    quiet = make_client(wake_workers=False)
    jid = quiet.queues["q"].put(KLASS, {})
    with reqless.PopWaiter(waiting, "q") as waiter:
        assert waiter.pop(1, 0.1)[0].jid == jid
        other = quiet.queues["q"].put(KLASS, {})
        popped = popping(threads, waiter)
        wait_blocked(admin)
        admin.function_flush()
        admin.script_flush()
        admin.zadd(wake_key("q"), {"w0": 0})  # a wake-up from nobody's put
        assert [job.jid for job in popped.result(GUARD)] == [other]


def test_a_users_key_at_the_wake_key_makes_the_waiter_poll(
    waiting: reqless.Client,
    putter: reqless.Client,
    admin: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin.set(wake_key("q"), "the user's own")
    with reqless.PopWaiter(waiting, "q") as waiter, caplog.at_level(logging.WARNING):
        assert waiter.pop(1, 0.1) == []
        jid = putter.queues["q"].put(KLASS, {})
        assert [job.jid for job in waiter.pop(1, 0.1)] == [jid]
    assert len([r for r in caplog.records if "cannot wait" in r.getMessage()]) == 1
    assert admin.get(wake_key("q")) == "the user's own"


def test_bad_arguments_are_refused(waiting: reqless.Client) -> None:
    with pytest.raises(reqless.InvalidArgumentError):
        reqless.PopWaiter(waiting, "")
    with reqless.PopWaiter(waiting, "q") as waiter:
        for timeout in (0, -1, float("nan"), float("inf")):
            with pytest.raises(reqless.InvalidArgumentError):
                waiter.pop(1, timeout)
        with pytest.raises(reqless.InvalidArgumentError):
            waiter.pop(-1, 1)


def test_a_closed_waiter_opens_again_on_its_next_pop(
    waiting: reqless.Client, putter: reqless.Client
) -> None:
    waiter = reqless.PopWaiter(waiting, "q")
    waiter.close()
    waiter.interrupt()  # harmless once closed; still ends the next pop
    assert waiter.pop(1, LONG) == []
    jid = putter.queues["q"].put(KLASS, {})
    assert [job.jid for job in waiter.pop(1, LONG)] == [jid]
    waiter.close()
    waiter.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_waiter_used_after_fork_opens_its_own_connection(
    waiting: reqless.Client, putter: reqless.Client, admin: redis.Redis
) -> None:
    first = putter.queues["q"].put(KLASS, {})
    with reqless.PopWaiter(waiting, "q") as waiter:
        assert [job.jid for job in waiter.pop(1, LONG)] == [first]
        second = putter.queues["q"].put(KLASS, {})
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            try:
                jids = [job.jid for job in waiter.pop(1, LONG)]
                os.write(write_end, json.dumps(jids).encode())
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as report:
            assert json.loads(report.read() or "null") == [second]
        os.waitpid(pid, 0)
        # The parent's connection was left alone by the child.
        assert waiter.pop(1, 0.1) == []


@pytest.fixture(params=[("-client|unblock",), ("-client|unblock", "-client|id")])
def no_unblock_user(admin: redis.Redis, request: pytest.FixtureRequest) -> Iterator[str]:
    """An ACL user who may not ``CLIENT UNBLOCK`` (nor, once, learn its ``CLIENT ID``).

    Its password is its name.
    """
    denied: tuple[str, ...] = request.param
    admin.execute_command(
        "ACL", "SETUSER", "no-unblock", "on", ">no-unblock", "~*", "&*", "+@all", *denied
    )
    yield "no-unblock"
    # ACL users outlive FLUSHALL; later tests must not inherit them.
    admin.execute_command("ACL", "DELUSER", "no-unblock")


def test_an_interrupt_ends_the_wait_even_where_client_unblock_is_refused(
    server: Server,
    driver_name: str,
    form: str,
    admin: redis.Redis,
    threads: ThreadPoolExecutor,
    no_unblock_user: str,
) -> None:
    url = f"redis://{no_unblock_user}:{no_unblock_user}@{server.host}:{server.port}/0"
    with (
        reqless.Client(url, driver=driver_name, form=form) as client,  # type: ignore[arg-type]
        reqless.PopWaiter(client, "q") as waiter,
    ):
        with pytest.raises(reqless.PermissionDeniedError):
            client._driver.execute_command("CLIENT", "UNBLOCK", 1)
        popped = popping(threads, waiter)
        wait_blocked(admin)
        [entry] = [c for c in admin.client_list() if c["cmd"] == "bzpopmin"]
        assert entry["user"] == no_unblock_user  # the waiter's own connection logs in too
        waiter.interrupt()
        # Its connection is closed instead, which ends the wait on the server as well.
        assert popped.result(GUARD) == []
        assert blocked(admin) == 0
        jid = client.queues["q"].put(KLASS, {})
        assert [job.jid for job in waiter.pop(1, LONG)] == [jid]
