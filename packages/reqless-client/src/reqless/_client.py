"""The synchronous client: ``reqless.Client``."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from reqless import _ops as ops
from reqless import _protocol as p
from reqless._config import Config
from reqless._events import Events
from reqless._job import Job, RecurringJob
from reqless._jobs import Jobs
from reqless._patterns import QueuePatterns
from reqless._queue import PutWriter, Queues
from reqless._script import CoreScript, Form
from reqless._settings import ClientSettings
from reqless._tags import Tags
from reqless._throttles import Throttles
from reqless._workers import Workers
from reqless.drivers import Driver, connect

__all__ = ["Client", "ClientBase", "default_worker_name"]

T = TypeVar("T")
# The most queues whose put writers a client keeps; all are dropped when full.
_PUT_WRITERS_MAX = 1024


def default_worker_name() -> str:
    """``<hostname>-<pid>``, read when a client is made, so a forked process gets its own."""
    return f"{socket.gethostname()}-{os.getpid()}"


class ClientBase:
    """What both clients share: their settings, clock, worker name and wake-ups, and making one.

    A subclass connects in :meth:`_connect`, with the ``form`` it was given.
    """

    _LABEL = "reqless.Client"

    def __init__(
        self,
        url: str | None = None,
        *,
        driver: str | None = None,
        worker_name: str | None = None,
        clock: Callable[[], float] | None = None,
        form: Form = "auto",
        wake_workers: bool = True,
        hostname: str | None = None,
    ) -> None:
        self.settings = ClientSettings.from_url(url, driver)
        self.clock: Callable[[], float] = clock or time.time
        # hostname: reqless-py's name for the worker name.
        self.worker_name = worker_name or hostname or default_worker_name()
        self.wake_workers = wake_workers
        self._connect(form)

    @property
    def database(self) -> Any:
        """The driver library's own client (``redis.Redis``, ``valkey.Valkey`` or their
        asyncio twins), as reqless-py's ``client.database``; None for a driver without one."""
        driver: Any = getattr(self, "_driver", None)
        while driver is not None and not hasattr(driver, "client"):
            driver = getattr(driver, "_inner", None)
        return None if driver is None else driver.client

    def _connect(self, form: Form) -> None:
        raise NotImplementedError

    @classmethod
    def embedded(
        cls,
        path: str | os.PathLike[str],
        *,
        worker_name: str | None = None,
        clock: Callable[[], float] | None = None,
        form: Form = "auto",
        wake_workers: bool = True,
    ) -> Self:
        """A client of the development server in folder ``path``, started if nobody has yet."""
        return cls(
            f"embedded:{Path(path)}",
            driver="valkey",
            worker_name=worker_name,
            clock=clock,
            form=form,
            wake_workers=wake_workers,
        )

    def __repr__(self) -> str:
        return f"<{self._LABEL} {self.settings.url} as {self.worker_name!r}>"


class Client(ClientBase):
    """A connection to one reqless server.

    ``url`` takes ``redis://``, ``rediss://``, ``unix://``, ``valkey://``,
    ``valkeys://`` and ``embedded:PATH`` (default: ``REQLESS_URL``, else
    ``redis://localhost:6379``); ``driver`` is ``"redis"`` or ``"valkey"`` (default:
    ``REQLESS_DRIVER``, else chosen by the scheme). ``clock`` supplies the
    ``now`` of every command; ``form`` picks the core's Function or EVAL form.

    ``wake_workers`` (default True): every put, ``put_many``, requeue, move
    and completion into a next queue also writes ``ZADD reqless:wake:<queue>``
    in the same write, so a worker waiting with :class:`reqless.PopWaiter`
    starts the job at once instead of at its next poll (see
    :mod:`reqless._wake`). False writes no key outside the core's ``ql:``
    ones; workers then find the jobs through the core's events, or by polling.
    """

    def _connect(self, form: Form) -> None:
        self._driver: Driver = connect(self.settings)
        self._script = CoreScript(self._driver, clock=self.clock, form=form)
        self._put_writers: dict[str, PutWriter] = {}
        self.queues = Queues(self)
        self.jobs = Jobs(self)
        self.config = Config(self)
        self.workers = Workers(self)
        self.tags = Tags(self)
        self.throttles = Throttles(self)
        self.events = Events(self)
        self.queue_patterns = QueuePatterns(self)

    def _do(self, op: ops.Op[T]) -> T:
        """Run an operation of :mod:`reqless._ops` to its result."""
        return ops.run(self._script, op)

    def _job(self, state: p.JobState) -> Job:
        return Job(self, state)

    def _recurring(self, state: p.RecurringState) -> RecurringJob:
        return RecurringJob(self, state)

    def _run(self, call: p.Call[T]) -> T:
        return call.parse(self._script.call(call.command, *call.args))

    def _run_waking(self, call: p.Call[T], queue: str) -> T:
        """Run a call that makes a job ready in ``queue``, waking one waiting worker."""
        return ops.run(self._script, ops.ready(self, call, queue))

    def _put_writer(self, queue: str) -> PutWriter | None:
        """The writer of ``queue``'s plain puts, or None if the driver cannot send packed bytes."""
        writer = self._put_writers.get(queue)
        # Made again when the client's worker name or wake-up setting changed since.
        if (
            writer is not None
            and writer.worker is self.worker_name
            and writer.wake is self.wake_workers
        ):
            return writer
        if self._script.packer is None:
            return None
        if len(self._put_writers) >= _PUT_WRITERS_MAX:
            self._put_writers.clear()
        writer = self._put_writers[queue] = PutWriter(self, queue)
        return writer

    def _run_many(self, calls: Sequence[p.Call[Any]]) -> list[Any]:
        return ops.run(self._script, ops.batch(calls))

    def execute(
        self,
        *calls: p.Call[Any],
        return_errors: bool = False,
        job_class: type[Job] | None = None,
    ) -> list[Any]:
        """Run ``calls`` (built with :mod:`reqless.commands`) in one round trip.

        All run with the same ``now``, in order, each one even if one before it
        was refused. Returns each call's parsed reply; popped or peeked jobs
        come back as ``job_class`` (default :class:`reqless.Job`) objects of this
        client, recurring jobs as :class:`reqless.RecurringJob` and tracked
        jobs as a :class:`reqless.TrackedJobs` of them. A call the core refused
        raises its :class:`reqless.ReqlessError` once all have run, or, with
        ``return_errors``, stands in its place in the list. An unreachable server,
        or one answering that it cannot serve now (``LOADING``, ``READONLY``...),
        raises :class:`reqless.ServerUnavailableError` for the whole batch, even
        with ``return_errors``. With ``?wait_replicas``, a batch too few replicas
        acknowledged raises :class:`reqless.ReplicationTimeoutError` whose
        ``replies`` are what ``return_errors=True`` would have returned: the
        master made those changes, so go on with them rather than send them again.
        """
        return self._do(ops.execute(self, calls, return_errors, job_class))

    def track(self, jid: str) -> bool:
        """Track the job ``jid`` (see :meth:`reqless.Job.track`) without fetching it."""
        return self._do(ops.track_jid(jid, True))

    def untrack(self, jid: str) -> bool:
        """Stop tracking the job ``jid``."""
        return self._do(ops.track_jid(jid, False))

    def unfail(self, group: str, queue: str, count: int = 500) -> int:
        """Move up to ``count`` of the oldest jobs failed in ``group`` into ``queue``
        (reqless-py's argument order; :meth:`reqless.Queue.unfail` is the same)."""
        return self._do(ops.unfail(queue, group, count))

    def server_info(self) -> dict[str, Any]:
        """The server's ``INFO`` (version, memory, clients, ...) as one flat mapping."""
        return p.parse_info(self._driver.execute_command("INFO"))

    def close(self) -> None:
        self._driver.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
