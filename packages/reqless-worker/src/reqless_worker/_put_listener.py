"""Hearing puts by other clients on ``ql:log`` and rousing an idle child: :class:`PutListener`.

A job put through our client wakes an idle child on the server itself (the
client's wake key unblocks the child's waiting pop: see
:class:`reqless.PopWaiter`). Other clients (Ruby workers, the original
reqless-py) write no wake key, but the core publishes
``{"event":"put","queue":...}`` on ``ql:log`` for every put, whoever made it
(and ``advanced`` for a job completed into its next queue). One pub/sub
connection per child listens there while the child is idle, and wakes it
when a job arrives in one of its queues and no child of this worker
popped that job within ``PUT_GRACE`` (the usual case for our own puts, which
must not cost a second pop). Polling every ``--interval`` stays as the last
fallback (jobs released by a retry, a schedule or a dependency publish no
put). The same connection always follows ``ql:w:<worker>``, where the core
reports ``lock_lost`` and ``canceled`` for jobs this worker holds; those go to
the :meth:`PutListener.on_job_event` callbacks.

While a child stays busy it leaves ``ql:log`` (every completion is published
there too, and reading what nobody needs costs CPU at thousands of jobs per
second); going idle subscribes again, and :meth:`PutListener.wait_for_work` returns
at once after subscribing, so the caller pops once more and no put published
in between is missed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from reqless import ClientSettings, Job, ReqlessError, ServerUnavailableError
from reqless.drivers import Driver, Message, PubSub, connect
from reqless_worker._control import ChildControl
from reqless_worker._outage import Outage

__all__ = ["JobEventCallback", "PutListener"]

logger = logging.getLogger(__name__)

#: ``callback(jid, event)`` with event ``lock_lost``, ``canceled`` or ``put``.
JobEventCallback = Callable[[str, str], None]

LOG_CHANNEL = "ql:log"
JOB_EVENTS = frozenset({"lock_lost", "canceled", "put"})
# Events on ql:log that bring a job to a queue.
ARRIVALS = frozenset({"put", "advanced"})
# How often the listener looks at changed wishes (subscribe, leave, stop).
POLL_SECONDS = 0.02
# Busy this long without going idle: stop reading ql:log. Short: while a child
# drains a deep queue, every pop and completion of every worker is published
# there and wakes this thread for nothing (a fifth of a drain's CPU at 1 s);
# going idle again costs one subscribe.
BUSY_SECONDS = 0.05
ARM_TIMEOUT = 2.0
# A put heard on ql:log waits this long for a child's waiting pop to take the
# job (its wake key rides with our client's puts) before it wakes a child.
PUT_GRACE = 0.002


class PutListener:
    """One child's pub/sub listener.

    ``wants_queue(name)`` says whether a put into ``name`` concerns this child;
    ``control.wake()`` is called for such a put. With ``enabled`` False the
    listener still follows the worker channel but never wakes anyone (pure
    polling, for benchmarks).
    """

    def __init__(
        self,
        settings: ClientSettings,
        worker_name: str,
        control: ChildControl,
        wants_queue: Callable[[str], bool],
        *,
        enabled: bool = True,
        outage: Outage | None = None,
    ) -> None:
        self.settings = settings
        self.outage = outage or Outage()
        self.worker_name = worker_name
        self.control = control
        self.wants_queue = wants_queue
        self.enabled = enabled
        self._worker_channel = f"ql:w:{worker_name}"
        self._callbacks: list[JobEventCallback] = []
        self._condition = threading.Condition()
        self._want_log = False
        self._log_live = False  # subscribed and confirmed
        self._busy_since: float | None = None
        # Idle (from arm() to busy()): a put wakes this child only if it claims the put first.
        self._waiting = False
        # Jobs this child's wait on the server popped, for the listener to claim (see took()).
        self._taken: deque[Job] = deque()
        self._stopped = threading.Event()
        self._channel_live = threading.Event()  # the worker channel is subscribed
        self._thread: threading.Thread | None = None
        self._driver: Driver | None = None
        # Puts heard on ql:log, (when to act, jid), in the order heard (see PUT_GRACE).
        self._heard: deque[tuple[float, str]] = deque()

    # ----------------------------------------------------------------- control

    def on_job_event(self, callback: JobEventCallback) -> None:
        """Call ``callback(jid, event)`` for each lock_lost / canceled / put on our channel."""
        self._callbacks.append(callback)

    def start(self) -> None:
        """Start listening; returns once the worker channel is subscribed (or after
        ARM_TIMEOUT), so that no job is popped before its lock_lost could be heard."""
        if self._thread is None:
            self._stopped.clear()
            self._thread = threading.Thread(target=self._run, name="reqless-wakeup", daemon=True)
            self._thread.start()
            self._channel_live.wait(ARM_TIMEOUT)

    def stop(self) -> None:
        with self._condition:
            self._stopped.set()
            self._condition.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self._thread = None
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    def took(self, jobs: Iterable[Job]) -> None:
        """The child's wait on the server popped these jobs, just put: the listener
        claims them (off the path from the pop to the job), so that their put events
        wake no sibling child for nothing."""
        self._taken.extend(jobs)

    def busy(self) -> None:
        """The child got work; after a while busy, put events are no longer read."""
        self._waiting = False
        if self._busy_since is None:
            self._busy_since = time.monotonic()

    def arm(self) -> bool:
        """The child is idle: make sure put events are read; True if that needed a new
        subscription (pop again: a put may have come before it)."""
        self._busy_since = None
        self._waiting = True
        if not self.enabled or self._thread is None:
            return False
        with self._condition:
            if self._log_live:
                return False
            self._want_log = True
            deadline = time.monotonic() + ARM_TIMEOUT
            while not self._log_live and not self._stopped.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._condition.wait(left)
            return True

    def wait_for_work(self, timeout: float) -> None:
        """Sleep until a put for our queues, a signal, or ``timeout`` seconds.

        Returns at once if it had to subscribe first (see :meth:`arm`).
        """
        if not self.arm():
            self.control.wait(timeout)

    # ---------------------------------------------------------------- listener

    def _run(self) -> None:
        while not self._stopped.is_set():
            pubsub: PubSub | None = None
            try:
                pubsub = self._open()
                self._listen(pubsub)
            except ReqlessError as exc:
                if self._stopped.is_set():
                    break
                if isinstance(exc, ServerUnavailableError):
                    pause = self.outage.lost(exc)
                else:
                    logger.warning("event listener failed (%s); listening again", exc)
                    pause = 1.0
                self._stopped.wait(pause)
            finally:
                with self._condition:
                    self._log_live = False
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        logger.debug("closing the pub/sub connection failed", exc_info=True)
            # Whatever was published while we were away is unknown: look for work.
            self.control.wake()

    def _open(self) -> PubSub:
        if self._driver is None:
            self._driver = connect(self.settings)
        pubsub = self._driver.pubsub()
        pubsub.subscribe(self._worker_channel)
        return pubsub

    def _listen(self, pubsub: PubSub) -> None:
        subscribed_log = False
        while not self._stopped.is_set():
            want = self._want_log and self.enabled and not self._busy_too_long()
            if want != subscribed_log:
                if want:
                    pubsub.subscribe(LOG_CHANNEL)
                else:
                    pubsub.unsubscribe(LOG_CHANNEL)
                    with self._condition:
                        self._want_log = self._log_live = False
                subscribed_log = want
            timeout = POLL_SECONDS
            if self._heard:
                timeout = min(timeout, max(0.0, self._heard[0][0] - time.monotonic()))
            message = pubsub.get_message(timeout=timeout)
            taken = self._taken
            while taken:
                self.control.claims.claim(taken.popleft().jid)
            if message is not None:
                self._handle(message)
            self._act_on_heard()

    def _act_on_heard(self) -> None:
        heard, now = self._heard, time.monotonic()
        while heard and heard[0][0] <= now:
            _, jid = heard.popleft()
            if not self.control.claims.claimed(jid):
                self._wake_for(jid)

    def _wake_for(self, jid: str) -> None:
        """A put for our queues: an idle child wakes only if no other idle child of
        this worker claimed it; a busy one is woken anyway (it pops when it can)."""
        if self._waiting:
            if not self.control.claims.claim(jid):
                return
            self._waiting = False  # claims no more puts until it waits again
        self.control.wake()

    def _busy_too_long(self) -> bool:
        since = self._busy_since
        return since is not None and time.monotonic() - since > BUSY_SECONDS

    def _handle(self, message: Message) -> None:
        if message.kind == "subscribe":
            if message.channel == self._worker_channel:
                self._channel_live.set()
            elif message.channel == LOG_CHANNEL:
                with self._condition:
                    self._log_live = True
                    self._condition.notify_all()
            return
        if message.kind != "message":
            return
        if message.channel == LOG_CHANNEL:
            # Cheap test first: most of the log is completions we do not care about.
            data = message.data
            if '"put"' not in data and '"advanced"' not in data:
                return
            event = _decode(data)
            kind = event.get("event")
            # A job completed into its next queue arrives there as if put.
            queue = event.get("queue") if kind == "put" else event.get("to")
            if kind in ARRIVALS and self.wants_queue(str(queue)):
                self._heard.append((time.monotonic() + PUT_GRACE, str(event.get("jid"))))
            return
        event = _decode(message.data)
        jid, kind = event.get("jid"), event.get("event")
        if isinstance(jid, str) and kind in JOB_EVENTS:
            for callback in list(self._callbacks):
                try:
                    callback(jid, str(kind))
                except Exception:
                    logger.exception("job event callback failed on %s %s", kind, jid)


def _decode(data: str) -> dict[str, object]:
    try:
        decoded = json.loads(data)
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}
