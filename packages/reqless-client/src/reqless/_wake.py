"""Wake keys: how a put through this client wakes a worker waiting for work.

A worker with nothing to do waits with ``BZPOPMIN`` on the wake key of each
queue it serves (:class:`reqless.PopWaiter`). Every put, ``put_many``,
requeue, move and completion into a next queue made through this client
writes ``ZADD <wake key> 0 w0``
right behind its core command, in the same write: the server runs the put,
then the ``ZADD`` hands a member to the longest-waiting ``BZPOPMIN``, whose
worker pops the new job at once instead of at its next poll. The put pays
no extra round trip, only a few microseconds of server time, and its reply
does not depend on the ``ZADD`` (an error there, such as ``WRONGTYPE`` on a
key a user owns, is dropped).

Why a sorted set with fixed members rather than a list: ``ZADD`` of a member
already present changes nothing, so a queue nobody waits on keeps a key of
at most :data:`WAKE_CAP` members however many jobs are put, with one command
per put and no trimming. Each blocked ``BZPOPMIN`` takes one member, so a
put wakes exactly one waiting worker (the one waiting longest), and a
``put_many`` of *n* jobs adds ``min(n, WAKE_CAP)`` members to wake that many.
A member left behind when nobody waits only makes the next waiter pop once
straight away, which finds the job or nothing: it costs a pop, never a job.

Why not a ``ql:`` key: the protocol gives every key starting with ``ql:`` to
the core, and the core neither knows nor changes for wake keys. They are
this client's own signal, in its own prefix :data:`WAKE_PREFIX`; jobs put by
other clients wake nobody this way (``reqless-worker`` hears the core's put
events for those, and polls).
``Client(..., wake_workers=False)`` writes no wake key at all.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["WAKE_CAP", "WAKE_PREFIX", "queue_of", "wake_argv", "wake_key"]

WAKE_PREFIX = "reqless:wake:"

#: The most members a wake key holds, so the most workers one ``put_many`` wakes.
WAKE_CAP = 16


def wake_key(queue: str) -> str:
    """The wake key of ``queue``."""
    return WAKE_PREFIX + queue


def queue_of(key: str) -> str:
    """The queue whose wake key is ``key`` (the inverse of :func:`wake_key`)."""
    return key[len(WAKE_PREFIX) :]


def wake_argv(queue: str, count: int = 1) -> tuple[str | int, ...]:
    """``ZADD <wake key> 0 w0 0 w1 ...``: ``count`` members (at least one, at most the cap)."""
    return _wake_argv(queue, max(1, min(count, WAKE_CAP)))


# Cached: every put to a queue sends the same command, so it is built once.
@lru_cache(maxsize=1024)
def _wake_argv(queue: str, members: int) -> tuple[str | int, ...]:
    argv: list[str | int] = ["ZADD", wake_key(queue)]
    for n in range(members):
        argv += [0, f"w{n}"]
    return tuple(argv)
