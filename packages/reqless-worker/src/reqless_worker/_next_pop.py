"""A pop sent in the same round trip as the completion before it: :class:`NextPop`.

A child that just ran the last job it holds needs two things from the
server: to complete that job and to pop the next ones. Pipelined, the two
cost one round trip instead of two. The runner sends the completion first
(so the core counts the worker's jobs right) and the pop after it; this
object builds the pop when the completion is about to be sent, and takes its
reply.

The pop is built at the last moment: the job budget is claimed then (and
what the pop did not use is given back), and nothing is popped once the
child is stopping. If the round trip fails (the server went away) the
completion alone is sent again, never the pop: a pop whose reply was lost
would leave its jobs held by nobody until their lease ran out.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from reqless import Job, ReqlessError

# The client's request building: the worker pipelines a pop with a completion,
# which the public API has no call for.
from reqless import _protocol as p

if TYPE_CHECKING:
    from reqless_worker._child import ChildSession

__all__ = ["NextPop"]

logger = logging.getLogger(__name__)


class NextPop:
    """Up to ``wanted`` jobs from the child's first queue, popped alongside a completion.

    :attr:`sent` tells whether the pop went out (the runner may not complete
    through it: a job that failed, or finished itself); :attr:`covered_all` whether
    an empty answer means every queue of the child is empty.
    """

    def __init__(self, session: ChildSession, wanted: int) -> None:
        self.session = session
        self.wanted = wanted
        self.sent = False
        self.covered_all = False
        self.jobs: list[Job] = []
        self._granted = 0
        self._call: p.Call[list[p.JobState]] | None = None

    def call(self) -> p.Call[list[p.JobState]] | None:
        """The pop to send now, or None (stopping, budget spent, no queue yet)."""
        session = self.session
        if session.control.stopping:
            return None
        names = session.queues.names()
        if not names:
            return None
        self._granted = session.control.claim(self.wanted)
        if self._granted <= 0:
            return None
        self.sent = True
        self.covered_all = len(names) == 1
        self._call = p.pop(names[0], session.worker_name, self._granted)
        return self._call

    def accept(self, reply: Any) -> None:
        """Take the pop's raw reply (or its error, or None when it was not sent after all)."""
        states: list[p.JobState] = []
        if isinstance(reply, ReqlessError):
            logger.warning("popping alongside a completion failed: %s", reply)
            self.covered_all = False
        elif reply is not None and self._call is not None:
            states = self._call.parse(reply)
        else:
            self.sent = False
        self.session.control.unclaim(self._granted - len(states))
        self._granted = 0
        self.jobs = self.session.adopt([Job(self.session.client, state) for state in states])
