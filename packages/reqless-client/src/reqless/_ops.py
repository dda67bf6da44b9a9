"""Every client operation once, for the sync client and the asyncio twin alike.

An operation is sans-IO: a :class:`reqless._protocol.Call`, one of the steps
below, or a generator that yields such steps, receives each one's result and
returns the operation's result. It holds all the logic of a facade method
(which calls to make, in how many round trips, how replies become job
objects, when a put wakes a worker); the facades of :mod:`reqless` and
:mod:`reqless.aio` only hand it to their client's runner, :func:`run` or
:func:`run_async`, the one place where the two differ.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from functools import partial
from types import GeneratorType
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeAlias, TypeVar

from reqless import _patterns
from reqless import _protocol as p
from reqless._bulk import PUT, PutManyItem, put_many_args, put_many_jids
from reqless._errors import ReplicationTimeoutError, ReqlessError, ServerUnavailableError
from reqless._wake import wake_argv

if TYPE_CHECKING:
    from reqless._script import AsyncCoreScript, CoreScript

__all__ = [
    "Batch",
    "Host",
    "Op",
    "Raw",
    "Stream",
    "Waking",
    "run",
    "run_async",
]

T = TypeVar("T")
J = TypeVar("J")
R = TypeVar("R")
J_co = TypeVar("J_co", covariant=True)
R_co = TypeVar("R_co", covariant=True)


class Batch(NamedTuple):
    """Calls sent in one round trip; their parsed replies, the first refusal raised after all ran.

    With ``raw``, the replies as they came, each refusal in its place.
    """

    calls: Sequence[p.Call[Any]]
    raw: bool = False


class Waking(NamedTuple, Generic[T]):
    """A call that makes a job ready in ``queue``, with the wake-up ``ZADD`` written behind it."""

    call: p.Call[T]
    queue: str


class Raw(NamedTuple):
    """One plain server command outside the core (a read of a core key); its reply as given."""

    argv: tuple[p.Arg, ...]


class Stream(NamedTuple):
    """``command`` once per argument list, streamed, with ``trailer`` behind; the raw replies."""

    command: str
    arg_lists: Sequence[Sequence[p.Arg]]
    trailer: Sequence[p.Arg] | None


Step: TypeAlias = "p.Call[Any] | Waking[Any] | Batch | Stream | Raw"
#: An operation written as a generator: it yields steps, gets their results, returns its own.
Gen: TypeAlias = Generator[Step, Any, T]
#: An operation: one call (waking a worker or not), or a generator of steps.
Op: TypeAlias = "p.Call[T] | Waking[T] | Gen[T]"


class Host(Protocol[J_co, R_co]):
    """What an operation needs of the client it runs on."""

    @property
    def worker_name(self) -> str: ...
    @property
    def wake_workers(self) -> bool: ...
    @property
    def clock(self) -> Callable[[], float]: ...
    def _job(self, state: p.JobState) -> J_co: ...
    def _recurring(self, state: p.RecurringState) -> R_co: ...


# --------------------------------------------------------------------------- runners


def run(script: CoreScript, op: Op[T]) -> T:
    """Run ``op`` to its result on a sync client's core."""
    if type(op) is not GeneratorType:
        return _step(script, op)  # type: ignore[arg-type,no-any-return]
    gen: Gen[T] = op
    result: Any = None
    try:
        while True:
            step = gen.send(result)
            try:
                result = _step(script, step)
            except ReplicationTimeoutError as error:
                # Into the operation, which may make the master's replies its own
                # (see execute) before it raises the error again.
                gen.throw(error)
                raise
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def _step(script: CoreScript, step: Step) -> Any:
    if isinstance(step, p.Call):
        return step.parse(script.call(step.command, *step.args))
    if isinstance(step, Waking):
        call = step.call
        return call.parse(script.call_with_trailer(call.command, call.args, wake_argv(step.queue)))
    if isinstance(step, Batch):
        results = script.call_many([(call.command, call.args) for call in step.calls])
        return results if step.raw else parsed(step.calls, results)
    if isinstance(step, Raw):
        return script.driver.execute_command(*step.argv)
    return script.call_each(step.command, step.arg_lists, step.trailer)


async def run_async(script: AsyncCoreScript, op: Op[T]) -> T:
    """Run ``op`` to its result on an asyncio client's core."""
    if type(op) is not GeneratorType:
        return await _step_async(script, op)  # type: ignore[arg-type,no-any-return]
    gen: Gen[T] = op
    result: Any = None
    try:
        while True:
            step = gen.send(result)
            try:
                result = await _step_async(script, step)
            except ReplicationTimeoutError as error:
                gen.throw(error)  # see run()
                raise
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def _step_async(script: AsyncCoreScript, step: Step) -> Any:
    if isinstance(step, p.Call):
        return step.parse(await script.call(step.command, *step.args))
    if isinstance(step, Waking):
        call = step.call
        return call.parse(
            await script.call_with_trailer(call.command, call.args, wake_argv(step.queue))
        )
    if isinstance(step, Batch):
        results = await script.call_many([(call.command, call.args) for call in step.calls])
        return results if step.raw else parsed(step.calls, results)
    if isinstance(step, Raw):
        return await script.driver.execute_command(*step.argv)
    return await script.call_each(step.command, step.arg_lists, step.trailer)


def batch(calls: Sequence[p.Call[Any]]) -> Gen[list[Any]]:
    """``calls`` in one round trip (none for none); their parsed replies."""
    if not calls:
        return []
    return (yield Batch(calls))  # type: ignore[no-any-return]


def execute(
    host: Host[Any, Any],
    calls: Sequence[p.Call[Any]],
    return_errors: bool,
    job_class: Callable[[Any, p.JobState], Any] | None,
) -> Gen[list[Any]]:
    """``Client.execute``: each reply parsed, its jobs bound to the client; refusals raised
    once all ran, or left in their places with ``return_errors``. An outage answered
    in place of a reply (LOADING, READONLY...) is raised even with ``return_errors``:
    like a lost connection, it concerns the whole batch."""
    if not calls:
        return []
    bind = host._job if job_class is None else partial(job_class, host)
    try:
        results = yield Batch(calls, raw=True)
    except ReplicationTimeoutError as error:
        # The master did it all: its replies, as return_errors would have given them,
        # for a caller that goes on (the jobs a pop handed out are running).
        if len(error.replies) == len(calls):
            error.replies = _results(host, bind, calls, error.replies)
        raise
    for result in results:
        if isinstance(result, ServerUnavailableError) or (
            not return_errors and isinstance(result, ReqlessError)
        ):
            raise result
    return _results(host, bind, calls, results)


def _results(
    host: Host[Any, Any],
    bind: Callable[[p.JobState], Any],
    calls: Sequence[p.Call[Any]],
    results: list[Any],
) -> list[Any]:
    """Raw replies parsed and their jobs bound; refusals left in their places."""
    return [
        result if isinstance(result, ReqlessError) else _bound(host, bind, call.parse(result))
        for call, result in zip(calls, results, strict=True)
    ]


def _bound(host: Host[Any, Any], bind: Callable[[p.JobState], Any], result: Any) -> Any:
    """A parsed reply with its job states made into job objects of ``host``."""
    if isinstance(result, p.JobState):
        return bind(result)
    if isinstance(result, list) and result and isinstance(result[0], p.JobState):
        return [bind(state) for state in result]
    if isinstance(result, p.RecurringState):
        return host._recurring(result)
    if isinstance(result, p.TrackedJobs):
        return p.TrackedJobs([bind(state) for state in result.jobs], result.expired)
    return result


def parsed(calls: Sequence[p.Call[Any]], results: list[Any]) -> list[Any]:
    """Pipelined replies parsed; the first refusal (in call order) is raised."""
    for result in results:
        if isinstance(result, ReqlessError):
            raise result
    return [call.parse(result) for call, result in zip(calls, results, strict=True)]


def ready(host: Host[Any, Any], call: p.Call[T], queue: str) -> p.Call[T] | Waking[T]:
    """A call that makes a job ready in ``queue``: it wakes a waiting worker if the client does."""
    return Waking(call, queue) if host.wake_workers else call


# --------------------------------------------------------------------------- queues


def put(
    host: Host[Any, Any],
    queue: str,
    klass: p.KlassArg,
    data: p.DataArg,
    priority: int | None,
    tags: Sequence[str] | None,
    delay: float,
    retries: int | None,
    jid: str | None,
    depends: Sequence[str] | None,
    throttles: Sequence[str] | None,
    *,
    requeue: bool = False,
) -> p.Call[str] | Waking[str]:
    """``Queue.put``; with ``requeue``, ``Queue.requeue``: ``job.requeue`` with put's
    arguments (the job must exist)."""
    args = p.put_args(
        host.worker_name, queue, klass, data, priority, tags, delay, retries, jid, depends,
        throttles,
    )  # fmt: skip
    call = p.Call("job.requeue", args, str) if requeue else p.put_call(args)
    if delay:
        # Nobody can take a scheduled job yet: waking a worker would waste its pop.
        return call
    return ready(host, call, queue)


def put_many(host: Host[Any, Any], queue: str, jobs: Iterable[PutManyItem]) -> Gen[list[str]]:
    args = put_many_args(host.worker_name, queue, jobs)
    trailer = wake_argv(queue, len(args)) if host.wake_workers and args else None
    return put_many_jids((yield Stream(PUT, args, trailer)))


def take(
    host: Host[J, Any], call: Callable[[int], p.Call[list[p.JobState]]], count: int | None
) -> Gen[J | list[J] | None]:
    """``pop`` / ``peek``: one job (or None) without ``count``, else a list of up to ``count``."""
    if count == 0:
        return []
    states = yield call(count or 1)
    if count is None:
        return host._job(states[0]) if states else None
    return [host._job(state) for state in states]


def pop(host: Host[J, Any], queue: str, count: int | None) -> Gen[J | list[J] | None]:
    return take(host, lambda n: p.pop(queue, host.worker_name, n), count)


def peek(host: Host[J, Any], queue: str, count: int | None) -> Gen[J | list[J] | None]:
    return take(host, lambda n: p.peek(queue, n), count)


def queue_heartbeat(queue: str) -> Gen[int]:
    """The queue's lock duration: its ``<queue>-heartbeat`` option, else ``heartbeat``."""
    own, general = yield Batch([config_get(f"{queue}-heartbeat"), config_get("heartbeat")])
    value = own if own is not None else general
    return 60 if value is None else int(value)


def recurring_next(job: Any) -> Gen[float | None]:
    """When the recurring job spawns next: its score in ``ql:q:<queue>-recur`` (None if gone)."""
    score = yield Raw(("ZSCORE", f"ql:q:{job.queue_name}-recur", job.jid))
    return None if score is None else float(score)


def queue_length(queue: str) -> p.Call[int]:
    return p.Call("queue.length", (queue,), int)


def queue_names() -> p.Call[list[str]]:
    return p.Call("queues.names", (), lambda reply: [str(n) for n in p.parse_list(reply)])


def paused(queue: str) -> p.Call[bool]:
    counts = p.queue_counts(queue)
    return p.Call(counts.command, counts.args, lambda reply: counts.parse(reply).paused)


def unfail(queue: str, group: str, count: int) -> p.Call[int]:
    args = (queue, p.check_str("group", group), p.check_int("count", count, minimum=1))
    return p.Call("queue.unfail", args, int)


# --------------------------------------------------------------------------- jobs


def find(host: Host[J, R], jid: str) -> Gen[J | R | None]:
    """``client.jobs[jid]``: the job, else the recurring job, else None (one round trip)."""
    job, recurring = yield Batch(
        [
            p.Call("job.get", (jid,), p.parse_job),
            p.Call("recurringJob.get", (jid,), p.parse_recurring),
        ]
    )
    if job is not None:
        return host._job(job)
    if recurring is not None:
        return host._recurring(recurring)
    return None


def get_jobs(host: Host[J, Any], jids: Sequence[str]) -> Gen[list[J]]:
    if not jids:
        return []
    states = yield p.Call("job.getMulti", tuple(jids), p.parse_jobs)
    return [host._job(state) for state in states]


def tagged(tag: str, offset: int, limit: int) -> p.Call[p.JidPage]:
    return p.page(
        "jobs.tagged",
        p.check_str("tag", tag),
        p.check_int("offset", offset, minimum=0),
        p.check_int("limit", limit, minimum=0),
    )


def tracked(host: Host[J, Any]) -> Gen[p.TrackedJobs[J]]:
    found = yield p.tracked()
    return p.TrackedJobs([host._job(state) for state in found.jobs], found.expired)


def failed(host: Host[J, Any], group: str | None, start: int, limit: int) -> Gen[Any]:
    """Failure counts by group; or one group's page, its jobs fetched too (as reqless-py's)."""
    if group is None:
        return (yield p.failure_counts())
    found: p.JidPage = yield p.page(
        "jobs.failedByGroup",
        p.check_str("group", group),
        p.check_int("start", start, minimum=0),
        p.check_int("limit", limit, minimum=0),
    )
    states = (yield p.Call("job.getMulti", tuple(found.jids), p.parse_jobs)) if found.jids else []
    return p.JobPage(found.total, found.jids, [host._job(state) for state in states])


def track_jid(jid: str, on: bool) -> p.Call[bool]:
    """``client.track(jid)`` / ``untrack``: flag a job by jid, without fetching it."""
    return p.track("job.track" if on else "job.untrack", p.check_str("jid", jid))


# --------------------------------------------------------------------------- one job


def set_priority(job: Any, priority: int) -> Gen[None]:
    value = p.check_int("priority", priority)
    yield p.Call("job.setPriority", (job.jid, value), p.ignore_reply)
    job._state.priority = value


def complete(
    host: Host[Any, Any],
    job: Any,
    next_queue: str | None,
    delay: float | None,
    depends: Sequence[str] | None,
) -> p.Call[str] | Waking[str]:
    call = p.complete(
        job._state, job._worker(host.worker_name), next_queue, delay=delay, depends=depends
    )
    if next_queue is None or delay or depends:
        return call
    return ready(host, call, next_queue)


def fail(host: Host[Any, Any], job: Any, group: str, message: str) -> p.Call[str]:
    return p.fail(job._state, job._worker(host.worker_name), group, message)


def heartbeat(host: Host[Any, Any], job: Any) -> Gen[float]:
    expires = yield p.heartbeat(job._state, job._worker(host.worker_name))
    job._state.expires_at = expires
    return job._state.expires_at  # type: ignore[no-any-return]


def retry(
    host: Host[Any, Any], job: Any, delay: float, group: str | None, message: str | None
) -> p.Call[int]:
    return p.retry(job._state, job._worker(host.worker_name), delay, group, message)


def track(job: Any, on: bool) -> Gen[bool]:
    job._state.tracked = on
    return (yield p.track("job.track" if on else "job.untrack", job.jid))  # type: ignore[no-any-return]


def retag(job: Any, command: str, tags: Sequence[str]) -> Gen[list[str]]:
    """``job.addTag`` / ``job.removeTag`` (and the recurring twins); the tags after it."""
    names = p.check_strings("tags", tags)
    job._state.tags = yield p.tag_list(command, job.jid, *names)
    return list(job._state.tags)


def cancel(jid: str) -> p.Call[list[str]]:
    return p.Call("job.cancel", (jid,), p.as_str_list)


def depend(jid: str, jids: Sequence[str]) -> p.Call[None]:
    return p.Call("job.addDependency", (jid, *p.check_strings("jids", jids)), p.ignore_reply)


def undepend(jid: str, jids: Sequence[str], all: bool) -> p.Call[None]:
    targets = ["all"] if all else p.check_strings("jids", jids)
    return p.Call("job.removeDependency", (jid, *targets), p.ignore_reply)


def requeue(
    host: Host[Any, Any],
    job: Any,
    queue: str,
    delay: float,
    priority: int | None,
    tags: Sequence[str] | None,
    retries: int | None,
    depends: Sequence[str] | None,
    throttles: Sequence[str] | None,
) -> p.Call[str] | Waking[str]:
    call = p.requeue_job(
        host.worker_name, queue, job._state, delay, priority, tags, retries, depends, throttles
    )
    return call if delay else ready(host, call, queue)


_RECURRING_FIELDS = frozenset(
    ("priority", "retries", "interval", "data", "klass", "backlog", "queue", "throttles")
)


def update_recurring(job: Any, changes: Mapping[str, Any]) -> Gen[None]:
    unknown = set(changes) - _RECURRING_FIELDS
    if unknown:
        raise TypeError(f"update() got unexpected keyword arguments {sorted(unknown)}")
    if changes:
        yield p.recurring_update(job.jid, **changes)
        job._apply(changes)


# --------------------------------------------------------------------------- the rest


def config_get(key: str) -> p.Call[Any]:
    return p.Call("config.get", (p.check_str("key", key),), p.config_decoded)


def config_set(key: str, value: str | int | float) -> p.Call[None]:
    return p.no_reply("config.set", p.check_str("key", key), p.config_value(value))


def config_unset(key: str) -> p.Call[None]:
    return p.no_reply("config.unset", p.check_str("key", key))


def config_clear() -> Gen[None]:
    keys = yield p.config_all()
    if keys:
        yield Batch([p.no_reply("config.unset", key) for key in keys])


def forget_workers(workers: Sequence[str]) -> Gen[None]:
    if workers:
        yield p.no_reply("worker.forget", *p.check_strings("workers", workers))


def release(throttle: str, jids: Sequence[str]) -> Gen[None]:
    if jids:
        yield p.no_reply("throttle.release", throttle, *p.check_strings("jids", jids))


def set_throttle(name: str, maximum: int | None, expiration: int | None) -> p.Call[None]:
    """``throttle.set``; None stands for 0 (no limit, no expiry), as reqless-py accepted."""
    return p.throttle_set(name, 0 if maximum is None else maximum, expiration or 0)


def throttle_field(name: str, field: str) -> p.Call[int]:
    info = p.throttle_info(name)
    return p.Call(info.command, info.args, lambda reply: getattr(info.parse(reply), field))


def resolve(specs: Sequence[str]) -> Gen[list[str]]:
    """The known queues ``specs`` select (default ``@default``), in priority order."""
    identifiers, priorities, names = yield Batch(
        [p.identifier_patterns(), p.priority_patterns(), p.json_list("queues.names")]
    )
    queues = _patterns.resolve_queues(specs or ("@default",), identifiers, names)
    return _patterns.order_queues(queues, priorities)
