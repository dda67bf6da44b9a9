"""Put, pop and hold jobs through the core: the steps most core tests start with."""

from __future__ import annotations

import json
from typing import Any

from tests.core.conftest import Core

# Invalid JSON raises the decoder's own message, which differs between
# implementations; the spec only asks for an error.
BAD_JSON = r"JSON|Expected|[Dd]ecode|argument"


def put(
    core: Core,
    jid: str,
    queue: str = "q",
    *,
    now: float = 0,
    delay: float = 0,
    data: str = "{}",
    **options: Any,
) -> str:
    """``queue.put`` by worker ``w``; list and dict options are sent as JSON."""
    extra: list[Any] = []
    for name, value in options.items():
        extra += [name, value if isinstance(value, str | int | float) else json.dumps(value)]
    return str(core.call("queue.put", "w", queue, jid, "klass", data, delay, *extra, now=now))


def pop(core: Core, queue: str = "q", worker: str = "w", *, now: float = 0) -> list[Any]:
    """Pop one job as ``worker``; the decoded job objects."""
    return list(core.json("queue.pop", queue, worker, 1, now=now))


def run(
    core: Core, jid: str, queue: str = "q", *, worker: str = "w", now: float = 0, **options: Any
) -> None:
    """Put a job and pop it so that ``worker`` holds it."""
    put(core, jid, queue, now=now, **options)
    assert [job["jid"] for job in pop(core, queue, worker, now=now)] == [jid]
