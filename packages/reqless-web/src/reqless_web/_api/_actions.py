"""Mutating endpoints: job, queue, throttle, recurring, pattern and config actions.

Operators act on jobs and queues; admins change configuration, patterns and
forget things. The security middleware has already checked the CSRF token.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

import reqless
import reqless.aio
from reqless import commands
from reqless_web._api._common import (
    ApiError,
    body_of,
    bool_field,
    check_name,
    endpoint,
    int_field,
    job_json,
    number_field,
    path_param,
    recurring_json,
    str_field,
    str_list_field,
)
from reqless_web._api._core import jobs_of, recurring_of, requeue_call, run
from reqless_web._api._reads import patterns
from reqless_web._settings import Role
from reqless_web._state import dashboard

OPERATOR = Role.operator
ADMIN = Role.admin
STRINGS = {"type": "array", "items": {"type": "string"}}


async def _job(request: Request) -> reqless.aio.Job:
    jid = path_param(request, "jid")
    found = await jobs_of(dashboard(request).client, [jid])
    if not found:
        raise ApiError(404, f"no job {jid!r}")
    return found[0]


async def _refetched(client: reqless.aio.Client, jid: str) -> dict[str, Any] | None:
    found = await jobs_of(client, [jid])
    return job_json(found[0]) if found else None


# --------------------------------------------------------------------------- queues


def _queue(request: Request) -> reqless.aio.Queue:
    name = check_name("queue", path_param(request, "queue"))
    return dashboard(request).client.queues[name]


@endpoint("POST", "/queues/{queue:path}/pause", role=OPERATOR, summary="Stop handing out jobs")
async def pause(request: Request) -> Any:
    queue = _queue(request)
    await queue.pause()
    return {"queue": queue.name, "paused": True}


@endpoint("POST", "/queues/{queue:path}/unpause", role=OPERATOR, summary="Resume handing out jobs")
async def unpause(request: Request) -> Any:
    queue = _queue(request)
    await queue.unpause()
    return {"queue": queue.name, "paused": False}


@endpoint(
    "POST",
    "/queues/{queue:path}/throttle",
    role=OPERATOR,
    summary="Set how many of the queue's jobs may run at once (0: unlimited)",
    body={"maximum": {"type": "integer", "minimum": 0}},
)
async def queue_throttle(request: Request) -> Any:
    queue = _queue(request)
    maximum = int_field(await body_of(request), "maximum", minimum=0)
    assert maximum is not None
    await queue.throttle.set_maximum(maximum)
    info = await queue.throttle.info()
    return {"queue": queue.name, "maximum": info.maximum, "ttl": info.ttl}


@endpoint(
    "POST",
    "/queues/{queue:path}/forget",
    role=ADMIN,
    summary="Drop the queue from the list of queues (its jobs are untouched)",
)
async def forget_queue(request: Request) -> Any:
    queue = _queue(request)
    await queue.forget()
    return {"queue": queue.name, "forgotten": True}


# --------------------------------------------------------------------------- jobs


@endpoint(
    "POST",
    "/jobs/{jid}/retry",
    role=OPERATOR,
    summary="Put the job back into its queue (or `queue`) to run again",
    body={"queue": {"type": "string"}},
)
async def retry(request: Request) -> Any:
    job = await _job(request)
    queue = str_field(await body_of(request), "queue", required=False) or job.queue_name
    if not queue:
        raise ApiError(400, f"job {job.jid!r} is {job.state} and in no queue; say which queue")
    return await _requeue(request, job, queue)


@endpoint(
    "POST",
    "/jobs/{jid}/move",
    role=OPERATOR,
    summary="Move the job to another queue",
    body={"queue": {"type": "string"}},
)
async def move(request: Request) -> Any:
    job = await _job(request)
    queue = str_field(await body_of(request), "queue")
    assert queue is not None
    return await _requeue(request, job, check_name("queue", queue))


async def _requeue(request: Request, job: reqless.aio.Job, queue: str) -> Any:
    client = dashboard(request).client
    await run(client, requeue_call(client.worker_name, job, queue))
    return await _refetched(client, job.jid)


@endpoint("POST", "/jobs/{jid}/cancel", role=OPERATOR, summary="Cancel (delete) the job")
async def cancel(request: Request) -> Any:
    job = await _job(request)
    if job.state == "complete":
        raise ApiError(400, f"job {job.jid!r} is complete; completed jobs cannot be canceled")
    await job.cancel()
    return {"jid": job.jid, "canceled": True}


@endpoint(
    "POST",
    "/jobs/{jid}/priority",
    role=OPERATOR,
    summary="Change the job's priority (higher runs first)",
    body={"priority": {"type": "integer"}},
)
async def priority(request: Request) -> Any:
    job = await _job(request)
    value = int_field(await body_of(request), "priority")
    assert value is not None
    await job.set_priority(value)
    return await _refetched(dashboard(request).client, job.jid)


@endpoint("POST", "/jobs/{jid}/track", role=OPERATOR, summary="Track the job")
async def track(request: Request) -> Any:
    job = await _job(request)
    await job.track()
    return {"jid": job.jid, "tracked": True}


@endpoint("POST", "/jobs/{jid}/untrack", role=OPERATOR, summary="Stop tracking the job")
async def untrack(request: Request) -> Any:
    job = await _job(request)
    await job.untrack()
    return {"jid": job.jid, "tracked": False}


@endpoint(
    "POST",
    "/jobs/{jid}/tag",
    role=OPERATOR,
    summary="Add tags to the job",
    body={"tags": STRINGS},
    returns={"type": "object", "properties": {"jid": {"type": "string"}, "tags": STRINGS}},
)
async def tag(request: Request) -> Any:
    job = await _job(request)
    tags = str_list_field(await body_of(request), "tags")
    assert tags is not None
    return {"jid": job.jid, "tags": await job.tag(*tags)}


@endpoint(
    "POST",
    "/jobs/{jid}/untag",
    role=OPERATOR,
    summary="Remove tags from the job",
    body={"tags": STRINGS},
)
async def untag(request: Request) -> Any:
    job = await _job(request)
    tags = str_list_field(await body_of(request), "tags")
    assert tags is not None
    return {"jid": job.jid, "tags": await job.untag(*tags)}


@endpoint(
    "POST",
    "/jobs/{jid}/undepend",
    role=OPERATOR,
    summary="Drop some (`jids`) or all (`all: true`) of a waiting job's dependencies",
    body={"jids": STRINGS, "all": {"type": "boolean"}},
)
async def undepend(request: Request) -> Any:
    job = await _job(request)
    body = await body_of(request)
    if bool_field(body, "all"):
        await job.undepend(all=True)
    else:
        jids = str_list_field(body, "jids")
        assert jids is not None
        await job.undepend(*jids)
    return await _refetched(dashboard(request).client, job.jid)


@endpoint(
    "POST",
    "/jobs/{jid}/timeout",
    role=OPERATOR,
    summary="Take a running job's lock away now, as if it had expired",
)
async def timeout(request: Request) -> Any:
    job = await _job(request)
    await job.timeout()
    return await _refetched(dashboard(request).client, job.jid)


# --------------------------------------------------------------------------- workers


@endpoint(
    "POST",
    "/workers/{worker:path}/forget",
    role=ADMIN,
    summary="Drop a worker from the list of workers",
)
async def forget_worker(request: Request) -> Any:
    name = check_name("worker", path_param(request, "worker"))
    await dashboard(request).client.workers.forget(name)
    return {"worker": name, "forgotten": True}


# --------------------------------------------------------------------------- throttles


@endpoint(
    "POST",
    "/throttles/{tid:path}/release",
    role=OPERATOR,
    summary="Release the throttle's lock held (or the wait) by each of `jids`",
    body={"jids": STRINGS},
)
async def release(request: Request) -> Any:
    tid = check_name("throttle", path_param(request, "tid"))
    jids = str_list_field(await body_of(request), "jids")
    assert jids is not None
    await dashboard(request).client.throttles[tid].release(*jids)
    return {"id": tid, "released": jids}


@endpoint(
    "POST",
    "/throttles/{tid:path}",
    role=ADMIN,
    summary="Set a throttle's maximum (0: unlimited) and optional expiration in seconds",
    body={"maximum": {"type": "integer", "minimum": 0}, "expiration": {"type": "integer"}},
)
async def set_throttle(request: Request) -> Any:
    tid = check_name("throttle", path_param(request, "tid"))
    body = await body_of(request)
    maximum = int_field(body, "maximum", minimum=0)
    expiration = int_field(body, "expiration", required=False, minimum=0) or 0
    assert maximum is not None
    throttle = dashboard(request).client.throttles[tid]
    await throttle.set_maximum(maximum, expiration)
    info = await throttle.info()
    return {"id": tid, "maximum": info.maximum, "ttl": info.ttl}


@endpoint(
    "DELETE",
    "/throttles/{tid:path}",
    role=ADMIN,
    summary="Delete a throttle's definition (it becomes unlimited)",
)
async def delete_throttle(request: Request) -> Any:
    tid = check_name("throttle", path_param(request, "tid"))
    await dashboard(request).client.throttles[tid].delete()
    return {"id": tid, "deleted": True}


# --------------------------------------------------------------------------- recurring


async def _recurring(request: Request) -> reqless.aio.RecurringJob:
    jid = path_param(request, "jid")
    found = await recurring_of(dashboard(request).client, [jid])
    if not found:
        raise ApiError(404, f"no recurring job {jid!r}")
    return found[0]


@endpoint(
    "POST",
    "/recurring/{jid}",
    role=OPERATOR,
    summary="Change a recurring job's interval, priority, retries, data or backlog",
    body={
        "interval": {"type": "number", "exclusiveMinimum": 0},
        "priority": {"type": "integer"},
        "retries": {"type": "integer", "minimum": 0},
        "backlog": {"type": "integer", "minimum": 0},
        "data": {"description": "JSON text, or any JSON value to encode"},
    },
)
async def update_recurring(request: Request) -> Any:
    job = await _recurring(request)
    body = await body_of(request)
    unknown = sorted(set(body) - {"interval", "priority", "retries", "backlog", "data"})
    if unknown:
        raise ApiError(400, f"unknown field(s) {', '.join(unknown)}")
    changes: dict[str, Any] = {}
    if "interval" in body:
        changes["interval"] = number_field(body, "interval", positive=True)
    for name in ("priority", "retries", "backlog"):
        if name in body:
            changes[name] = int_field(body, name, minimum=None if name == "priority" else 0)
    if "data" in body:
        changes["data"] = body["data"]
    if not changes:
        raise ApiError(400, "nothing to change: give interval, priority, retries, backlog or data")
    await job.update(**changes)
    return recurring_json(await _recurring(request))


@endpoint("POST", "/recurring/{jid}/cancel", role=OPERATOR, summary="Stop a recurring job spawning")
async def cancel_recurring(request: Request) -> Any:
    job = await _recurring(request)
    await job.cancel()
    return {"jid": job.jid, "canceled": True}


# --------------------------------------------------------------------------- patterns, config


@endpoint(
    "PUT",
    "/patterns",
    role=ADMIN,
    summary="Replace the queue identifier patterns and/or the priority patterns",
    body={
        "identifiers": {"type": "object", "additionalProperties": STRINGS},
        "priorities": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"pattern": STRINGS, "fairly": {"type": "boolean"}},
            },
        },
    },
)
async def set_patterns(request: Request) -> Any:
    client = dashboard(request).client
    body = await body_of(request)
    if "identifiers" not in body and "priorities" not in body:
        raise ApiError(400, "give identifiers and/or priorities")
    calls: list[commands.Call[Any]] = []
    if "identifiers" in body:
        identifiers = body["identifiers"]
        if not isinstance(identifiers, dict):
            raise ApiError(400, "identifiers must be an object of name: [patterns]")
        for name in identifiers:
            str_list_field(identifiers, name, allow_empty=True)
        calls.append(commands.set_identifier_patterns(identifiers))
    if "priorities" in body:
        calls.append(commands.set_priority_patterns(_priorities(body["priorities"])))
    for call in calls:
        await run(client, call)
    return await patterns(request)


def _priorities(value: Any) -> list[reqless.PriorityPattern]:
    if not isinstance(value, list):
        raise ApiError(400, "priorities must be a list of {pattern: [...], fairly: bool}")
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise ApiError(400, f"priority pattern must be an object, got {item!r}")
        pattern = str_list_field(item, "pattern")
        assert pattern is not None
        out.append(reqless.PriorityPattern(pattern, bool_field(item, "fairly")))
    return out


@endpoint(
    "PUT",
    "/config/{key}",
    role=ADMIN,
    summary="Set a core option",
    body={"value": {"type": ["string", "number"]}},
)
async def set_config(request: Request) -> Any:
    key = check_name("option", path_param(request, "key"))
    body = await body_of(request)
    value = body.get("value")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ApiError(400, f"value must be a string or a number, got {value!r}")
    client = dashboard(request).client
    await client.config.set(key, value)
    return {"key": key, "value": (await client.config.all()).get(key)}


@endpoint("DELETE", "/config/{key}", role=ADMIN, summary="Restore a core option's default")
async def unset_config(request: Request) -> Any:
    key = check_name("option", path_param(request, "key"))
    client = dashboard(request).client
    await client.config.unset(key)
    return {"key": key, "value": (await client.config.all()).get(key)}
