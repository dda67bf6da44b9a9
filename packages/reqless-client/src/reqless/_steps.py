"""Sans-IO steps and their two drivers, for logic a sync class and its asyncio twin share.

The core script's calls, the waiting pop and the event listener are each
written once, as a generator of steps: it yields ``(method name, *arguments)``
and gets the method's result back. :func:`drive` runs the steps with a sync
object's methods, :func:`drive_async` awaits an asyncio object's. A
:class:`reqless.ReqlessError` that a method raises is raised inside the steps,
at the step that asked for it, so they may handle it (load the missing core and
call again, go on with what the master did); any other exception passes
straight out.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeAlias, TypeVar

from reqless._errors import ReqlessError

__all__ = ["Steps", "drive", "drive_async"]

T = TypeVar("T")
#: Sans-IO steps: yield ``(method name, *arguments)``, get its result, return a ``T``.
Steps: TypeAlias = Generator[tuple[Any, ...], Any, T]


def drive(steps: Steps[T], target: object) -> T:
    """Run ``steps`` to their result, each step a call of one of ``target``'s methods."""
    reply: Any = None
    error: ReqlessError | None = None
    while True:
        try:
            name, *args = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        try:
            reply, error = getattr(target, name)(*args), None
        except ReqlessError as exc:
            reply, error = None, exc


async def drive_async(steps: Steps[T], target: object) -> T:
    """:func:`drive` with ``target``'s coroutine methods, each awaited."""
    reply: Any = None
    error: ReqlessError | None = None
    while True:
        try:
            name, *args = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        try:
            reply, error = await getattr(target, name)(*args), None
        except ReqlessError as exc:
            reply, error = None, exc
