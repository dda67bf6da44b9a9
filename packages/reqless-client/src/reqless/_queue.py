"""Queues (sync): put, pop, peek, inspect and steer one queue; ``client.queues`` for all."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar, overload

from reqless import _ops as ops
from reqless import _protocol as p
from reqless._bulk import PUT, PutManyItem
from reqless._errors import ScriptNotLoadedError, ServerUnavailableError
from reqless._job import Job
from reqless._script import format_now
from reqless._wake import wake_argv
from reqless.drivers._resp import bulk, pack_command

if TYPE_CHECKING:
    from reqless._client import Client
    from reqless._throttles import Throttle

__all__ = ["PutManyItem", "PutWriter", "Queue", "QueueBase", "QueueJobs", "Queues"]

C = TypeVar("C")

# A job class's name as packed by PutWriter, by the class (or path) given to put().
# Cleared when full, like reqless.drivers._resp's cache of packed commands.
_KLASS_BULKS: dict[p.KlassArg, str] = {}
_KLASS_BULKS_MAX = 1024


def _klass_bulk(klass: p.KlassArg) -> str:
    """``klass``'s name, checked as :func:`reqless._protocol.klass_name` does, as a bulk string."""
    packed = bulk(p.klass_name(klass))
    if len(_KLASS_BULKS) >= _KLASS_BULKS_MAX:
        _KLASS_BULKS.clear()
    _KLASS_BULKS[klass] = packed
    return packed


class PutWriter:
    """``put(klass, data)`` with every option left out, for one client and one queue.

    The common put, and the one a waiting worker waits for: an idle worker
    starts the job as soon as the bytes reach the server, so the client time
    before the write is on the path from ``put()`` to the job. That time is
    mostly cold caches (after a pause, Python runs several times slower than
    in a loop), and cold time grows with the code and data a call touches;
    so this path is short rather than layered. The command's words that never
    change (``FCALL reqless 0 queue.put``, the worker, the queue, the delay
    and the wake-up ``ZADD`` behind it) are packed once, as text; a put adds
    ``now``, a jid, the class (packed once per class) and the data, encodes
    the text once and hands the bytes to the driver
    (:class:`reqless.drivers.PackedDriver`).

    The same checks and the same behaviour as the general path: a bad class
    or data raises before anything is sent; a missing core is loaded and the
    command sent again; after a lost connection the put goes through the
    general path, which reconnects and retries as the library does.
    """

    __slots__ = ("_client", "_clock", "_count", "_head", "_lead", "_nanoseconds", "_queue",
                 "_script", "_send", "_tail", "wake", "worker")  # fmt: skip

    def __init__(self, client: Client, queue: str) -> None:
        script = client._script
        assert script.packer is not None, "only for a driver that sends packed commands"
        self._client = client
        self._queue = queue
        self._script = script
        self._send = script.packer.call_packed
        self._clock = script.clock
        # With the default clock, now is made from integer nanoseconds: formatting a
        # float is a good part of a cold put's time before the write.
        self._nanoseconds = time.time_ns if script.clock is time.time else None
        #: What the writer was made for: the client makes a new one when either changes.
        self.worker = client.worker_name
        self.wake = client.wake_workers
        # queue.put now worker queue jid klass data delay, the jid being 32 hex digits.
        self._head = script.packed_head(PUT, 7)
        self._lead = f"{bulk(self.worker)}{bulk(queue)}$32\r\n"
        self._tail = bulk("0")
        self._count = 1
        if self.wake:
            self._tail += pack_command(wake_argv(queue)).decode()
            self._count = 2

    def __call__(self, klass: p.KlassArg, data: p.DataArg) -> str:
        """Put one job; its jid."""
        try:
            klass_bulk = _KLASS_BULKS[klass]
        except (KeyError, TypeError):  # TypeError: not hashable, so not a class nor a str
            klass_bulk = ""
        if not klass_bulk:
            # Outside the except: a bad class's error must not read as a chained KeyError.
            klass_bulk = _klass_bulk(klass)
        text = p.encode_data(data)
        jid = p.new_jid()
        if self._nanoseconds is not None:
            # Rounded down to the millisecond, as format_now() does on the general path.
            milliseconds = str(self._nanoseconds() // 1_000_000)
            now = f"{milliseconds[:-3]}.{milliseconds[-3:]}"
        else:
            now = format_now(self._clock())
        size = len(text) if text.isascii() else len(text.encode())
        packed = (
            f"{self._head}${len(now)}\r\n{now}\r\n{self._lead}{jid}\r\n"
            f"{klass_bulk}${size}\r\n{text}\r\n{self._tail}"
        ).encode()
        try:
            try:
                return str(self._send(packed, self._count))
            except ScriptNotLoadedError:
                # The command did nothing: load the core and send the same bytes again.
                self._script.load()
                return str(self._send(packed, self._count))
        except ServerUnavailableError:
            return self._on_general_path(jid, klass, text)

    def _on_general_path(self, jid: str, klass: p.KlassArg, text: str) -> str:
        """The same put on the general path, which reconnects and retries as the library does."""
        call = p.put_call((self.worker, self._queue, jid, p.klass_name(klass), text, 0))
        return self._client._do(ops.Waking(call, self._queue) if self.wake else call)


class QueueJobs:
    """The jids of one queue by state; each listing pages with ``offset`` and ``limit``."""

    def __init__(self, client: Client, name: str) -> None:
        self._client = client
        self._name = name

    def running(self, offset: int = 0, limit: int = 25) -> list[str]:
        return self._client._do(p.jobs_by_state(self._name, "running", offset, limit))

    def stalled(self, offset: int = 0, limit: int = 25) -> list[str]:
        return self._client._do(p.jobs_by_state(self._name, "stalled", offset, limit))

    def scheduled(self, offset: int = 0, limit: int = 25) -> list[str]:
        return self._client._do(p.jobs_by_state(self._name, "scheduled", offset, limit))

    def depends(self, offset: int = 0, limit: int = 25) -> list[str]:
        return self._client._do(p.jobs_by_state(self._name, "depends", offset, limit))

    def throttled(self, offset: int = 0, limit: int = 25) -> list[str]:
        return self._client._do(p.jobs_by_state(self._name, "throttled", offset, limit))

    def recurring(self, offset: int = 0, limit: int = 25) -> list[str]:
        return self._client._do(p.jobs_by_state(self._name, "recurring", offset, limit))


class QueueBase(Generic[C]):
    """What both APIs' queues share: the name, how a queue prints, compares and hashes."""

    _LABEL = "Queue"

    def __init__(self, client: C, name: str) -> None:
        self._client = client
        self.name = p.check_str("queue name", name)

    def __repr__(self) -> str:
        return f"<{self._LABEL} {self.name!r}>"

    def __eq__(self, other: object) -> bool:
        # A queue equals its name, so ``job.queue == "underpants"`` reads as users write it.
        if isinstance(other, str):
            return self.name == other
        if isinstance(other, type(self)):
            return self.name == other.name and self._client is other._client
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)


class Queue(QueueBase["Client"]):
    """One queue, addressed by name (it exists on the server once a job was put in it)."""

    def __init__(self, client: Client, name: str) -> None:
        super().__init__(client, name)
        self.jobs = QueueJobs(client, name)

    def put(
        self,
        klass: p.KlassArg,
        data: p.DataArg = None,
        *,
        priority: int | None = None,
        tags: Sequence[str] | None = None,
        delay: float = 0,
        retries: int | None = None,
        jid: str | None = None,
        depends: Sequence[str] | None = None,
        throttles: Sequence[str] | None = None,
    ) -> str:
        """Enqueue a job of ``klass`` (a class or its dotted path); returns its jid.

        ``priority``, ``tags`` and ``retries`` left at None keep those of an
        existing job with the same ``jid`` (else 0, none and 5).
        """
        if (
            jid is None
            and delay == 0
            and type(delay) is int
            and priority is None
            and tags is None
            and retries is None
            and depends is None
            and throttles is None
        ):
            writer = self._client._put_writer(self.name)
            if writer is not None:
                return writer(klass, data)
        return self._client._do(
            ops.put(
                self._client, self.name, klass, data, priority, tags, delay, retries, jid, depends,
                throttles,
            )
        )  # fmt: skip

    def requeue(
        self,
        klass: p.KlassArg,
        data: p.DataArg = None,
        *,
        priority: int | None = None,
        tags: Sequence[str] | None = None,
        delay: float = 0,
        retries: int | None = None,
        jid: str | None = None,
        depends: Sequence[str] | None = None,
        throttles: Sequence[str] | None = None,
    ) -> str:
        """:meth:`put` for a job that must already exist (``job.requeue``); returns its jid.

        The job named by ``jid`` moves here whatever its state; a missing one raises
        :class:`reqless.JobNotFoundError`.
        """
        return self._client._do(
            ops.put(
                self._client, self.name, klass, data, priority, tags, delay, retries, jid, depends,
                throttles, requeue=True,
            )
        )  # fmt: skip

    @property
    def heartbeat(self) -> int:
        """Seconds a popped job's lock lasts here: the ``<queue>-heartbeat`` option, else
        ``heartbeat``; assigning sets this queue's own."""
        return self._client._do(ops.queue_heartbeat(self.name))

    @heartbeat.setter
    def heartbeat(self, value: int) -> None:
        self._client._do(ops.config_set(f"{self.name}-heartbeat", value))

    def put_many(self, jobs: Iterable[PutManyItem]) -> list[str]:
        """Enqueue many jobs in one round trip; returns their jids in order.

        Each item is a :class:`JobSpec`, a mapping of :meth:`put`'s arguments or a
        ``(klass, data)`` pair. Every item is validated before anything is sent;
        then the commands are written in chunks, so the server starts on the
        first jobs while later ones are still being packed.
        """
        return self._client._do(ops.put_many(self._client, self.name, jobs))

    @overload
    def pop(self, count: None = None) -> Job | None: ...
    @overload
    def pop(self, count: int) -> list[Job]: ...
    def pop(self, count: int | None = None) -> Job | list[Job] | None:
        """Take work as this client's worker: one job (or None), or a list of up to ``count``."""
        return self._client._do(ops.pop(self._client, self.name, count))

    @overload
    def peek(self, count: None = None) -> Job | None: ...
    @overload
    def peek(self, count: int) -> list[Job]: ...
    def peek(self, count: int | None = None) -> Job | list[Job] | None:
        """Look at the next job(s) ``pop`` would take, without taking them."""
        return self._client._do(ops.peek(self._client, self.name, count))

    def length(self) -> int:
        """Jobs waiting, scheduled or running (not depends, throttled or recurring)."""
        return self._client._do(ops.queue_length(self.name))

    def __len__(self) -> int:
        return self.length()

    @property
    def counts(self) -> p.QueueCounts:
        """The queue's job counts by state, and whether it is paused."""
        return self._client._do(p.queue_counts(self.name))

    def pause(self) -> None:
        """Stop pops from this queue (puts still go in)."""
        self._client._do(p.no_reply("queue.pause", self.name))

    def unpause(self) -> None:
        self._client._do(p.no_reply("queue.unpause", self.name))

    @property
    def paused(self) -> bool:
        return self._client._do(ops.paused(self.name))

    def stats(self, date: float | None = None) -> p.QueueStats:
        """Statistics of the day containing ``date`` (default: today)."""
        return self._client._do(p.stats(self.name, self._client.clock() if date is None else date))

    def recur(
        self,
        klass: p.KlassArg,
        data: p.DataArg,
        interval: float,
        offset: float = 0,
        *,
        priority: int | None = None,
        tags: Sequence[str] | None = None,
        retries: int | None = None,
        backlog: int | None = None,
        throttles: Sequence[str] | None = None,
        jid: str | None = None,
    ) -> str:
        """Spawn a job every ``interval`` seconds, the first after ``offset``; returns the jid."""
        return self._client._do(
            p.recur(
                self.name, klass, data, interval, offset, priority=priority, tags=tags,
                retries=retries, backlog=backlog, throttles=throttles, jid=jid,
            )
        )  # fmt: skip

    @property
    def throttle(self) -> Throttle:
        """The throttle limiting how many of this queue's jobs run at once."""
        return self._client.throttles[f"ql:q:{self.name}"]

    def unfail(self, group: str, count: int = 25) -> int:
        """Move up to ``count`` of the oldest jobs failed in ``group`` into this queue."""
        return self._client._do(ops.unfail(self.name, group, count))

    def forget(self) -> None:
        """Drop the name from the list of known queues (its jobs are untouched)."""
        self._client._do(p.no_reply("queue.forget", self.name))


class Queues:
    """``client.queues[name]`` and the counts of every known queue."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __getitem__(self, name: str) -> Queue:
        return Queue(self._client, name)

    def __iter__(self) -> Iterator[Queue]:
        return iter([Queue(self._client, name) for name in self.names])

    @property
    def names(self) -> list[str]:
        return self._client._do(ops.queue_names())

    @property
    def counts(self) -> list[p.QueueCounts]:
        return self._client._do(p.all_queue_counts())
