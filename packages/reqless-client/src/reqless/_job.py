"""Jobs and recurring jobs (sync); their read-only fields are shared with the asyncio twin."""

from __future__ import annotations

import importlib
import json
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, overload

from reqless import _ops as ops
from reqless import _protocol as p

if TYPE_CHECKING:
    from reqless._client import Client, ClientBase
    from reqless._queue import Queue

__all__ = ["BoundJob", "Job", "JobFields", "RecurringFields", "RecurringJob", "import_klass"]

C = TypeVar("C", bound="ClientBase")

G = TypeVar("G")
S = TypeVar("S")


def import_klass(path: str) -> type:
    """The class a dotted path names; ImportError (or AttributeError) when it cannot be found."""
    module_name, _, name = path.rpartition(".")
    if not module_name:
        raise ImportError(f"{path!r} is not a dotted path to a class")
    module = importlib.import_module(module_name)
    found = getattr(module, name)
    if not isinstance(found, type):
        raise ImportError(f"{path!r} is not a class")
    return found


class _SharedFields:
    """The fields a job and a recurring-job template both have, as read when fetched."""

    _state: p.JobState | p.RecurringState

    @property
    def jid(self) -> str:
        return self._state.jid

    @property
    def klass_name(self) -> str:
        return self._state.klass_name

    @property
    def klass(self) -> type:
        """The class, imported now."""
        return import_klass(self._state.klass_name)

    @property
    def queue_name(self) -> str:
        return self._state.queue_name

    @property
    def state(self) -> str:
        return self._state.state

    @property
    def tags(self) -> list[str]:
        return list(self._state.tags)

    @property
    def retries(self) -> int:
        return self._state.retries

    @property
    def throttles(self) -> list[str]:
        return list(self._state.throttles)


class JobFields(_SharedFields):
    """Every field of a job object (protocol 2.6), as read when the job was fetched."""

    _state: p.JobState

    #: Scratch space a worker may attach to a job (e.g. a per-job directory).
    sandbox: str | None = None

    @property
    def data(self) -> str:
        """The payload as JSON text; assigning a dict or JSON text changes what complete,
        fail and heartbeat store."""
        return self._state.data

    @data.setter
    def data(self, value: Any) -> None:
        self._state.data = p.encode_data(value)

    @property
    def payload(self) -> Any:
        """``data`` decoded."""
        return json.loads(self._state.data)

    @property
    def remaining(self) -> int:
        return self._state.remaining

    @property
    def original_retries(self) -> int:
        """:attr:`retries` (the retries the job started with), by reqless-py's name."""
        return self._state.retries

    @property
    def retries_left(self) -> int:
        """:attr:`remaining`, by reqless-py's name."""
        return self._state.remaining

    @property
    def worker_name(self) -> str:
        return self._state.worker_name

    @property
    def expires_at(self) -> float:
        return self._state.expires_at

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self._state.history)

    @property
    def dependencies(self) -> list[str]:
        return list(self._state.dependencies)

    @property
    def dependents(self) -> list[str]:
        return list(self._state.dependents)

    @property
    def tracked(self) -> bool:
        return self._state.tracked

    @property
    def failure(self) -> p.Failure | None:
        return self._state.failure

    @property
    def spawned_from_jid(self) -> str | None:
        return self._state.spawned_from_jid

    #: The class's name in ``repr``: reqless-py's ``<reqless.job.Job JID>``.
    _REPR_NAME = "reqless.job.Job"

    def __repr__(self) -> str:
        return f"<{self._REPR_NAME} {self.jid}>"

    def _process_target(self) -> tuple[Callable[..., Any] | None, str, str]:
        """The function ``process()`` calls, or the failure group and message if there is none."""
        try:
            klass = self.klass
        except Exception as exc:
            group = f"{self.queue_name}-{type(exc).__name__}"
            return None, group, f"cannot import {self.klass_name}:\n{traceback.format_exc()}"
        method = getattr(klass, self.queue_name, None) or getattr(klass, "process", None)
        if not callable(method):
            return (
                None,
                f"{self.queue_name}-method-missing",
                (f"{self.klass_name} has neither a {self.queue_name!r} nor a 'process' method"),
            )
        return method, "", ""

    def _worker(self, default: str) -> str:
        # A job acts as the worker that holds it: if its lock went elsewhere, the core refuses.
        return self._state.worker_name or default


class BoundJob(JobFields, Generic[C]):
    """A job and the client that fetched it: what both APIs' ``Job`` share."""

    def __init__(self, client: C, state: p.JobState) -> None:
        self._client = client
        self._state = state

    @property
    def ttl(self) -> float:
        """Seconds until the lock expires (negative once expired)."""
        return self._state.expires_at - self._client.clock()


class Job(BoundJob["Client"]):
    """A job, bound to the client that fetched it."""

    @property
    def queue(self) -> Queue:
        return self._client.queues[self.queue_name]

    @property
    def priority(self) -> int:
        return self._state.priority

    @priority.setter
    def priority(self, value: int) -> None:
        self.set_priority(value)

    def set_priority(self, priority: int) -> None:
        self._client._do(ops.set_priority(self, priority))

    def complete(
        self,
        next_queue: str | None = None,
        *,
        delay: float | None = None,
        depends: Sequence[str] | None = None,
    ) -> str:
        """Finish the job, or move it on to ``next_queue``; returns its new state.

        Moved on with no delay and no dependencies, it wakes a worker waiting on
        ``next_queue``, as a put does."""
        return self._client._do(ops.complete(self._client, self, next_queue, delay, depends))

    def fail(self, group: str, message: str) -> str:
        return self._client._do(ops.fail(self._client, self, group, message))

    def heartbeat(self) -> float:
        """Renew the lock; returns the new expiry time."""
        return self._client._do(ops.heartbeat(self._client, self))

    def cancel(self) -> list[str]:
        return self._client._do(ops.cancel(self.jid))

    def track(self) -> bool:
        return self._client._do(ops.track(self, True))

    def untrack(self) -> bool:
        return self._client._do(ops.track(self, False))

    def tag(self, *tags: str) -> list[str]:
        return self._client._do(ops.retag(self, "job.addTag", tags))

    def untag(self, *tags: str) -> list[str]:
        return self._client._do(ops.retag(self, "job.removeTag", tags))

    def depend(self, *jids: str) -> None:
        self._client._do(ops.depend(self.jid, jids))

    def undepend(self, *jids: str, all: bool = False) -> None:
        self._client._do(ops.undepend(self.jid, jids, all))

    def retry(self, delay: float = 0, group: str | None = None, message: str | None = None) -> int:
        """Put the job back to be tried again; returns the retries left (-1: it failed)."""
        return self._client._do(ops.retry(self._client, self, delay, group, message))

    def requeue(
        self,
        queue: str,
        *,
        delay: float = 0,
        priority: int | None = None,
        tags: Sequence[str] | None = None,
        retries: int | None = None,
        depends: Sequence[str] | None = None,
        throttles: Sequence[str] | None = None,
    ) -> str:
        """Move the job to ``queue`` whatever its state; a worker running it loses its lock."""
        return self._client._do(
            ops.requeue(
                self._client, self, queue, delay, priority, tags, retries, depends, throttles
            )
        )

    move = requeue

    def timeout(self) -> None:
        self._client._do(p.no_reply("job.timeout", self.jid))

    def log(self, message: str, data: Mapping[str, Any] | None = None) -> None:
        self._client._do(p.log(self.jid, message, data))

    def process(self) -> Any:
        """Run the job: call ``<klass>.<queue name>(job)``, else ``<klass>.process(job)``.

        If the class cannot be imported, has neither method, or the method raises,
        the job is failed with group ``<queue>-<ExceptionName>`` (or
        ``<queue>-method-missing``) and the traceback as message.
        """
        method, group, message = self._process_target()
        if method is None:
            self.fail(group, message)
            return None
        try:
            return method(self)
        except Exception as exc:
            self.fail(f"{self.queue_name}-{type(exc).__name__}", traceback.format_exc())
            return None


class RecurringFields(_SharedFields):
    """Fields of a recurring-job template (protocol 2.7)."""

    _state: p.RecurringState

    @property
    def data(self) -> str:
        return self._state.data

    @property
    def priority(self) -> int:
        return self._state.priority

    @property
    def interval(self) -> float:
        return self._state.interval

    @property
    def backlog(self) -> int:
        return self._state.backlog

    @property
    def count(self) -> int:
        """Jobs spawned so far."""
        return self._state.count

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.jid} {self.klass_name} every {self._state.interval}s>"

    def _apply(self, changes: Mapping[str, Any]) -> None:
        for key, value in changes.items():
            if key == "klass":
                self._state.klass_name = p.klass_name(value)
            elif key == "data":
                self._state.data = p.encode_data(value)
            elif key == "queue":
                self._state.queue_name = value
            else:
                setattr(self._state, key, value)


class _Assigned(property, Generic[G, S]):
    """A field of :class:`RecurringFields` that a sync template also assigns, as an update."""

    def __init__(self, field: Any, name: str) -> None:
        def assign(job: RecurringJob, value: S) -> None:
            job.update(**{name: value})

        super().__init__(field.fget, assign, None, field.__doc__)

    if TYPE_CHECKING:

        @overload
        def __get__(self, job: None, owner: type | None = None, /) -> Self: ...
        @overload
        def __get__(self, job: object, owner: type | None = None, /) -> G: ...
        def __get__(self, job: object, owner: type | None = None, /) -> Any: ...
        def __set__(self, job: object, value: S, /) -> None: ...


class RecurringJob(RecurringFields):
    """A recurring-job template: spawns a job every ``interval`` seconds."""

    def __init__(self, client: Client, state: p.RecurringState) -> None:
        self._client = client
        self._state = state

    def update(self, **changes: Any) -> None:
        """Change any of ``priority``, ``retries``, ``interval``, ``data``, ``klass``, ``backlog``,
        ``queue``, ``throttles`` in one call."""
        self._client._do(ops.update_recurring(self, changes))

    @property
    def queue(self) -> Queue:
        return self._client.queues[self.queue_name]

    klass: _Assigned[type, p.KlassArg] = _Assigned(RecurringFields.klass, "klass")
    data: _Assigned[str, Any] = _Assigned(RecurringFields.data, "data")
    priority: _Assigned[int, int] = _Assigned(RecurringFields.priority, "priority")
    retries: _Assigned[int, int] = _Assigned(RecurringFields.retries, "retries")
    interval: _Assigned[float, float] = _Assigned(RecurringFields.interval, "interval")
    backlog: _Assigned[int, int] = _Assigned(RecurringFields.backlog, "backlog")

    def tag(self, *tags: str) -> list[str]:
        return self._client._do(ops.retag(self, "recurringJob.addTag", tags))

    def untag(self, *tags: str) -> list[str]:
        return self._client._do(ops.retag(self, "recurringJob.removeTag", tags))

    def move(self, queue: str) -> None:
        self.update(queue=queue)

    requeue = move

    @property
    def next(self) -> float | None:
        """When the next job spawns (seconds since the epoch); None once the template is gone."""
        return self._client._do(ops.recurring_next(self))

    def cancel(self) -> None:
        self._client._do(p.no_reply("recurringJob.cancel", self.jid))
