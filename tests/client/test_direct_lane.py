"""The drivers' direct lane: the core's calls skip the library's command path, not its behaviour.

Core calls and pipelines are sent on connections the driver borrowed from the
library's pool. These tests show the lane keeps what the generic path gave:
a killed connection is reconnected transparently, error replies stay typed
and in place, and the lane's connections go back to the pool on close.
"""

from __future__ import annotations

import os

import pytest
import redis

from reqless._errors import InvalidArgumentError, ScriptNotLoadedError
from reqless.drivers import Driver
from reqless.drivers._resp import CommandHead, pack_command

SCRIPT = "return ARGV[1]"


def _kill_other_clients(admin: redis.Redis) -> None:
    # SKIPME defaults to yes: only the driver's connections are cut.
    admin.execute_command("CLIENT", "KILL", "TYPE", "normal")


def test_a_core_call_after_the_server_dropped_the_connection_reconnects(
    driver: Driver, admin: redis.Redis
) -> None:
    sha = driver.script_load(SCRIPT)
    assert driver.evalsha(sha, "before") == "before"
    _kill_other_clients(admin)
    assert driver.evalsha(sha, "after") == "after"


def test_a_pipeline_after_the_server_dropped_the_connection_reconnects(
    driver: Driver, admin: redis.Redis
) -> None:
    sha = driver.script_load(SCRIPT)
    assert driver.evalsha(sha, "warm") == "warm"
    _kill_other_clients(admin)
    pipe = driver.pipeline()
    pipe.evalsha(sha, "a")
    pipe.evalsha("0" * 40, "missing")
    pipe.evalsha(sha, "b")
    results = pipe.execute()
    assert results[0] == "a"
    assert isinstance(results[1], ScriptNotLoadedError)
    assert results[2] == "b"


def test_an_error_reply_leaves_the_connection_usable(driver: Driver) -> None:
    sha = driver.script_load(SCRIPT)
    for _ in range(3):
        with pytest.raises(ScriptNotLoadedError):
            driver.evalsha("0" * 40, "x")
        assert driver.evalsha(sha, "still in step") == "still in step"


def test_a_pipeline_reads_every_reply_of_a_large_batch(driver: Driver) -> None:
    sha = driver.script_load(SCRIPT)
    pipe = driver.pipeline()
    for n in range(2000):
        pipe.evalsha(sha, str(n))
    assert pipe.execute() == [str(n) for n in range(2000)]
    assert driver.evalsha(sha, "next") == "next"


def test_close_disconnects_the_lane_connections(driver: Driver, admin: redis.Redis) -> None:
    sha = driver.script_load(SCRIPT)
    driver.evalsha(sha, "x")
    before = len(admin.client_list())
    driver.close()
    assert len(admin.client_list()) < before


def test_a_forked_child_uses_its_own_connections(driver: Driver) -> None:
    sha = driver.script_load(SCRIPT)
    assert driver.evalsha(sha, "parent") == "parent"
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if it inherited no lane connection and its call worked
        code = 1
        try:
            inherited = len(getattr(driver, "_lane")._idle)  # noqa: B009 - internal state
            worked = driver.evalsha(sha, "child") == "child"
            code = 0 if worked and not inherited else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # Had the child used the parent's socket, this reply would be out of step.
    assert driver.evalsha(sha, "parent again") == "parent again"


@pytest.mark.parametrize(
    "command",
    [
        ("FCALL", "reqless", 0, "queue.put", "1.500"),
        ("SET", "ключ", "é", -3, 2.5, b"\x00\xff"),
        ("PING",),
    ],
)
def test_commands_are_packed_as_resp_arrays_of_bulk_strings(command: tuple[object, ...]) -> None:
    words = [w if isinstance(w, bytes) else str(w).encode() for w in command]
    expected = b"*%d\r\n" % len(words) + b"".join(
        b"$%d\r\n%s\r\n" % (len(word), word) for word in words
    )
    assert pack_command(command) == expected
    head, rest = command[:1], command[1:]
    assert CommandHead(*head).pack(rest) == expected


@pytest.mark.parametrize("bad", [None, True, object()])
def test_an_argument_of_another_type_is_invalid(bad: object) -> None:
    with pytest.raises(InvalidArgumentError):
        pack_command(("SET", "k", bad))
