"""Signals in a child: what TERM, INT, QUIT, USR1 and USR2 do there.

* TERM: drain (take no new jobs, finish running ones); once ``drain_timeout``
  has passed, behave as INT.
* INT, QUIT: abort; ``interrupt()`` says whether to raise :class:`Shutdown`
  into the code running in the main thread (the process strategy's job), so
  the job is given back at once.
* USR1: log every thread's stack. USR2: open a debugger on the main thread.
* HUP is the supervisor's (restart children); a child ignores it.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from types import FrameType

from reqless_worker._control import ChildControl
from reqless_worker._errors import Shutdown

__all__ = ["dump_stacks", "install_child_signals", "open_debugger"]

logger = logging.getLogger(__name__)


def dump_stacks(signum: int = signal.SIGUSR1, frame: FrameType | None = None) -> None:
    """Log the stack of every thread of this process (SIGUSR1)."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    parts = []
    for ident, stack in sys._current_frames().items():
        parts.append(f"thread {names.get(ident, '?')} ({ident}):\n")
        parts.extend(traceback.format_stack(stack))
    logger.warning("stacks on request:\n%s", "".join(parts))


def open_debugger(signum: int = signal.SIGUSR2, frame: FrameType | None = None) -> None:
    """Open pdb where the main thread is (SIGUSR2); the terminal must be attached."""
    import pdb  # noqa: T100 - opening a debugger on request is what USR2 is for

    logger.warning("SIGUSR2: opening a debugger in pid-local pdb")
    pdb.Pdb().set_trace(frame)


def install_child_signals(
    control: ChildControl, *, interrupt: Callable[[], bool] = lambda: False
) -> None:
    """Install the child's handlers (main thread only)."""

    def abort(signum: int, frame: FrameType | None) -> None:
        logger.info("%s: stopping now, giving running jobs back", signal.Signals(signum).name)
        control.abort()
        if interrupt():
            raise Shutdown(signal.Signals(signum).name)

    def drain(signum: int, frame: FrameType | None) -> None:
        if control.draining:
            return
        logger.info("TERM: finishing running jobs (for up to %.0fs)", control.drain_timeout)
        control.drain()
        signal.setitimer(signal.ITIMER_REAL, max(control.drain_timeout, 0.001))

    def drain_expired(signum: int, frame: FrameType | None) -> None:
        if control.draining and not control.aborting:
            logger.warning("TERM: jobs still running after %.0fs", control.drain_timeout)
            abort(signal.SIGINT, frame)

    signal.signal(signal.SIGTERM, drain)
    signal.signal(signal.SIGINT, abort)
    signal.signal(signal.SIGQUIT, abort)
    signal.signal(signal.SIGALRM, drain_expired)
    signal.signal(signal.SIGUSR1, dump_stacks)
    signal.signal(signal.SIGUSR2, open_debugger)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
