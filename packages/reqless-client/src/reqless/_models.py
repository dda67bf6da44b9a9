"""What the core replies, as typed values: the reply shapes of protocol section 2.

Pure parsing shared by the sync client and the asyncio twin. cjson sends an
empty list inside JSON as ``{}``; everything here hands back ``[]`` instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar

from reqless import _json
from reqless._errors import UnknownEventError

# What a TrackedJobs holds: job states, or job objects bound to a client.
J = TypeVar("J")


def as_list(value: Any) -> list[Any]:
    """A JSON list from the core: cjson sends an empty list as ``{}``."""
    if isinstance(value, list):
        return value
    if value in ({}, None, False):
        return []
    raise ValueError(f"expected a JSON list from the core, got {value!r}")


def parse_list(reply: Any) -> list[Any]:
    return as_list(loads(reply)) if reply is not None else []


# The decoder's own scanner (C where available), or None (see reqless._json).
_scan_once = _json.SCAN_ONCE


def loads(text: str) -> Any:
    """``json.loads`` for the core's replies, by the decoder's C scanner straight away.

    A popped job is parsed on a worker that was idle: code it has not run for
    a while is several times slower than warm, so the layers ``json.loads``
    adds (a regular expression for the whitespace, two calls) cost more there
    than the scan itself. Anything but one bare JSON value goes to ``json.loads``
    for its error.
    """
    if _scan_once is None:
        return json.loads(text)
    try:
        value, end = _scan_once(text, 0)
    except (StopIteration, TypeError):
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return value


# --------------------------------------------------------------------------- replies


class ReadOnlyMapping(Mapping[str, Any]):
    """A typed reply that also reads as the mapping reqless-py returned for it.

    ``result["key"]``, ``dict(result)`` and ``result == {...}`` use the keys of
    the core's JSON, as the original client handed it out; the attributes stay
    the typed way. Two results of one class compare field by field.
    """

    __slots__ = ()

    def _as_dict(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in fields(self)}  # type: ignore[arg-type]

    def __getitem__(self, key: str) -> Any:
        return self._as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._as_dict())

    def __len__(self) -> int:
        return len(self._as_dict())

    def __eq__(self, other: object) -> bool:
        if type(other) is type(self):
            return self._fields() == other._fields()
        if isinstance(other, Mapping):
            return self._as_dict() == dict(other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash((type(self), *(_hashable(value) for value in self._fields())))

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, item.name) for item in fields(self))  # type: ignore[arg-type]


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True, slots=True, eq=False)
class Failure(ReadOnlyMapping):
    """The last failure of a job."""

    group: str
    message: str
    when: float
    worker: str


@dataclass(slots=True)
class JobState:
    """A job object as the core returns it (protocol 2.6), with Python names."""

    jid: str
    klass_name: str
    state: str
    queue_name: str
    worker_name: str
    tracked: bool
    priority: int
    expires_at: float
    retries: int
    remaining: int
    data: str
    tags: list[str]
    history: list[dict[str, Any]]
    failure: Failure | None
    throttles: list[str]
    spawned_from_jid: str | None
    dependents: list[str]
    dependencies: list[str]


@dataclass(slots=True)
class RecurringState:
    """A recurring-job template (protocol 2.7)."""

    jid: str
    klass_name: str
    state: str
    queue_name: str
    priority: int
    interval: float
    retries: int
    count: int
    data: str
    tags: list[str]
    backlog: int
    throttles: list[str]


def _number(value: Any) -> Any:
    """JSON numbers that hold whole values come back as int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def parse_failure(value: Any) -> Failure | None:
    if not value or not isinstance(value, dict) or "group" not in value:
        return None
    return Failure(
        group=str(value["group"]),
        message=str(value.get("message", "")),
        when=value.get("when", 0),
        worker=str(value.get("worker") or ""),
    )


def job_from_dict(raw: Mapping[str, Any]) -> JobState:
    # Every popped job comes through here, on a worker that was idle and runs
    # cold: the common shapes (lists already lists, no failure) take no call.
    get = raw.get
    spawned = get("spawned_from_jid")
    tags = get("tags")
    history = get("history")
    failure = get("failure")
    throttles = get("throttles")
    dependents = get("dependents")
    dependencies = get("dependencies")
    return JobState(
        jid=raw["jid"],
        klass_name=raw["klass"],
        state=raw["state"],
        queue_name=get("queue") or "",
        worker_name=get("worker") or "",
        tracked=bool(get("tracked")),
        priority=_number(get("priority", 0)),
        expires_at=get("expires") or 0,
        retries=_number(get("retries", 0)),
        remaining=_number(get("remaining", 0)),
        data=get("data") or "{}",
        tags=[str(tag) for tag in as_list(tags)] if tags else [],
        history=history if type(history) is list else as_list(history),
        failure=parse_failure(failure) if failure else None,
        throttles=throttles if type(throttles) is list else as_list(throttles),
        spawned_from_jid=spawned if isinstance(spawned, str) and spawned else None,
        dependents=dependents if type(dependents) is list else as_list(dependents),
        dependencies=dependencies if type(dependencies) is list else as_list(dependencies),
    )


def parse_job(reply: Any) -> JobState | None:
    return None if reply is None else job_from_dict(loads(reply))


def parse_jobs(reply: Any) -> list[JobState]:
    return [job_from_dict(raw) for raw in parse_list(reply)]


def recurring_from_dict(raw: Mapping[str, Any]) -> RecurringState:
    return RecurringState(
        jid=raw["jid"],
        klass_name=raw["klass"],
        state=raw.get("state", "recur"),
        queue_name=raw.get("queue") or "",
        priority=_number(raw.get("priority", 0)),
        interval=_number(raw.get("interval", 0)),
        retries=_number(raw.get("retries", 0)),
        count=_number(raw.get("count", 0)),
        data=raw.get("data") or "{}",
        tags=[str(tag) for tag in as_list(raw.get("tags"))],
        backlog=_number(raw.get("backlog", 0)),
        throttles=as_list(raw.get("throttles")),
    )


def parse_recurring(reply: Any) -> RecurringState | None:
    return None if reply is None else recurring_from_dict(json.loads(reply))


@dataclass(frozen=True, slots=True, eq=False)
class QueueCounts(ReadOnlyMapping):
    """How many jobs a queue holds in each state (protocol 2.8)."""

    name: str
    waiting: int
    stalled: int
    running: int
    throttled: int
    scheduled: int
    depends: int
    recurring: int
    paused: bool


def counts_from_dict(raw: Mapping[str, Any]) -> QueueCounts:
    return QueueCounts(
        name=raw["name"],
        waiting=int(raw.get("waiting", 0)),
        stalled=int(raw.get("stalled", 0)),
        running=int(raw.get("running", 0)),
        throttled=int(raw.get("throttled", 0)),
        scheduled=int(raw.get("scheduled", 0)),
        depends=int(raw.get("depends", 0)),
        recurring=int(raw.get("recurring", 0)),
        paused=bool(raw.get("paused")),
    )


@dataclass(frozen=True, slots=True, eq=False)
class TimingStats(ReadOnlyMapping):
    """Wait or run time samples of one day."""

    count: int
    mean: float
    std: float
    histogram: list[int]


@dataclass(frozen=True, slots=True, eq=False)
class QueueStats(ReadOnlyMapping):
    """A queue's statistics for one day (protocol 2.9)."""

    retries: int
    failed: int
    failures: int
    wait: TimingStats
    run: TimingStats


def _timing(raw: Mapping[str, Any]) -> TimingStats:
    return TimingStats(
        count=int(raw.get("count", 0)),
        mean=raw.get("mean", 0),
        std=raw.get("std", 0),
        histogram=[int(n) for n in as_list(raw.get("histogram"))],
    )


def parse_stats(reply: Any) -> QueueStats:
    raw = json.loads(reply)
    return QueueStats(
        retries=int(raw.get("retries", 0)),
        failed=int(raw.get("failed", 0)),
        failures=int(raw.get("failures", 0)),
        wait=_timing(raw.get("wait", {})),
        run=_timing(raw.get("run", {})),
    )


@dataclass(frozen=True, slots=True, eq=False)
class JidPage:
    """One page of a listing: ``total`` jids exist, ``jids`` are those on this page.

    Iterating, ``len`` and ``in`` go over the page's jids; ``page["total"]`` and
    ``page["jobs"]`` read it as reqless-py's ``{"total": ..., "jobs": [...]}``.
    """

    total: int
    jids: list[str]

    def __getitem__(self, key: str) -> Any:
        if key == "total":
            return self.total
        if key == "jobs":
            return self._jobs()
        raise KeyError(key)

    def _jobs(self) -> list[Any]:
        return list(self.jids)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self) -> list[str]:
        return ["total", "jobs"]

    def __iter__(self) -> Iterator[str]:
        return iter(self.jids)

    def __len__(self) -> int:
        return len(self.jids)

    def __contains__(self, jid: object) -> bool:
        return jid in self.jids

    def __eq__(self, other: object) -> bool:
        # A JobPage equals the JidPage of its jids: the jobs are the same jids, fetched.
        if isinstance(other, JidPage):
            return (self.total, self.jids) == (other.total, other.jids)
        if isinstance(other, Mapping):
            return dict(other) == {"total": self.total, "jobs": self._jobs()}
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True, eq=False)
class JobPage(JidPage, Generic[J]):
    """A page of one failure group: its jids, and the jobs themselves in ``jobs``.

    ``page["jobs"]`` gives the job objects, as reqless-py's ``failed(group)`` did.
    """

    jobs: list[J] = field(default_factory=list)

    def _jobs(self) -> list[Any]:
        return list(self.jobs)


def parse_page(reply: Any) -> JidPage:
    raw = json.loads(reply)
    return JidPage(total=int(raw.get("total", 0)), jids=as_list(raw.get("jobs")))


@dataclass(frozen=True, slots=True, eq=False)
class WorkerCounts(ReadOnlyMapping):
    name: str
    jobs: int
    stalled: int


@dataclass(frozen=True, slots=True, eq=False)
class WorkerJobs(ReadOnlyMapping):
    """The jids a worker holds: ``jobs`` with live locks, ``stalled`` with expired ones."""

    jobs: list[str]
    stalled: list[str]


@dataclass(frozen=True, slots=True)
class ThrottleInfo:
    """A throttle's definition (protocol 2.11): maximum 0 is unlimited; ttl -1 none, -2 unset."""

    id: str
    maximum: int
    ttl: int


@dataclass(frozen=True, slots=True, eq=False)
class TrackedJobs(ReadOnlyMapping, Generic[J]):
    """Tracked jobs that still exist, and the jids of tracked jobs that are gone.

    ``jobs`` holds :class:`reqless.Job` objects (``reqless.aio.Job`` from the
    asyncio client); a reply parsed but not yet bound to a client holds
    :class:`JobState` values.
    """

    jobs: list[J]
    expired: list[str]

    def _as_dict(self) -> dict[str, Any]:
        # The core's JSON (cjson) sends an empty list as {}; reqless-py handed that on.
        return {"jobs": list(self.jobs), "expired": list(self.expired) or {}}


@dataclass(frozen=True, slots=True)
class PriorityPattern:
    """Queues matching ``pattern`` are served before later patterns; ``fairly`` shuffles them."""

    pattern: list[str]
    fairly: bool = False

    @property
    def patterns(self) -> list[str]:
        """:attr:`pattern`, by reqless-py's name."""
        return self.pattern

    @property
    def should_distribute_fairly(self) -> bool:
        """:attr:`fairly`, by reqless-py's name."""
        return self.fairly


@dataclass(frozen=True, slots=True)
class Event:
    """One pub/sub message of the core (protocol 4.17).

    ``name`` is the channel without its ``ql:`` prefix (``log``, ``completed``,
    ``w:<worker>``, ...). The jid-only channels carry ``jid``; ``log`` and
    worker channels carry the decoded JSON in ``payload`` (its ``"event"`` key
    is also in ``kind``, e.g. ``lock_lost``).
    """

    name: str
    jid: str | None
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- events

#: Channels that carry a bare jid, for tracked jobs (protocol 4.16, 4.17).
JID_CHANNELS = ("canceled", "completed", "failed", "popped", "put", "stalled", "track", "untrack")
#: Every channel name :class:`Events` accepts besides ``w:<worker>``.
EVENT_NAMES = ("log", *JID_CHANNELS)


def event_channel(name: str) -> str:
    """The pub/sub channel of an event name; ``w:<worker>`` follows one worker's lock losses."""
    if name in EVENT_NAMES or (name.startswith("w:") and len(name) > 2):
        return "ql:" + name
    raise UnknownEventError(
        f"unknown event {name!r}; expected one of {', '.join(EVENT_NAMES)} or 'w:<worker>'"
    )


def parse_event(channel: str, data: str) -> Event:
    name = channel[3:] if channel.startswith("ql:") else channel
    if name in JID_CHANNELS:
        return Event(name=name, jid=data, kind=name)
    try:
        payload = json.loads(data)
    except ValueError:
        payload = {"message": data}
    if not isinstance(payload, dict):
        payload = {"message": payload}
    jid = payload.get("jid")
    return Event(
        name=name,
        jid=jid if isinstance(jid, str) else None,
        kind=str(payload.get("event", name)),
        payload=payload,
    )
