"""GET endpoints: everything the pages show, each in as few round trips as the core allows."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request

from reqless import commands
from reqless_web._api._common import (
    ApiError,
    Param,
    check_name,
    counts_json,
    endpoint,
    job_json,
    paging,
    path_param,
    query_int,
    recurring_json,
    stats_json,
)
from reqless_web._api._core import jobs_of, peek, recurring_of, run, run_many, server_info
from reqless_web._state import dashboard, role_of, user_of

PAGE = (Param("offset", description="first item, from 0"), Param("limit", description="1..500"))
QUEUE_STATES = (
    "waiting",
    "running",
    "stalled",
    "scheduled",
    "depends",
    "throttled",
    "recurring",
    "complete",
)
JOB = {"$ref": "#/components/schemas/Job"}
COUNTS = {"$ref": "#/components/schemas/QueueCounts"}


def _page(total: int | None, offset: int, limit: int, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"total": total, "offset": offset, "limit": limit, "jobs": jobs}


@endpoint("GET", "/session", summary="Who you are, your role and the CSRF token to send back")
async def session(request: Request) -> Any:
    settings = dashboard(request).settings
    return {
        "user": user_of(request),
        "role": role_of(request).name,
        "csrf_token": request.state.csrf_token,
        "auth": settings.auth,
        "root_path": request.state.root_path,
        "refresh": settings.refresh,
    }


@endpoint(
    "GET",
    "/overview",
    summary="Every queue's counts, failure groups, workers, tracked jobs and the server",
)
async def overview(request: Request) -> Any:
    client = dashboard(request).client
    counts, failures, workers, tracked = await run_many(
        client,
        [
            commands.all_queue_counts(),
            commands.failure_counts(),
            commands.worker_counts(),
            commands.tracked(),
        ],
    )
    return {
        "queues": [counts_json(c) for c in counts],
        "failures": failures,
        "workers": [asdict(w) for w in workers],
        "tracked": {"jobs": len(tracked.jobs), "expired": len(tracked.expired)},
        "redis": await server_info(client),
    }


@endpoint(
    "GET", "/queues", summary="Counts of every queue", returns={"type": "array", "items": COUNTS}
)
async def queues(request: Request) -> Any:
    counts = await dashboard(request).client.queues.counts()
    return [counts_json(c) for c in counts]


@endpoint(
    "GET",
    "/queues/{queue:path}/jobs",
    summary="One page of a queue's jobs in one state",
    query=(Param("state", "string", "|".join(QUEUE_STATES), required=True), *PAGE),
)
async def queue_jobs(request: Request) -> Any:
    client = dashboard(request).client
    queue = check_name("queue", path_param(request, "queue"))
    state = request.query_params.get("state", "waiting")
    if state not in QUEUE_STATES:
        raise ApiError(400, f"state must be one of {', '.join(QUEUE_STATES)}, got {state!r}")
    offset, limit = paging(request)
    result: dict[str, Any] = {"state": state}
    if state == "complete":
        # Completed jobs are one list for all queues; the core does not count it.
        jids = await run(client, commands.completed(offset, limit))
        jobs = await jobs_of(client, jids)
        return result | _page(None, offset, limit, [job_json(j) for j in jobs])
    if state == "waiting":
        counts = await client.queues[queue].counts()
        # Peek lists jobs with expired locks first; skipping them leaves the work queue.
        found = await peek(client, queue, offset + counts.stalled, limit)
        return result | _page(counts.waiting, offset, limit, [job_json(j) for j in found])
    counts, jids = await run_many(
        client, [commands.queue_counts(queue), commands.queue_jobs(queue, state, offset, limit)]
    )
    total = getattr(counts, state)
    if state == "recurring":
        templates = await recurring_of(client, jids)
        return result | _page(total, offset, limit, [recurring_json(r) for r in templates])
    jobs = await jobs_of(client, jids)
    return result | _page(total, offset, limit, [job_json(j) for j in jobs])


@endpoint(
    "GET",
    "/queues/{queue:path}/stats",
    summary="A queue's statistics for the day of `date`",
    query=(Param("date", "number", "a timestamp in the wanted day (default now)"),),
)
async def queue_stats(request: Request) -> Any:
    client = dashboard(request).client
    queue = check_name("queue", path_param(request, "queue"))
    return stats_json(await client.queues[queue].stats(_date(request, client.clock())))


@endpoint("GET", "/queues/{queue:path}", summary="A queue's counts, throttle and today's stats")
async def queue_detail(request: Request) -> Any:
    client = dashboard(request).client
    queue = check_name("queue", path_param(request, "queue"))
    counts, throttle, stats = await run_many(
        client,
        [
            commands.queue_counts(queue),
            commands.throttle(f"ql:q:{queue}"),
            commands.stats(queue, client.clock()),
        ],
    )
    return {
        "counts": counts_json(counts),
        "throttle": {"maximum": throttle.maximum, "ttl": throttle.ttl},
        "stats": stats_json(stats),
    }


def _date(request: Request, default: float) -> float:
    raw = request.query_params.get("date")
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, f"date must be a timestamp in seconds, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ApiError(400, f"date must be a finite timestamp, got {raw!r}")
    return value


@endpoint("GET", "/jobs/{jid}", summary="One job", returns=JOB)
async def job(request: Request) -> Any:
    jid = path_param(request, "jid")
    found = await jobs_of(dashboard(request).client, [jid])
    if not found:
        raise ApiError(404, f"no job {jid!r}")
    return job_json(found[0])


@endpoint("GET", "/failures", summary="Failure groups and how many jobs each holds")
async def failures(request: Request) -> Any:
    return await dashboard(request).client.jobs.failed()


@endpoint(
    "GET", "/failures/{group:path}", summary="One page of a failure group, newest first", query=PAGE
)
async def failure_group(request: Request) -> Any:
    client = dashboard(request).client
    group = check_name("group", path_param(request, "group"))
    offset, limit = paging(request)
    found = await client.jobs.failed(group, offset, limit)
    jobs = await jobs_of(client, found.jids)
    return {"group": group} | _page(found.total, offset, limit, [job_json(j) for j in jobs])


@endpoint("GET", "/workers", summary="Workers, most recently active first")
async def workers(request: Request) -> Any:
    return [asdict(w) for w in await dashboard(request).client.workers.counts()]


@endpoint("GET", "/workers/{worker:path}", summary="The jobs a worker holds and those it let stall")
async def worker(request: Request) -> Any:
    client = dashboard(request).client
    name = check_name("worker", path_param(request, "worker"))
    held = await client.workers[name]
    # A lock expiring exactly now is in both lists; one getMulti serves both.
    jobs = {j.jid: j for j in await jobs_of(client, list(dict.fromkeys(held.jobs + held.stalled)))}
    return {
        "name": name,
        "jobs": [job_json(jobs[jid]) for jid in held.jobs if jid in jobs],
        "stalled": [job_json(jobs[jid]) for jid in held.stalled if jid in jobs],
    }


@endpoint(
    "GET",
    "/tracked",
    summary="Tracked jobs (paged) and the jids of tracked jobs now gone",
    query=PAGE,
)
async def tracked(request: Request) -> Any:
    offset, limit = paging(request)
    found = await dashboard(request).client.jobs.tracked()
    jobs, expired = found.jobs, found.expired
    page = [job_json(j) for j in jobs[offset : offset + limit]]
    return _page(len(jobs), offset, limit, page) | {"expired": expired}


@endpoint(
    "GET",
    "/tags/top",
    summary="Tags used by at least two jobs, most used first",
    query=PAGE,
    returns={"type": "array", "items": {"type": "string"}},
)
async def top_tags(request: Request) -> Any:
    offset, limit = paging(request)
    return await dashboard(request).client.tags.top(offset, limit)


@endpoint("GET", "/tags/{tag:path}", summary="One page of the jobs carrying a tag", query=PAGE)
async def tagged(request: Request) -> Any:
    client = dashboard(request).client
    tag = check_name("tag", path_param(request, "tag"))
    offset, limit = paging(request)
    found = await client.jobs.tagged(tag, offset, limit)
    jobs = await jobs_of(client, found.jids)
    return {"tag": tag} | _page(found.total, offset, limit, [job_json(j) for j in jobs])


@endpoint("GET", "/throttles/{tid:path}", summary="A throttle's maximum, holders and waiters")
async def throttle(request: Request) -> Any:
    client = dashboard(request).client
    tid = check_name("throttle", path_param(request, "tid"))
    info, locks, pending = await run_many(
        client,
        [
            commands.throttle(tid),
            commands.throttle_locks(tid),
            commands.throttle_pending(tid),
        ],
    )
    return {"id": tid, "maximum": info.maximum, "ttl": info.ttl, "locks": locks, "pending": pending}


@endpoint(
    "GET",
    "/recurring",
    summary="A queue's recurring jobs",
    query=(Param("queue", "string", required=True), *PAGE),
    returns={"type": "array", "items": {"$ref": "#/components/schemas/RecurringJob"}},
)
async def recurring_list(request: Request) -> Any:
    client = dashboard(request).client
    queue = request.query_params.get("queue")
    if not queue:
        raise ApiError(400, "queue is required")
    check_name("queue", queue)
    offset = query_int(request, "offset", 0, minimum=0)
    limit = query_int(request, "limit", 100, minimum=1, maximum=500)
    jids = await run(client, commands.queue_jobs(queue, "recurring", offset, limit))
    return [recurring_json(r) for r in await recurring_of(client, jids)]


@endpoint(
    "GET",
    "/recurring/{jid}",
    summary="One recurring job",
    returns={"$ref": "#/components/schemas/RecurringJob"},
)
async def recurring(request: Request) -> Any:
    jid = path_param(request, "jid")
    found = await recurring_of(dashboard(request).client, [jid])
    if not found:
        raise ApiError(404, f"no recurring job {jid!r}")
    return recurring_json(found[0])


@endpoint("GET", "/patterns", summary="Queue identifier and priority patterns")
async def patterns(request: Request) -> Any:
    client = dashboard(request).client
    identifiers, priorities = await run_many(
        client, [commands.identifier_patterns(), commands.priority_patterns()]
    )
    return {"identifiers": identifiers, "priorities": [asdict(x) for x in priorities]}


@endpoint("GET", "/config", summary="Every core option with its current value")
async def config(request: Request) -> Any:
    return await dashboard(request).client.config.all()
