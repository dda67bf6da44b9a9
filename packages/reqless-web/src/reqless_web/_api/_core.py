"""Reads and writes the public client API has no single call for.

The dashboard batches: several core commands go out in one round trip, job
objects for a whole page come from one ``job.getMulti``, and a bulk action
needs each command's own outcome. All of it goes through the client's public
batch API (:mod:`reqless.commands` and ``Client.execute``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import reqless
import reqless.aio
from reqless import commands

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


async def run(client: reqless.aio.Client, call: commands.Call[Any]) -> Any:
    (result,) = await client.execute(call)
    return result


async def run_many(client: reqless.aio.Client, calls: Sequence[commands.Call[Any]]) -> list[Any]:
    """Every call in one round trip; the first error (if any) is raised after all ran."""
    return await client.execute(*calls)


async def run_each(
    client: reqless.aio.Client, calls: Sequence[commands.Call[Any]]
) -> list[Any | reqless.ReqlessError]:
    """Every call in one round trip; each result is its parsed reply or its error."""
    return await client.execute(*calls, return_errors=True)


async def jobs_of(client: reqless.aio.Client, jids: Sequence[str]) -> list[reqless.aio.Job]:
    """The jobs that still exist, in the order given, from one ``job.getMulti``."""
    return await client.jobs.get(*jids) if jids else []


async def recurring_of(
    client: reqless.aio.Client, jids: Sequence[str]
) -> list[reqless.aio.RecurringJob]:
    found = await run_many(client, [commands.recurring_job(jid) for jid in jids])
    return [job for job in found if job is not None]


async def peek(
    client: reqless.aio.Client, queue: str, offset: int, limit: int
) -> list[reqless.aio.Job]:
    jobs: list[reqless.aio.Job] = await run(client, commands.peek(queue, limit, offset))
    return jobs


def requeue_call(worker: str, job: reqless.aio.Job, queue: str) -> commands.Call[str]:
    """``job.requeue`` into ``queue`` keeping everything else of the job.

    Not ``Job.requeue``'s checks of a new class: a dashboard must handle jobs
    put by any client, so the stored class name goes back as it is.
    """
    return commands.requeue(job, queue, worker=worker)


async def server_info(client: reqless.aio.Client) -> dict[str, Any]:
    """The server's version, memory and client count (``INFO``)."""
    info = await client.server_info()
    return {
        "version": info.get("valkey_version") or info.get("redis_version"),
        "used_memory": _int_or_none(info.get("used_memory")),
        "used_memory_human": info.get("used_memory_human"),
        "connected_clients": _int_or_none(info.get("connected_clients")),
        "uptime_in_seconds": _int_or_none(info.get("uptime_in_seconds")),
    }


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
