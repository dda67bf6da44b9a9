"""The parent process: forks ``--workers`` children and keeps them running.

A child that dies is replaced: at once when it exited on purpose (recycled
after ``--max-jobs-per-child``, or killed itself to stop a job whose lock it
lost), with a growing backoff when it crashed or was killed, and the log says
why it died. The parent never connects to the server and never imports job
code, so a restarted child (or every child after SIGHUP) loads the code anew.

With ``burst``, a child that exits 0 (it found its queues empty) is not
replaced, and the parent exits 0 once every child has.

Signals: TERM is passed on to the children (they drain) and the parent exits 0
once they are gone; INT and QUIT are passed on too (children stop now and give
their jobs back); HUP replaces every child, each after it drained.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass
from types import FrameType

from reqless_worker._control import (
    EXIT_CRASHED,
    EXIT_LOCK_LOST,
    EXIT_OK,
    EXIT_RECYCLE,
    ChildControl,
    JobBudget,
    PutClaims,
)
from reqless_worker._settings import WorkerSettings
from reqless_worker.strategies import Strategy

__all__ = ["Supervisor"]

logger = logging.getLogger(__name__)

TICK = 0.05
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
# A child that lived this long had no start-up problem: its backoff starts over.
HEALTHY_SECONDS = 30.0


@dataclass
class _Slot:
    index: int
    pid: int | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    replacing: bool = False  # HUP: sent TERM, start a new one when it is gone


class Supervisor:
    """Runs ``strategy`` in ``settings.workers`` children until told to stop."""

    def __init__(self, settings: WorkerSettings, strategy: Strategy) -> None:
        self.settings = settings
        self.strategy = strategy
        self.budget = JobBudget(settings.max_jobs)
        self.claims = PutClaims()
        self.slots = [_Slot(index) for index in range(settings.workers)]
        self._stopping: int | None = None  # the signal being passed on
        self._pending: list[int] = []

    # -------------------------------------------------------------------- run

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        logger.info(
            "worker %s: %d %s child(ren) on %s",
            self.settings.name,
            len(self.slots),
            self.strategy.name,
            ", ".join(self.settings.queues),
        )
        for slot in self.slots:
            self._spawn(slot)
        while True:
            self._handle_signals()
            self._reap()
            if self._stopping is None:
                self._restart_due()
            alive = any(slot.pid is not None for slot in self.slots)
            waiting = any(slot.restart_at is not None for slot in self.slots)
            if not alive and (self._stopping is not None or not waiting):
                logger.info("worker %s: every child has exited", self.settings.name)
                return 0
            time.sleep(TICK)

    # ---------------------------------------------------------------- signals

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only record it: the loop acts, outside the handler.
        self._pending.append(signum)

    def _handle_signals(self) -> None:
        while self._pending:
            signum = self._pending.pop(0)
            if signum == signal.SIGHUP:
                if self._stopping is None:
                    logger.info("HUP: replacing every child")
                    for slot in self.slots:
                        if slot.pid is not None:
                            slot.replacing = True
                            self._kill(slot, signal.SIGTERM)
                continue
            # A second INT after TERM upgrades the stop; TERM after INT changes nothing.
            if self._stopping in (signal.SIGINT, signal.SIGQUIT) and signum == signal.SIGTERM:
                continue
            self._stopping = signum
            logger.info("%s: stopping the children", signal.Signals(signum).name)
            for slot in self.slots:
                slot.restart_at = None
                if slot.pid is not None:
                    self._kill(slot, signum)

    def _kill(self, slot: _Slot, signum: int) -> None:
        if slot.pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(slot.pid, signum)

    # --------------------------------------------------------------- children

    def _spawn(self, slot: _Slot) -> None:
        slot.restart_at = None
        slot.replacing = False
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which never returns
            self._child(slot.index)
        slot.pid = pid
        slot.started = time.monotonic()
        logger.debug("started child %d (pid %d)", slot.index, pid)

    def _child(self, index: int) -> None:
        code = EXIT_CRASHED
        try:
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
            control = ChildControl(
                self.budget,
                self.settings.max_jobs_per_child,
                self.settings.drain_timeout,
                claims=self.claims,
            )
            code = self.strategy.run_child(index, control)
        except BaseException:
            logger.exception("child %d crashed", index)
            code = EXIT_CRASHED
        finally:
            logging.shutdown()
            os._exit(code)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = next((s for s in self.slots if s.pid == pid), None)
            if slot is None:
                continue
            slot.pid = None
            self._after_exit(slot, status)

    def _after_exit(self, slot: _Slot, status: int) -> None:
        lived = time.monotonic() - slot.started
        code = os.waitstatus_to_exitcode(status)
        why = _describe(code)
        if self._stopping is not None:
            logger.info("child %d stopped (%s)", slot.index, why)
            return
        now = time.monotonic()
        if slot.replacing or code in (EXIT_RECYCLE, EXIT_LOCK_LOST):
            logger.info("child %d %s; starting a new one", slot.index, why)
            slot.restart_at = now
            return
        if code == EXIT_OK:
            if self.settings.burst:
                logger.info("child %d finished: its queues are empty (burst)", slot.index)
                return
            if self.budget.spent:
                logger.info("child %d finished: the job budget is spent", slot.index)
                return
            logger.info("child %d exited on its own (%s); starting a new one", slot.index, why)
            slot.restart_at = now
            return
        slot.failures = 1 if lived >= HEALTHY_SECONDS else slot.failures + 1
        delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (slot.failures - 1))
        logger.error(
            "child %d died after %.1fs (%s); restarting in %.1fs", slot.index, lived, why, delay
        )
        slot.restart_at = now + delay

    def _restart_due(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.pid is None and slot.restart_at is not None and slot.restart_at <= now:
                self._spawn(slot)


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return {
        EXIT_OK: "exit 0",
        EXIT_RECYCLE: "recycled after --max-jobs-per-child",
        EXIT_LOCK_LOST: "stopped a job whose lock was lost",
    }.get(code, f"exit code {code}")
