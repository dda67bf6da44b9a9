"""Reads and writes the public client API has no single call for.

The dashboard batches: several core commands go out in one round trip, job
objects for a whole page come from one ``job.getMulti``, and a bulk action
needs each command's own outcome. The asyncio client's internals that make
that possible are reached from here only, so the coupling has one address.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import reqless
import reqless.aio
from reqless import _protocol as p

__all__ = [
    "jobs_of",
    "peek",
    "recurring_of",
    "requeue_call",
    "run",
    "run_each",
    "run_many",
    "server_info",
]


async def run(client: reqless.aio.Client, call: p.Call[Any]) -> Any:
    return await client._run(call)


async def run_many(client: reqless.aio.Client, calls: Sequence[p.Call[Any]]) -> list[Any]:
    """Every call in one round trip; the first error (if any) is raised after all ran."""
    return await client._run_many(calls)


async def run_each(
    client: reqless.aio.Client, calls: Sequence[p.Call[Any]]
) -> list[Any | reqless.ReqlessError]:
    """Every call in one round trip; each result is its parsed reply or its error."""
    if not calls:
        return []
    results = await client._script.call_many([(call.command, call.args) for call in calls])
    return [
        result if isinstance(result, reqless.ReqlessError) else call.parse(result)
        for call, result in zip(calls, results, strict=True)
    ]


async def jobs_of(client: reqless.aio.Client, jids: Sequence[str]) -> list[reqless.aio.Job]:
    """The jobs that still exist, in the order given, from one ``job.getMulti``."""
    return await client.jobs.get(*jids) if jids else []


async def recurring_of(
    client: reqless.aio.Client, jids: Sequence[str]
) -> list[reqless.aio.RecurringJob]:
    calls = [p.Call("recurringJob.get", (jid,), p.parse_recurring) for jid in jids]
    states = await run_many(client, calls)
    return [reqless.aio.RecurringJob(client, state) for state in states if state is not None]


async def peek(
    client: reqless.aio.Client, queue: str, offset: int, limit: int
) -> list[reqless.aio.Job]:
    states = await client._run(p.peek(queue, limit, offset))
    return [reqless.aio.Job(client, state) for state in states]


def requeue_call(worker: str, job: reqless.aio.Job, queue: str) -> p.Call[str]:
    """``job.requeue`` into ``queue`` keeping everything else of the job.

    Built here rather than with ``Job.requeue`` because that one insists the
    class is an importable Python path, and a dashboard must handle jobs put
    by any client. The core keeps priority, tags, retries and dependencies on
    its own; throttles it does not carry over, so they are passed.
    """
    args = (
        worker,
        queue,
        job.jid,
        job.klass_name,
        job.data,
        0,
        "throttles",
        json.dumps(job.throttles, separators=(",", ":")),
    )
    return p.Call("job.requeue", args, str)


async def server_info(client: reqless.aio.Client) -> dict[str, Any]:
    """The server's version, memory and client count (``INFO``)."""
    raw = await client._driver.execute_command("INFO")
    info = _parse_info(raw)
    return {
        "version": info.get("valkey_version") or info.get("redis_version"),
        "used_memory": _int_or_none(info.get("used_memory")),
        "used_memory_human": info.get("used_memory_human"),
        "connected_clients": _int_or_none(info.get("connected_clients")),
        "uptime_in_seconds": _int_or_none(info.get("uptime_in_seconds")),
    }


def _parse_info(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return {str(k): v for k, v in raw.items()}
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    out: dict[str, Any] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and not line.startswith("#"):
            out[name] = value.strip()
    return out


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
