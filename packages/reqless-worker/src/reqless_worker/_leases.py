"""Keeping running jobs' locks: :class:`LeaseKeeper`.

One background thread per child (a greenlet once gevent has patched
threading) heartbeats every registered job when a third of its remaining
lease has passed, so a job outlives any heartbeat setting. When the core
refuses a heartbeat (the lock went to another worker, the job was cancelled,
completed elsewhere or moved), the job's ``on_lost`` callback runs: the
strategy stops that job's execution. A server that cannot be reached is not a
lost lock: the keeper retries until the server answers, and the core then
says whether the lock is still ours.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from reqless import (
    Job,
    JobNotFoundError,
    LostLockError,
    ReplicationTimeoutError,
    ReqlessError,
    ServerUnavailableError,
)
from reqless_worker._outage import Outage, unreplicated

__all__ = ["LeaseKeeper", "LostCallback"]

logger = logging.getLogger(__name__)

#: Called (from the keeper's thread) with the job and the core's refusal.
LostCallback = Callable[[Job, ReqlessError], None]

# Never heartbeat one job more often than this, whatever its lease says.
MIN_GAP = 0.05
# After a heartbeat failed for another reason than an outage.
RETRY_DELAY = 0.5
# The keeper looks at its leases at least this often. Registering a job then
# wakes it only for a lease due sooner, which no lease of a few seconds is: a
# job starting must not share the moment with another thread waking up.
WATCH_SECONDS = 1.0


@dataclass
class _Lease:
    job: Job
    on_lost: LostCallback
    due: float


class LeaseKeeper:
    """Heartbeats each registered job at a third of its remaining lease (``fraction``).

    :meth:`register` when a job is handed to this worker, :meth:`unregister`
    *before* completing or failing it: unregister waits for a heartbeat of that
    job in flight, so a refusal caused by our own completion is never taken for
    a lost lock.
    """

    def __init__(
        self,
        *,
        fraction: float = 1 / 3,
        clock: Callable[[], float] = time.time,
        outage: Outage | None = None,
    ) -> None:
        self.fraction = fraction
        self.clock = clock
        self.outage = outage or Outage()
        self._leases: dict[str, _Lease] = {}
        # register() and unregister() run on every job's path: they take the lock
        # itself (a C context manager), not the condition (a Python one). Not an RLock:
        # nothing takes it twice, and gevent's patched RLock is written in Python.
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._in_flight: str | None = None
        # When the sleeping keeper wakes by itself; -inf while it is awake (it looks
        # at every lease before sleeping again).
        self._wake_at = float("-inf")
        self._stopped = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stopped = False
            self._thread = threading.Thread(
                target=self._run, name="reqless-lease-keeper", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self._thread = None

    def register(self, job: Job, on_lost: LostCallback) -> None:
        lease = _Lease(job, on_lost, self._due(job))
        with self._lock:
            self._leases[job.jid] = lease
            # Wake the keeper only if it would sleep past this lease: a child popping
            # thousands of short jobs a second must not wake a thread for each.
            # (The clocks of _due and _wake_at are the same injectable one.)
            if lease.due < self._wake_at:
                self._condition.notify_all()

    def unregister(self, jid: str) -> None:
        # Called twice for most jobs. Once a jid is neither leased nor in flight it
        # cannot become in flight again (only a leased jid does), so no lock is needed.
        if jid not in self._leases and self._in_flight != jid:
            return
        with self._lock:
            self._leases.pop(jid, None)
            while self._in_flight == jid:
                self._condition.wait(1.0)

    def __contains__(self, jid: object) -> bool:
        with self._condition:
            return jid in self._leases

    @property
    def jids(self) -> list[str]:
        with self._condition:
            return list(self._leases)

    def jobs(self) -> list[Job]:
        with self._condition:
            return [lease.job for lease in self._leases.values()]

    def _due(self, job: Job) -> float:
        now = self.clock()
        return now + max(MIN_GAP, (job.expires_at - now) * self.fraction)

    def _next(self) -> _Lease | None:
        """The lease to renew now, or None once stopped; sleeps until one is due."""
        with self._condition:
            while not self._stopped:
                now = self.clock()
                soonest = min(self._leases.values(), key=lambda lease: lease.due, default=None)
                if soonest is not None and soonest.due <= now:
                    self._in_flight = soonest.job.jid
                    self._wake_at = float("-inf")
                    return soonest
                # Never asleep longer than WATCH_SECONDS: a job registered with a due
                # time past that needs no wake-up call (see register()).
                self._wake_at = now + WATCH_SECONDS
                if soonest is not None:
                    self._wake_at = min(self._wake_at, soonest.due)
                self._condition.wait(self._wake_at - now)
            self._wake_at = float("-inf")
            return None

    def _run(self) -> None:
        while (lease := self._next()) is not None:
            refusal: ReqlessError | None = None
            renewed = False
            retry_in = RETRY_DELAY
            try:
                # Job.heartbeat, not the WorkerJob's: that one swallows outages.
                Job.heartbeat(lease.job)
                renewed = True
                self.outage.back()
            except (LostLockError, JobNotFoundError) as exc:
                refusal = exc
            except ServerUnavailableError as exc:
                # Not a lost lock: once the server is back, the core says whether it is.
                retry_in = self.outage.lost(exc)
            except ReplicationTimeoutError as exc:
                # Renewed on the master; its new expiry is unknown, so it is renewed again soon.
                unreplicated(exc, f"the heartbeat of {lease.job.jid}")
            except ReqlessError as exc:
                logger.error("heartbeat of %s failed, will retry: %s", lease.job.jid, exc)
            except Exception:
                logger.exception("heartbeat of %s failed, will retry", lease.job.jid)
            with self._condition:
                self._in_flight = None
                self._condition.notify_all()
                current = self._leases.get(lease.job.jid)
                if current is not lease:
                    continue  # finished (or re-registered) while we were asking
                if refusal is not None:
                    del self._leases[lease.job.jid]
                else:
                    lease.due = self._due(lease.job) if renewed else self.clock() + retry_in
            if refusal is not None:
                logger.warning("lost the lock of %s: %s", lease.job.jid, refusal.detail)
                try:
                    lease.on_lost(lease.job, refusal)
                except Exception:
                    logger.exception("lock-lost callback of %s failed", lease.job.jid)
