"""What a child is told by its signals and its budget: :class:`ChildControl`.

Standard library only, and made of primitives gevent's patching turns
cooperative. Signal handlers write here; strategies read the flags and sleep
in :meth:`ChildControl.wait`, which :meth:`ChildControl.wake` (a put event, a
signal) cuts short.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import zlib
from collections.abc import Callable
from multiprocessing.sharedctypes import Synchronized, SynchronizedArray
from typing import Any

__all__ = [
    "EXIT_CRASHED",
    "EXIT_LOCK_LOST",
    "EXIT_OK",
    "EXIT_RECYCLE",
    "ChildControl",
    "JobBudget",
    "PutClaims",
]

#: A child's exit codes, read by the supervisor.
EXIT_OK = 0  # done: stopped by a signal, or the worker's --max-jobs reached
EXIT_CRASHED = 1  # anything unexpected: restarted with backoff
EXIT_RECYCLE = 75  # --max-jobs-per-child reached: replaced at once
EXIT_LOCK_LOST = 76  # killed itself to stop a job whose lock it lost: replaced at once


class JobBudget:
    """``--max-jobs`` shared by every child of one worker (shared memory, made before fork)."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self._taken: Synchronized[int] | None = (
            None if total is None else multiprocessing.Value("q", 0)
        )

    def reserve(self, wanted: int) -> int:
        """Reserve up to ``wanted`` jobs; how many were granted (0: the budget is spent)."""
        if self._taken is None or self.total is None:
            return wanted
        with self._taken.get_lock():
            granted = max(0, min(wanted, self.total - self._taken.value))
            self._taken.value += granted
        return granted

    def refund(self, count: int) -> None:
        """Give back reserved jobs that were not popped after all."""
        if self._taken is not None and count > 0:
            with self._taken.get_lock():
                self._taken.value -= count

    @property
    def spent(self) -> bool:
        if self._taken is None or self.total is None:
            return False
        with self._taken.get_lock():
            return self._taken.value >= self.total


class PutClaims:
    """Which idle child of one worker answers a put (shared memory, made before fork).

    Every child hears every put on ``ql:log``; if each idle child popped, all
    but one would pop nothing, and the one that gets the job might wait
    behind their pops on the server. So an idle child wakes for a put only if
    it is the first to claim that jid; the others stay asleep. A child that
    popped a job through its wait on the server claims the job's jid too, so
    the put event that follows wakes nobody. A claim holds for
    ``CLAIM_SECONDS`` (the time the children take to hear the same message),
    so a later put of the same jid is claimed afresh; the last ``SLOTS``
    claims are remembered (a batch of puts heard at once).
    """

    CLAIM_SECONDS = 0.05
    SLOTS = 16

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        # CLOCK_MONOTONIC is one clock for every process of the machine.
        self.clock = clock
        # [next slot, then (crc32 of a claimed jid, when it was claimed in microseconds) per slot]
        self._slots: SynchronizedArray[int] = multiprocessing.Array("q", [0] + [-1, 0] * self.SLOTS)

    def claim(self, jid: str) -> bool:
        """True for the first caller (of any child) for ``jid``, False for the others."""
        key = zlib.crc32(jid.encode())
        now = int(self.clock() * 1_000_000)
        with self._slots.get_lock():
            # The raw array: each item access through the wrapper takes the lock again.
            slots: Any = self._slots.get_obj()
            if self._held(slots, key, now):
                return False
            at = slots[0]
            slots[1 + 2 * at], slots[2 + 2 * at] = key, now
            slots[0] = (at + 1) % self.SLOTS
            return True

    def claimed(self, jid: str) -> bool:
        """Whether some child claimed ``jid`` within the last ``CLAIM_SECONDS``."""
        key = zlib.crc32(jid.encode())
        with self._slots.get_lock():
            return self._held(self._slots.get_obj(), key, int(self.clock() * 1_000_000))

    def _held(self, slots: Any, key: int, now: int) -> bool:
        since = now - self.CLAIM_SECONDS * 1_000_000
        keys, times = slots[1::2], slots[2::2]
        return any(k == key and t > since for k, t in zip(keys, times, strict=True))


class ChildControl:
    """A child's stop flags, wake-up, job budget and put claims.

    ``draining`` (SIGTERM): take no new jobs, let running ones finish until
    ``drain_deadline``. ``aborting`` (SIGINT/SIGQUIT): stop now and give the
    running jobs back. Both are plain flags: set from signal handlers, read
    anywhere.
    """

    def __init__(
        self,
        budget: JobBudget | None = None,
        per_child: int | None = None,
        drain_timeout: float = 30.0,
        claims: PutClaims | None = None,
    ) -> None:
        self.draining = False
        self.aborting = False
        self.recycling = False
        self.drain_timeout = drain_timeout
        self.drain_deadline: float | None = None
        self.budget = budget or JobBudget(None)
        self.claims = claims or PutClaims()
        self.per_child = per_child
        self.jobs_reserved = 0
        # Re-entrant: a signal handler may wake() while this thread holds the lock.
        # Taken directly where nothing waits on the condition: the lock's own
        # context manager is C, Condition's is Python (every idle pick-up takes it).
        self._lock = threading.RLock()
        self._condition = threading.Condition(self._lock)
        self._woken = False
        # Set while the child waits on the server (see begin_server_wait()).
        self._interrupt: Callable[[], None] | None = None

    @property
    def stopping(self) -> bool:
        """Whether to stop taking jobs, for whatever reason."""
        return self.draining or self.aborting or self.recycling

    def drain(self) -> None:
        if not self.draining:
            self.draining = True
            self.drain_deadline = time.monotonic() + self.drain_timeout
        self.wake()

    def abort(self) -> None:
        self.aborting = True
        self.wake()

    @property
    def drain_expired(self) -> bool:
        return self.drain_deadline is not None and time.monotonic() >= self.drain_deadline

    def wake(self) -> None:
        """Cut the current (or next) :meth:`wait`, or the wait on the server, short."""
        with self._condition:
            self._woken = True
            self._condition.notify_all()
            if self._interrupt is not None:
                self._interrupt()

    def begin_server_wait(self, interrupt: Callable[[], None]) -> bool:
        """A wait that is not :meth:`wait` (a pop blocked on the server) begins;
        :meth:`wake` calls ``interrupt()`` until :meth:`end_server_wait`, so it must
        be safe in a signal handler. Returns whether to wait at all (False: woken
        already, or stopping); a wake before the wait counts, and the wait consumes it.
        Plain methods, not a context manager: this is every idle pick-up's path.
        """
        with self._lock:
            self._interrupt = interrupt
            return not self._woken and not self.stopping

    def end_server_wait(self) -> None:
        with self._lock:
            self._interrupt = None
            self._woken = False

    def wait(self, timeout: float) -> None:
        """Sleep until :meth:`wake` or ``timeout`` seconds; a wake before the call counts."""
        with self._condition:
            if not self._woken and not self.stopping:
                self._condition.wait(timeout)
            self._woken = False

    def reserve(self, wanted: int) -> int:
        """How many of ``wanted`` jobs this child may still pop (0: stop).

        Counts against ``--max-jobs-per-child`` (then ``recycling`` is set) and
        the worker's shared ``--max-jobs``; :meth:`release` returns what a pop
        did not use.
        """
        if self.per_child is not None:
            wanted = min(wanted, self.per_child - self.jobs_reserved)
            if wanted <= 0:
                self.recycling = True
                return 0
        granted = self.budget.reserve(wanted)
        self.jobs_reserved += granted
        return granted

    def release(self, count: int) -> None:
        if count > 0:
            self.jobs_reserved -= count
            self.budget.refund(count)

    @property
    def budget_spent(self) -> bool:
        return self.budget.spent

    def exit_code(self) -> int:
        """What the child should exit with once its strategy returns."""
        if self.recycling and not (self.draining or self.aborting):
            return EXIT_RECYCLE
        return EXIT_OK
