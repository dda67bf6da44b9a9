"""Core arguments and replies: the one place that speaks the protocol.

Everything here is pure (no I/O), so the sync client and the asyncio twin run
exactly the same validation, argument building and reply parsing; they only
differ in how a :class:`Call` reaches the server. User input is validated here,
before anything is sent, and bad input raises :class:`InvalidArgumentError`
naming the offending value.
"""

from __future__ import annotations

import json
import math
import os
import re
import reprlib
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, NamedTuple, TypeAlias, TypeVar

from reqless import _json
from reqless._errors import InvalidArgumentError
from reqless._models import (
    EVENT_NAMES,
    JID_CHANNELS,
    Event,
    Failure,
    JidPage,
    JobPage,
    JobState,
    PriorityPattern,
    QueueCounts,
    QueueStats,
    RecurringState,
    ThrottleInfo,
    TimingStats,
    TrackedJobs,
    WorkerCounts,
    WorkerJobs,
    as_list,
    counts_from_dict,
    event_channel,
    job_from_dict,
    parse_event,
    parse_job,
    parse_jobs,
    parse_list,
    parse_page,
    parse_recurring,
    parse_stats,
)
from reqless._processor import encode_data_object

# Reply types and parsers live in _models; they are re-exported so callers need one import.
__all__ = [
    "EVENT_NAMES",
    "JID_CHANNELS",
    "Event",
    "Failure",
    "JidPage",
    "JobPage",
    "JobState",
    "PriorityPattern",
    "QueueCounts",
    "QueueStats",
    "RecurringState",
    "ThrottleInfo",
    "TimingStats",
    "TrackedJobs",
    "WorkerCounts",
    "WorkerJobs",
    "as_list",
    "event_channel",
    "parse_event",
    "parse_job",
    "parse_jobs",
    "parse_list",
    "parse_recurring",
]

T = TypeVar("T")
Arg: TypeAlias = str | int | float
#: A job class: the class object itself or its dotted import path.
KlassArg: TypeAlias = type | str
#: Job data: anything JSON-serialisable, or a string that already holds JSON text.
DataArg: TypeAlias = Any

JOB_STATES = ("running", "stalled", "scheduled", "depends", "throttled", "recurring")
_DOTTED_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


class Call(NamedTuple, Generic[T]):
    """One core command ready to send, with the function that parses its reply."""

    # A named tuple rather than a frozen dataclass: one is built per call, and a
    # tuple is built several times faster.
    command: str
    args: tuple[Arg, ...]
    parse: Callable[[Any], T]


def _identity(reply: Any) -> Any:
    return reply


def ignore_reply(_reply: Any) -> None:
    """The parser of a reply that carries nothing worth keeping."""
    return None


def _int(reply: Any) -> int:
    return int(reply)


def _str(reply: Any) -> str:
    return str(reply)


def _loads(reply: Any) -> Any:
    return json.loads(reply)


# --------------------------------------------------------------------------- validation


def _bad(name: str, expected: str, value: object) -> InvalidArgumentError:
    return InvalidArgumentError(f"{name} must be {expected}, got {value!r}")


def check_int(name: str, value: object, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, "an int", value)
    if minimum is not None and value < minimum:
        raise _bad(name, f"an int >= {minimum}", value)
    return value


def check_number(name: str, value: object, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(name, "a finite number", value)
    if minimum is not None and value < minimum:
        raise _bad(name, f"a number >= {minimum:g}", value)
    return value


def check_str(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(name, "a non-empty str", value)
    return value


def check_strings(name: str, values: object) -> list[str]:
    """A list of non-empty strings; a bare string is refused (it would be split into letters)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise _bad(name, "a list of strings", values)
    out = list(values)
    for item in out:
        if not isinstance(item, str) or not item:
            raise InvalidArgumentError(f"{name} must contain non-empty strings, got {item!r}")
    return out


# One encoder for every call (json.dumps() with options builds a new one each
# time), and its C twin where the json module has one (see reqless._json).
_ENCODER = _json.ENCODER
_ENCODE_C = _json.ENCODE_C
# What the C encoder raises on a value it cannot take: a self-referencing one
# ends in RecursionError, as it is built without circular-reference checks.
_UNENCODABLE = (TypeError, ValueError, RecursionError)


def dumps(value: Any) -> str:
    """Compact JSON for the core."""
    if _ENCODE_C is not None and type(value) in (dict, list):
        return "".join(_ENCODE_C(value, 0))
    return _ENCODER.encode(value)


def encode_data(data: DataArg, name: str = "data") -> str:
    """Job data as JSON text: a ``str`` must already be JSON, anything else is serialised."""
    if type(data) is dict and _ENCODE_C is not None:
        # The common case first, and dumps() inlined: this is every put's path.
        try:
            return "".join(_ENCODE_C(data, 0))
        except _UNENCODABLE as exc:
            raise _unencodable(name, data, exc) from None
    if data is None:
        return "{}"
    if isinstance(data, str):
        try:
            json.loads(data)
        except ValueError:
            raise InvalidArgumentError(f"{name} is a str but not JSON text: {data!r}") from None
        return data
    if type(data) not in (list, int, float, bool):
        # A data object of the job-processor API (dataclass, pydantic model, AbstractJobData).
        text = encode_data_object(data)
        if text is not None:
            return text
    try:
        return dumps(data)
    except _UNENCODABLE as exc:
        raise _unencodable(name, data, exc) from None


def _unencodable(name: str, data: Any, exc: Exception) -> InvalidArgumentError:
    if isinstance(exc, RecursionError):
        reason = "it refers to itself, or is nested too deeply"
    else:
        reason = str(exc)
    # reprlib: the repr of a self-referencing value is fine, a huge one is not.
    return InvalidArgumentError(f"{name} is not JSON-serialisable ({reason}): {reprlib.repr(data)}")


def config_value(value: object) -> str:
    """A config option's value as the core keeps it (a string)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _bad("a config value", "a str, int or float", value)
    return str(value)


def klass_name(klass: KlassArg) -> str:
    """The dotted path a worker will import; refuses what no other process could import."""
    if not isinstance(klass, str | type):
        raise _bad("klass", "a class or a dotted import path", klass)
    return _klass_name(klass)


@lru_cache(maxsize=1024)
def _klass_name(klass: KlassArg) -> str:
    if isinstance(klass, str):
        if not _DOTTED_PATH.match(klass):
            raise InvalidArgumentError(
                f"klass must be a dotted import path such as 'package.module.Job', got {klass!r}"
            )
        return klass
    module, qualname = klass.__module__, klass.__qualname__
    if module == "__main__" or "<locals>" in qualname:
        raise InvalidArgumentError(
            f"klass {klass!r} cannot be imported by a worker (defined in __main__ or inside a "
            "function); define it at the top level of an importable module"
        )
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is not klass:
        raise InvalidArgumentError(f"klass {klass!r} is not importable as {module}.{qualname}")
    return f"{module}.{qualname}"


# Jids made per os.urandom() call: one system call for a block of puts, not one per put.
JID_BLOCK = 64


class _JidPool:
    """Random jids made in blocks, for this process only.

    A forked child inherits the pool; were it to hand out the jids left in
    it, parent and child would put different jobs under the same jids. So
    the pool remembers the process that filled it, and every take compares
    that with :func:`os.getpid` (a fork hook alone would miss a fork made
    outside :func:`os.fork`). Thread-safe without a lock: ``list.pop`` is
    atomic, and two threads refilling at once only waste a block.
    """

    __slots__ = ("_jids", "_pid")

    def __init__(self) -> None:
        self._jids: list[str] = []
        self._pid = -1

    def take(self) -> str:
        if self._pid == os.getpid():
            try:
                return self._jids.pop()
            except IndexError:
                pass
        return self._refill()

    def _refill(self) -> str:
        digits = os.urandom(16 * JID_BLOCK).hex()
        jids = [digits[start : start + 32] for start in range(0, len(digits), 32)]
        self._jids, self._pid = jids, os.getpid()
        return jids.pop()


#: A new jid: 128 random bits as 32 hex digits, like ``uuid4().hex``.
new_jid = _JidPool().take


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One job for :meth:`Queue.put_many`; the fields mirror :meth:`Queue.put`'s arguments."""

    klass: KlassArg
    data: DataArg = None
    priority: int | None = None
    tags: Sequence[str] | None = None
    delay: float = 0
    retries: int | None = None
    jid: str | None = None
    depends: Sequence[str] | None = None
    throttles: Sequence[str] | None = None


# --------------------------------------------------------------------------- commands


def _options(pairs: Iterable[tuple[str, Any]]) -> list[Arg]:
    out: list[Arg] = []
    for name, value in pairs:
        if value is not None:
            out += [name, value]
    return out


def put_args(
    worker: str,
    queue: str,
    klass: KlassArg,
    data: DataArg = None,
    priority: int | None = None,
    tags: Sequence[str] | None = None,
    delay: float = 0,
    retries: int | None = None,
    jid: str | None = None,
    depends: Sequence[str] | None = None,
    throttles: Sequence[str] | None = None,
) -> tuple[Arg, ...]:
    """Arguments of ``queue.put`` / ``job.requeue`` (identical, protocol 3.18).

    Takes :class:`JobSpec`'s fields as plain arguments so a single put builds
    no spec object; the checks are the same for every path.
    """
    args: tuple[Arg, ...] = (
        worker,
        check_str("queue", queue),
        new_jid() if jid is None else check_str("jid", jid),
        klass_name(klass),
        encode_data(data),
        # The common case, no delay, skips the number checks.
        0 if delay == 0 and type(delay) is int else check_number("delay", delay, minimum=0),
    )
    if priority is None and tags is None and retries is None:  # noqa: SIM102 - the hot path
        if depends is None and throttles is None:
            return args
    return (*args, *_put_options(priority, tags, retries, depends, throttles))


def _put_options(
    priority: int | None,
    tags: Sequence[str] | None,
    retries: int | None,
    depends: Sequence[str] | None,
    throttles: Sequence[str] | None,
) -> list[Arg]:
    """The optional arguments of ``queue.put`` / ``job.requeue``, checked."""
    options: list[Arg] = []
    if priority is not None:
        options += ["priority", check_int("priority", priority)]
    if tags is not None:
        options += ["tags", dumps(check_strings("tags", tags))]
    if retries is not None:
        options += ["retries", check_int("retries", retries, minimum=0)]
    if depends is not None:
        options += ["depends", dumps(check_strings("depends", depends))]
    if throttles is not None:
        options += ["throttles", dumps(check_strings("throttles", throttles))]
    return options


def spec_fields(spec: JobSpec) -> tuple[Any, ...]:
    """``spec``'s fields in :func:`put_args` order."""
    return (
        spec.klass,
        spec.data,
        spec.priority,
        spec.tags,
        spec.delay,
        spec.retries,
        spec.jid,
        spec.depends,
        spec.throttles,
    )


def put(worker: str, queue: str, spec: JobSpec) -> Call[str]:
    return Call("queue.put", put_args(worker, queue, *spec_fields(spec)), _str)


def requeue(worker: str, queue: str, spec: JobSpec) -> Call[str]:
    return Call("job.requeue", put_args(worker, queue, *spec_fields(spec)), _str)


def put_call(args: tuple[Arg, ...]) -> Call[str]:
    """``queue.put`` with arguments from :func:`put_args`."""
    return Call("queue.put", args, _str)


def item_fields(item: JobSpec | Mapping[str, Any] | Sequence[Any]) -> tuple[Any, ...]:
    """A :meth:`Queue.put_many` item as :func:`put_args` fields (after worker and queue)."""
    if type(item) is tuple and len(item) == 2:
        return item
    return spec_fields(as_spec(item))


def as_spec(item: JobSpec | Mapping[str, Any] | Sequence[Any]) -> JobSpec:
    """A :meth:`Queue.put_many` item: a JobSpec, a mapping of put's keywords, or (klass, data)."""
    if isinstance(item, JobSpec):
        return item
    if isinstance(item, Mapping):
        return JobSpec(**item)
    if isinstance(item, tuple | list) and len(item) in (1, 2):
        return JobSpec(*item)
    raise InvalidArgumentError(
        "put_many items must be JobSpec, a mapping of put() arguments or (klass, data);"
        f" got {item!r}"
    )


def pop(queue: str, worker: str, count: int) -> Call[list[JobState]]:
    return Call("queue.pop", (queue, worker, check_int("count", count, minimum=0)), parse_jobs)


def peek(queue: str, count: int, offset: int = 0) -> Call[list[JobState]]:
    args = (queue, check_int("offset", offset, minimum=0), check_int("count", count, minimum=0))
    return Call("queue.peek", args, parse_jobs)


def recur(
    queue: str,
    klass: KlassArg,
    data: DataArg,
    interval: float,
    offset: float = 0,
    *,
    priority: int | None = None,
    tags: Sequence[str] | None = None,
    retries: int | None = None,
    backlog: int | None = None,
    throttles: Sequence[str] | None = None,
    jid: str | None = None,
) -> Call[str]:
    if check_number("interval", interval) <= 0:
        raise _bad("interval", "a number > 0", interval)
    args: list[Arg] = [
        check_str("queue", queue),
        new_jid() if jid is None else check_str("jid", jid),
        klass_name(klass),
        encode_data(data),
        interval,
        check_number("offset", offset),
    ]
    args += _options(
        [
            ("priority", None if priority is None else check_int("priority", priority)),
            ("tags", None if tags is None else dumps(check_strings("tags", tags))),
            ("retries", None if retries is None else check_int("retries", retries, minimum=0)),
            ("backlog", None if backlog is None else check_int("backlog", backlog, minimum=0)),
            (
                "throttles",
                None if throttles is None else dumps(check_strings("throttles", throttles)),
            ),
        ]
    )
    return Call("queue.recurAtInterval", tuple(args), _str)


def recurring_update(jid: str, **changes: Any) -> Call[None]:
    args: list[Arg] = [jid]
    for key, value in changes.items():
        if key in ("priority", "retries", "backlog"):
            args += [key, check_int(key, value, minimum=None if key == "priority" else 0)]
        elif key == "interval":
            if check_number("interval", value) <= 0:
                raise _bad("interval", "a number > 0", value)
            args += [key, value]
        elif key == "data":
            args += [key, encode_data(value)]
        elif key == "klass":
            args += [key, klass_name(value)]
        elif key == "queue":
            args += [key, check_str("queue", value)]
        elif key == "throttles":
            args += [key, dumps(check_strings("throttles", value))]
        else:  # pragma: no cover - callers pass known keywords only
            raise TypeError(f"unknown recurring job field {key!r}")
    return Call("recurringJob.update", tuple(args), ignore_reply)


def complete(
    job: JobState,
    worker: str,
    next_queue: str | None = None,
    *,
    delay: float | None = None,
    depends: Sequence[str] | None = None,
) -> Call[str]:
    base: tuple[Arg, ...] = (job.jid, worker, job.queue_name, job.data)
    if next_queue is None:
        if delay is not None or depends is not None:
            raise InvalidArgumentError("delay and depends need a next_queue to complete into")
        return Call("job.complete", base, _str)
    options = _options(
        [
            ("delay", None if delay is None else check_number("delay", delay, minimum=0)),
            ("depends", None if depends is None else dumps(check_strings("depends", depends))),
        ]
    )
    args = (*base, check_str("next_queue", next_queue), *options)
    return Call("job.completeAndRequeue", args, _str)


def requeue_job(
    worker: str,
    queue: str,
    job: JobState,
    delay: float = 0,
    priority: int | None = None,
    tags: Sequence[str] | None = None,
    retries: int | None = None,
    depends: Sequence[str] | None = None,
    throttles: Sequence[str] | None = None,
) -> Call[str]:
    """``job.requeue`` of an existing job into ``queue``, its class and data kept as stored.

    The class name is not checked as a Python import path: the job may have
    been put by a client in another language. The core keeps priority, tags
    and retries when they are left out, but not throttles, so the job's own
    are sent unless ``throttles`` is given.
    """
    args: tuple[Arg, ...] = (
        worker,
        check_str("queue", queue),
        job.jid,
        job.klass_name,
        job.data,
        check_number("delay", delay, minimum=0),
        *_put_options(
            priority, tags, retries, depends, job.throttles if throttles is None else throttles
        ),
    )
    return Call("job.requeue", args, _str)


def fail(job: JobState, worker: str, group: str, message: str) -> Call[str]:
    args = (job.jid, worker, check_str("group", group), str(message), job.data)
    return Call("job.fail", args, _str)


def heartbeat(job: JobState, worker: str) -> Call[int]:
    return Call("job.heartbeat", (job.jid, worker, job.data), _int)


def retry(
    job: JobState,
    worker: str,
    delay: float = 0,
    group: str | None = None,
    message: str | None = None,
) -> Call[int]:
    args: list[Arg] = [job.jid, job.queue_name, worker, check_number("delay", delay, minimum=0)]
    if group is not None or message is not None:
        args += [check_str("group", group), str(message or "")]
    return Call("job.retry", tuple(args), _int)


def log(jid: str, message: str, data: Mapping[str, Any] | None = None) -> Call[None]:
    args: list[Arg] = [jid, check_str("message", message)]
    if data is not None:
        if not isinstance(data, Mapping):
            raise _bad("data", "a mapping", data)
        args.append(encode_data(dict(data)))
    return Call("job.log", tuple(args), ignore_reply)


def job_get(jid: str) -> Call[JobState | None]:
    return Call("job.get", (check_str("jid", jid),), parse_job)


def recurring_get(jid: str) -> Call[RecurringState | None]:
    return Call("recurringJob.get", (check_str("jid", jid),), parse_recurring)


def as_str_list(reply: Any) -> list[str]:
    """A reply that is a list of strings (an empty list may come as None)."""
    return [] if reply is None else [str(item) for item in reply]


def parse_info(reply: Any) -> dict[str, Any]:
    """``INFO``'s reply as a flat mapping, whether the library parsed it or left it as text."""
    if isinstance(reply, dict):
        return {str(key): value for key, value in reply.items()}
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    out: dict[str, Any] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and not line.startswith("#"):
            out[name] = value.strip()
    return out


def raw_reply(command: str, *args: Arg) -> Call[Any]:
    """A command whose reply is used as the driver gives it."""
    return Call(command, args, _identity)


def json_reply(command: str, *args: Arg) -> Call[Any]:
    return Call(command, args, _loads)


def json_list(command: str, *args: Arg) -> Call[list[Any]]:
    return Call(command, args, parse_list)


def no_reply(command: str, *args: Arg) -> Call[None]:
    """A command whose reply is dropped: the caller wants only its effect."""
    return Call(command, args, ignore_reply)


def tag_list(command: str, *args: Arg) -> Call[list[str]]:
    def parse(reply: Any) -> list[str]:
        return [str(tag) for tag in parse_list(reply)]

    return Call(command, args, parse)


def track(command: str, jid: str) -> Call[bool]:
    return Call(command, (jid,), lambda reply: bool(json.loads(reply)))


def page(command: str, *args: Arg) -> Call[JidPage]:
    return Call(command, args, parse_page)


def queue_counts(queue: str) -> Call[QueueCounts]:
    return Call("queue.counts", (queue,), lambda reply: counts_from_dict(json.loads(reply)))


def all_queue_counts() -> Call[list[QueueCounts]]:
    return Call("queues.counts", (), lambda reply: [counts_from_dict(c) for c in parse_list(reply)])


def jobs_by_state(queue: str, state: str, offset: int, limit: int) -> Call[list[str]]:
    if state not in JOB_STATES:
        raise InvalidArgumentError(f"state must be one of {', '.join(JOB_STATES)}, got {state!r}")
    args = (
        state,
        queue,
        check_int("offset", offset, minimum=0),
        check_int("limit", limit, minimum=0),
    )
    return Call("queue.jobsByState", args, parse_list)


def listing(command: str, offset: int, limit: int, *head: Arg) -> Call[Any]:
    args = (*head, check_int("offset", offset, minimum=0), check_int("limit", limit, minimum=0))
    return Call(command, args, parse_list)


def stats(queue: str, date: float) -> Call[QueueStats]:
    return Call("queue.stats", (queue, check_number("date", date)), parse_stats)


def throttle_info(tid: str) -> Call[ThrottleInfo]:
    def parse(reply: Any) -> ThrottleInfo:
        raw = json.loads(reply)
        return ThrottleInfo(id=raw["id"], maximum=int(raw["maximum"]), ttl=int(raw["ttl"]))

    return Call("throttle.get", (tid,), parse)


def throttle_set(tid: str, maximum: int, expiration: int = 0) -> Call[None]:
    args = (
        tid,
        check_int("maximum", maximum, minimum=0),
        check_int("expiration", expiration, minimum=0),
    )
    return Call("throttle.set", args, ignore_reply)


def worker_counts() -> Call[list[WorkerCounts]]:
    def parse(reply: Any) -> list[WorkerCounts]:
        return [
            WorkerCounts(name=w["name"], jobs=int(w["jobs"]), stalled=int(w["stalled"]))
            for w in parse_list(reply)
        ]

    return Call("workers.counts", (), parse)


def worker_jobs(worker: str) -> Call[WorkerJobs]:
    def parse(reply: Any) -> WorkerJobs:
        raw = json.loads(reply)
        return WorkerJobs(jobs=as_list(raw.get("jobs")), stalled=as_list(raw.get("stalled")))

    return Call("worker.jobs", (check_str("worker", worker),), parse)


def tracked() -> Call[TrackedJobs[JobState]]:
    def parse(reply: Any) -> TrackedJobs[JobState]:
        raw = json.loads(reply)
        jobs = [job_from_dict(job) for job in as_list(raw.get("jobs"))]
        return TrackedJobs(jobs=jobs, expired=as_list(raw.get("expired")))

    return Call("jobs.tracked", (), parse)


def failure_counts() -> Call[dict[str, int]]:
    def parse(reply: Any) -> dict[str, int]:
        raw = json.loads(reply)
        return {str(k): int(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    return Call("failureGroups.counts", (), parse)


def config_decoded(value: Any) -> Any:
    """A config value as reqless-py handed it out: JSON text decoded (``60``, not ``'60'``).

    Text that is not JSON (``application``'s ``reqless``) stays text; None stays None.
    """
    if isinstance(value, bytes):
        value = value.decode()
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def config_all() -> Call[dict[str, str]]:
    return Call(
        "config.getAll", (), lambda reply: {str(k): str(v) for k, v in json.loads(reply).items()}
    )


def identifier_patterns() -> Call[dict[str, list[str]]]:
    def parse(reply: Any) -> dict[str, list[str]]:
        return {name: as_list(json.loads(text)) for name, text in json.loads(reply).items()}

    return Call("queueIdentifierPatterns.getAll", (), parse)


def set_identifier_patterns(patterns: Mapping[str, Sequence[str]]) -> Call[None]:
    args: list[Arg] = []
    for name, values in patterns.items():
        args += [check_str("identifier", name), dumps(check_strings(name, values))]
    return Call("queueIdentifierPatterns.setAll", tuple(args), ignore_reply)


def priority_patterns() -> Call[list[PriorityPattern]]:
    def parse(reply: Any) -> list[PriorityPattern]:
        out = []
        for text in parse_list(reply):
            raw = json.loads(text)
            out.append(PriorityPattern(as_list(raw.get("pattern")), bool(raw.get("fairly"))))
        return out

    return Call("queuePriorityPatterns.getAll", (), parse)


def set_priority_patterns(patterns: Sequence[PriorityPattern]) -> Call[None]:
    args = []
    for item in patterns:
        if not isinstance(item, PriorityPattern):
            raise _bad("priority patterns", "PriorityPattern items", item)
        pattern = check_strings("pattern", item.pattern)
        args.append(dumps({"fairly": bool(item.fairly), "pattern": pattern}))
    return Call("queuePriorityPatterns.setAll", tuple(args), ignore_reply)
