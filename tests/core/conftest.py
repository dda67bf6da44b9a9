"""Call the built core the way a client does, in both of its forms.

Every core test runs twice per server: once on the Function form (the library
``FUNCTION LOAD`` installs, called as ``FCALL reqless 0 <command> <now> ...``,
which clients use where the server allows) and once on the EVAL form
(``EVALSHA <sha> 0 <command> <now> ...``).

``core.call(command, *args, now=...)`` returns the decoded reply;
``core.json(...)`` parses a JSON reply; ``core.raises(pattern, ...)`` asserts an
error whose text matches and that no key changed; ``core.events(*channels)``
collects what a command publishes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest
import redis

from tests.conftest import Server

CORE_DIR = Path(__file__).resolve().parents[2] / "reqless-core"


def _load_build_module() -> Any:
    spec = importlib.util.spec_from_file_location("reqless_core_build", CORE_DIR / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FORMS = ("function", "eval")


@pytest.fixture(scope="session")
def core_script() -> str:
    """The EVAL script, freshly built from the modules in this checkout."""
    return str(_load_build_module().eval_script())


@pytest.fixture(scope="session")
def core_library() -> str:
    """The FUNCTION LOAD library, freshly built from the modules in this checkout."""
    return str(_load_build_module().function_library())


class Events:
    """Messages published while the ``with`` block ran, in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def parsed(self) -> list[tuple[str, Any]]:
        """(channel, payload) with JSON payloads decoded; jid payloads stay strings."""
        out: list[tuple[str, Any]] = []
        for channel, data in self.messages:
            try:
                value = json.loads(data)
            except ValueError:
                value = data
            out.append((channel, value if isinstance(value, dict) else data))
        return out


class Core:
    """The built core on one server, in one form (``"function"`` or ``"eval"``)."""

    def __init__(self, server: Server, script: str, library: str, form: str = "eval") -> None:
        self.server = server
        self.form = form
        self.redis: redis.Redis = server.client(decode_responses=True)
        self.script = script
        self.sha = hashlib.sha1(script.encode()).hexdigest()
        if form == "function":
            # flushall leaves functions in place: replace whatever a test loaded before.
            self.redis.function_load(library, replace=True)
        else:
            self.redis.script_load(script)

    def call(self, command: str, *args: Any, now: float | str | None = 0) -> Any:
        argv = [command] + ([] if now is None else [now]) + list(args)
        if self.form == "function":
            return self.redis.fcall("reqless", 0, *argv)
        return self.redis.evalsha(self.sha, 0, *argv)

    def raw(self, numkeys: int, *words: Any) -> Any:
        """The form's call with an arbitrary KEYS/ARGV split, which ``call`` cannot express."""
        if self.form == "function":
            return self.redis.fcall("reqless", numkeys, *words)
        return self.redis.evalsha(self.sha, numkeys, *words)

    def json(self, command: str, *args: Any, now: float = 0) -> Any:
        reply = self.call(command, *args, now=now)
        return None if reply is None else json.loads(reply)

    def snapshot(self) -> dict[str, Any]:
        """Every key with its type and content, for 'nothing changed' checks."""
        out: dict[str, Any] = {}
        r = self.redis
        keys = cast(list[str], r.keys("*"))  # decode_responses=True: str keys
        for key in sorted(keys):
            kind = r.type(key)
            if kind == "string":
                out[key] = (kind, r.get(key))
            elif kind == "hash":
                out[key] = (kind, r.hgetall(key))
            elif kind == "list":
                out[key] = (kind, r.lrange(key, 0, -1))
            elif kind == "set":
                out[key] = (kind, sorted(r.smembers(key)))
            elif kind == "zset":
                out[key] = (kind, r.zrange(key, 0, -1, withscores=True))
            else:
                out[key] = (kind, None)
        return out

    def raises(self, pattern: str, command: str, *args: Any, now: float | str | None = 0) -> str:
        """Assert the command fails with a message matching ``pattern`` and writes nothing."""
        before = self.snapshot()
        with pytest.raises(redis.exceptions.ResponseError) as info:
            self.call(command, *args, now=now)
        message = str(info.value)
        assert re.search(pattern, message), message
        assert self.snapshot() == before, f"{command} wrote before failing"
        return message

    @contextmanager
    def events(self, *channels: str) -> Iterator[Events]:
        """Collect what is published on ``channels`` (default: every ``ql:*``)."""
        pubsub = self.redis.pubsub()
        if channels:
            pubsub.subscribe(*channels, "ql:__end__")
        else:
            pubsub.psubscribe("ql:*")
        expected = len(channels) + 1 if channels else 1
        confirmed = 0
        while confirmed < expected:
            message = pubsub.get_message(timeout=2)
            assert message is not None, "subscription was not confirmed"
            if message["type"] in ("subscribe", "psubscribe"):
                confirmed += 1
        collected = Events()
        try:
            yield collected
            # A sentinel published last marks the end of what the command sent.
            self.redis.publish("ql:__end__", "end")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                message = pubsub.get_message(timeout=1)
                if message is None or message["type"] not in ("message", "pmessage"):
                    continue
                if message["channel"] == "ql:__end__":
                    break
                collected.messages.append((message["channel"], message["data"]))
        finally:
            pubsub.close()


@pytest.fixture(params=FORMS)
def core(
    request: pytest.FixtureRequest, server: Server, core_script: str, core_library: str
) -> Iterator[Core]:
    """The core loaded into a flushed server: each test runs on both backends, in both forms."""
    instance = Core(server, core_script, core_library, request.param)
    yield instance
    instance.redis.close()
