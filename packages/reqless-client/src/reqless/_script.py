"""Calling the bundled core: :class:`CoreScript` and its asyncio twin.

The core runs in one of two forms. The *function* form (Redis/Valkey 7 and
later) is a library loaded with ``FUNCTION LOAD`` and called with ``FCALL``;
``FCALL_RO reqless_version`` tells whether the loaded library is the one this
package carries. The *eval* form is one script called by its SHA1 with
``EVALSHA``. Either way the text goes to the server once per connection pool,
never on the hot path: a call that finds the core missing (server restart,
failover, ``SCRIPT FLUSH``, ``FUNCTION FLUSH``) loads it and retries once.

Every call sends ``now`` from an injectable clock, with millisecond precision.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, Literal, TypeVar

from reqless import _lua
from reqless._errors import (
    InvalidArgumentError,
    PermissionDeniedError,
    ReqlessError,
    ScriptNotLoadedError,
)
from reqless._steps import Steps, drive, drive_async
from reqless.drivers import (
    Arg,
    AsyncDriver,
    AsyncPipeline,
    AsyncStreamingDriver,
    AsyncTrailingDriver,
    Driver,
    PackedDriver,
    Pipeline,
    StreamingDriver,
    TrailingDriver,
)
from reqless.drivers._resp import bulk

__all__ = ["FORMS", "AsyncCoreScript", "CoreCode", "CoreScript", "Form", "format_now"]

Form = Literal["auto", "function", "eval"]
FORMS: tuple[Form, ...] = ("auto", "function", "eval")
# The form actually used once the server has been asked.
Mode = Literal["function", "eval"]

FUNCTION = "reqless"
VERSION_FUNCTION = "reqless_version"
# The library's entry point that takes `now` from the server's TIME.
SERVER_CLOCK_FUNCTION = "reqless_server_clock"

# A batch for call_many: (command, its arguments after `now`).
Call = tuple[str, Sequence[Arg]]
T = TypeVar("T")


def format_now(now: float) -> str:
    """``now`` as sent to the core: seconds with exactly three decimals, rounded down.

    Rounded down, not to the nearest: a lock taken at a rounded-up ``now``
    would expire up to half a millisecond late, so right after a pop
    ``job.ttl`` could exceed the heartbeat. A clock reading ``.123`` whose
    float is a hair below it still sends ``.123``.
    """
    milliseconds = int(now * 1000)
    if (milliseconds + 1) / 1000 == now:
        milliseconds += 1
    if milliseconds < 1000:
        return f"{milliseconds / 1000:.3f}"
    text = str(milliseconds)
    return f"{text[:-3]}.{text[-3:]}"


class CoreCode:
    """The core's two texts, their SHA1 and library id, built once and shared."""

    @cached_property
    def eval_script(self) -> str:
        return _lua.eval_script()

    @cached_property
    def sha(self) -> str:
        return hashlib.sha1(self.eval_script.encode()).hexdigest()

    @cached_property
    def function_library(self) -> str:
        return _lua.function_library()

    @cached_property
    def library_id(self) -> str:
        """``<version>+<digest>``, what ``FCALL_RO reqless_version 0`` answers when it is ours."""
        return _lua.library_id(self.function_library)


_SHARED_CODE = CoreCode()


def _check_form(form: str) -> Form:
    if form not in FORMS:
        raise InvalidArgumentError(f"unknown core form {form!r}; valid forms: {', '.join(FORMS)}")
    return form


def _functions_unsupported(error: ReqlessError) -> bool:
    """Whether ``error`` says this server (or this user) cannot use the function form."""
    if isinstance(error, PermissionDeniedError):
        return True
    text = error.message.lower()
    return "unknown command" in text


class _CoreBase:
    """What the sync and async twins share: argument building, mode, form choice."""

    # The driver when it can stream a batch (each twin's own streaming protocol), else None.
    _streamer: object

    def __init__(
        self, clock: Callable[[], float] | None, form: Form, code: CoreCode | None
    ) -> None:
        self.clock: Callable[[], float] = time.time if clock is None else clock
        self.form: Form = _check_form(form)
        self.code = _SHARED_CODE if code is None else code
        # Decided on first use; None until then.
        self.mode: Mode | None = "eval" if form == "eval" else None

    def _argv(self, command: str, now: str, args: Sequence[Arg]) -> list[Arg]:
        return [command, now, *args]

    def _words(self, mode: Mode, command: str, args: Sequence[Arg]) -> tuple[Arg, ...]:
        name, target = ("FCALL", FUNCTION) if mode == "function" else ("EVALSHA", self.code.sha)
        return (name, target, 0, command, format_now(self.clock()), *args)

    def _queue(self, pipe: Pipeline | AsyncPipeline, argv: Sequence[Arg]) -> None:
        if self.mode == "function":
            pipe.fcall(FUNCTION, *argv)
        else:
            pipe.evalsha(self.code.sha, *argv)

    def _queue_all(
        self,
        pipe: Pipeline | AsyncPipeline,
        argvs: Sequence[Sequence[Arg]],
        trailer: Sequence[Arg] | None,
    ) -> None:
        for argv in argvs:
            self._queue(pipe, argv)
        if trailer is not None:
            pipe.execute_command(*trailer)

    def _fallback(self, error: ReqlessError) -> Mode:
        """The mode after the function form failed to start with ``error``."""
        if self.form == "auto" and _functions_unsupported(error):
            return "eval"
        raise error

    # The steps below are sans-IO: each yields ``(method name, *arguments)`` of
    # the twin that drives it (sync or asyncio methods of the same names), gets
    # the result back or the ReqlessError thrown in, and returns its own.

    def _starting(self) -> Steps[Mode]:
        """The mode chosen on first use, the function library loaded if it is not ours."""
        try:
            loaded = yield ("_loaded_library",)
        except ScriptNotLoadedError:
            loaded = None
        except ReqlessError as error:
            return self._fallback(error)
        if loaded != self.code.library_id:
            try:
                yield ("_load", "function")
            except ReqlessError as error:
                return self._fallback(error)
        return "function"

    def _calling_many(
        self, calls: Sequence[Call], trailer: Sequence[Arg] | None
    ) -> Steps[list[Any]]:
        mode = self.mode or (yield ("_start",))
        now = format_now(self.clock())
        argvs = [self._argv(command, now, args) for command, args in calls]
        results = yield ("_pipelined", argvs, trailer)
        return (
            yield from self._retrying_missing(
                mode, results, lambda missing: ("_pipelined", [argvs[i] for i in missing], trailer)
            )
        )

    def _calling_each(
        self, command: str, arg_lists: Sequence[Sequence[Arg]], trailer: Sequence[Arg] | None
    ) -> Steps[list[Any]]:
        if self._streamer is None:
            calls = [(command, args) for args in arg_lists]
            return (yield from self._calling_many(calls, trailer))
        mode = self.mode or (yield ("_start",))
        head = (command, format_now(self.clock()))
        name, target = ("FCALL", FUNCTION) if mode == "function" else ("EVALSHA", self.code.sha)
        results = yield ("_stream", name, target, head, arg_lists, trailer)
        return (
            yield from self._retrying_missing(
                mode,
                results,
                lambda missing: ("_stream", name, target, head, [arg_lists[i] for i in missing],
                                 trailer),
            )
        )  # fmt: skip

    def _retrying_missing(
        self, mode: Mode, results: list[Any], retry: Callable[[list[int]], tuple[Any, ...]]
    ) -> Steps[list[Any]]:
        """``results`` with those of the calls the core was missing for run again after
        loading it; ``retry(indexes)`` is the step that runs those calls."""
        missing = _missing(results)
        if missing:
            # Those calls did nothing on the server, so running them again is safe.
            yield ("_load", mode)
            retried = yield retry(missing)
            for i, result in zip(missing, retried, strict=True):
                results[i] = result
        return results

    def _calling_with_trailer(
        self, mode: Mode, command: str, args: Sequence[Arg], trailer: Sequence[Arg]
    ) -> Steps[Any]:
        argv = (command, format_now(self.clock()), *args)
        try:
            return (yield ("_invoke_with_trailer", mode, argv, trailer))
        except ScriptNotLoadedError:
            yield ("_load", mode)
            return (yield ("_invoke_with_trailer", mode, argv, trailer))


class CoreScript(_CoreBase):
    """The core on one driver (one connection pool), called by name and arguments.

    ``form`` is ``"function"`` (FCALL), ``"eval"`` (EVALSHA) or ``"auto"``:
    the function form where the server supports it and the user may load
    functions, else the eval form. ``clock`` gives ``now`` (default
    :func:`time.time`). Safe to share between threads.
    """

    def __init__(
        self,
        driver: Driver,
        *,
        clock: Callable[[], float] | None = None,
        form: Form = "auto",
        code: CoreCode | None = None,
    ) -> None:
        super().__init__(clock, form, code)
        self.driver = driver
        self._lock = threading.Lock()
        # Checked once: a protocol isinstance() is too slow for every batch.
        self._streamer: StreamingDriver | None = (
            driver if isinstance(driver, StreamingDriver) else None
        )
        self._trailing = driver if isinstance(driver, TrailingDriver) else None
        #: The driver, when it sends commands packed by the caller (:meth:`packed_head`).
        self.packer = driver if isinstance(driver, PackedDriver) else None

    def call(self, command: str, *args: Arg) -> Any:
        """Run one core command; its reply, or its typed :class:`reqless.ReqlessError`."""
        mode = self.mode or self._start()
        now = format_now(self.clock())
        try:
            if mode == "function":
                return self.driver.fcall(FUNCTION, command, now, *args)
            return self.driver.evalsha(self.code.sha, command, now, *args)
        except ScriptNotLoadedError:
            self._load(mode)
            return self._invoke(mode, self._argv(command, now, args))

    def call_with_trailer(self, command: str, args: Sequence[Arg], trailer: Sequence[Arg]) -> Any:
        """:meth:`call`, with the command ``trailer`` written right behind it.

        One write and one round trip for both; the core command's reply (or
        its error) is returned, ``trailer``'s is dropped, whatever it is. If the
        core has to be loaded first, both are sent again.
        """
        mode = self.mode or self._start()
        return self._drive(self._calling_with_trailer(mode, command, args, trailer))

    def command(self, command: str, *args: Arg) -> tuple[Arg, ...]:
        """The whole command that :meth:`call` would send now (``FCALL reqless 0 ...``).

        For a caller that writes it on a connection of its own; if the reply
        says the core is missing, run the command again with :meth:`call`,
        which loads it.
        """
        return self._words(self.mode or self._start(), command, args)

    def packed_head(self, command: str, count: int) -> str:
        """The RESP text that starts ``command`` with ``count`` arguments, ``now`` included.

        That is the array's header and ``FCALL reqless 0 <command>`` (or
        ``EVALSHA <sha> 0 <command>``); a caller that packs the rest itself
        sends the whole, encoded as UTF-8, with :attr:`packer` and calls
        :meth:`load` and sends it again if the core was missing.
        """
        name, target = ("FCALL", FUNCTION)
        if (self.mode or self._start()) == "eval":
            name, target = ("EVALSHA", self.code.sha)
        return f"*{4 + count}\r\n{bulk(name)}{bulk(target)}{bulk('0')}{bulk(command)}"

    def load(self) -> None:
        """Load the core again, in the form in use (after a call found it missing)."""
        self._load(self.mode or self._start())

    def server_clock_command(self, command: str, *args: Arg) -> tuple[Arg, ...] | None:
        """:meth:`command` with ``now`` left to the server's clock, or None in the eval form.

        For a command written long before it runs (pipelined behind one that
        blocks), whose writer cannot know its ``now``: the function library's
        ``reqless_server_clock`` entry point reads the server's ``TIME``.
        """
        if (self.mode or self._start()) != "function":
            return None
        return ("FCALL", SERVER_CLOCK_FUNCTION, 0, command, *args)

    def call_many(self, calls: Sequence[Call], trailer: Sequence[Arg] | None = None) -> list[Any]:
        """Run many commands in one round trip, all with the same ``now``.

        Replies come back in order; a failed command's error is returned in its
        place (a :class:`reqless.ReqlessError`), not raised, and the commands
        after it still run. ``trailer``, if given, is one more command sent after
        them (again with any retried ones); its reply is dropped.
        """
        return self._drive(self._calling_many(calls, trailer)) if calls else []

    def call_each(
        self,
        command: str,
        arg_lists: Sequence[Sequence[Arg]],
        trailer: Sequence[Arg] | None = None,
    ) -> list[Any]:
        """Run ``command`` once per argument list, streamed, all with the same ``now``.

        Like :meth:`call_many` (replies in order, errors in place), but on a
        driver that can stream the commands are written in chunks while later
        ones are still being packed, so the server's work overlaps ours. The
        arguments must be valid already: some may be written before a bad one
        is met. ``trailer``, if given, is one more command sent after the last
        one in the same round trip (again with any retried ones); its reply
        is dropped.
        """
        return self._drive(self._calling_each(command, arg_lists, trailer)) if arg_lists else []

    def _drive(self, steps: Steps[T]) -> T:
        """Run sans-IO ``steps`` of :class:`_CoreBase` with this twin's methods."""
        return drive(steps, self)

    def _loaded_library(self) -> Any:
        return self.driver.fcall_ro(VERSION_FUNCTION)

    def _stream(self, *args: Any) -> list[Any]:
        assert self._streamer is not None
        return self._streamer.stream(*args)

    def _invoke(self, mode: Mode, argv: Sequence[Arg]) -> Any:
        if mode == "function":
            return self.driver.fcall(FUNCTION, *argv)
        return self.driver.evalsha(self.code.sha, *argv)

    def _invoke_with_trailer(self, mode: Mode, argv: Sequence[Arg], trailer: Sequence[Arg]) -> Any:
        trailing = self._trailing
        if trailing is not None:
            if mode == "function":
                return trailing.fcall_with_trailer(FUNCTION, argv, trailer)
            return trailing.evalsha_with_trailer(self.code.sha, argv, trailer)
        result = self._pipelined([argv], trailer)[0]
        if isinstance(result, ReqlessError):
            raise result
        return result

    def _pipelined(
        self, argvs: Sequence[Sequence[Arg]], trailer: Sequence[Arg] | None = None
    ) -> list[Any]:
        """Replies to ``argvs``, in order; ``trailer``'s reply (if sent) is dropped."""
        pipe = self.driver.pipeline()
        self._queue_all(pipe, argvs, trailer)
        results = pipe.execute()
        return results if trailer is None else results[: len(argvs)]

    def _load(self, mode: Mode) -> None:
        if mode == "function":
            self.driver.function_load(self.code.function_library, replace=True)
        else:
            self.driver.script_load(self.code.eval_script)

    def _start(self) -> Mode:
        """Choose the mode on first use (see :meth:`_CoreBase._starting`)."""
        with self._lock:
            if self.mode is None:
                chosen = self._drive(self._starting())
                self.mode = chosen
                return chosen
            return self.mode


class AsyncCoreScript(_CoreBase):
    """:class:`CoreScript` for asyncio: the same methods as coroutines."""

    def __init__(
        self,
        driver: AsyncDriver,
        *,
        clock: Callable[[], float] | None = None,
        form: Form = "auto",
        code: CoreCode | None = None,
    ) -> None:
        super().__init__(clock, form, code)
        self.driver = driver
        # Created on first use, inside the event loop that uses it.
        self._lock: asyncio.Lock | None = None
        self._streamer: AsyncStreamingDriver | None = (
            driver if isinstance(driver, AsyncStreamingDriver) else None
        )
        self._trailing = driver if isinstance(driver, AsyncTrailingDriver) else None

    async def call(self, command: str, *args: Arg) -> Any:
        """Run one core command; its reply, or its typed :class:`reqless.ReqlessError`."""
        mode = self.mode or await self._start()
        argv = self._argv(command, format_now(self.clock()), args)
        try:
            return await self._invoke(mode, argv)
        except ScriptNotLoadedError:
            await self._load(mode)
            return await self._invoke(mode, argv)

    async def call_with_trailer(
        self, command: str, args: Sequence[Arg], trailer: Sequence[Arg]
    ) -> Any:
        """:meth:`call` with ``trailer`` right behind it (see CoreScript.call_with_trailer)."""
        mode = self.mode or await self._start()
        return await self._drive(self._calling_with_trailer(mode, command, args, trailer))

    async def call_many(
        self, calls: Sequence[Call], trailer: Sequence[Arg] | None = None
    ) -> list[Any]:
        """Run many commands in one round trip, all with the same ``now`` (see CoreScript)."""
        return await self._drive(self._calling_many(calls, trailer)) if calls else []

    async def call_each(
        self,
        command: str,
        arg_lists: Sequence[Sequence[Arg]],
        trailer: Sequence[Arg] | None = None,
    ) -> list[Any]:
        """Run ``command`` once per argument list, streamed (see :meth:`CoreScript.call_each`)."""
        if not arg_lists:
            return []
        return await self._drive(self._calling_each(command, arg_lists, trailer))

    async def _drive(self, steps: Steps[T]) -> T:
        """Run sans-IO ``steps`` of :class:`_CoreBase` with this twin's coroutines."""
        return await drive_async(steps, self)

    async def _loaded_library(self) -> Any:
        return await self.driver.fcall_ro(VERSION_FUNCTION)

    async def _stream(self, *args: Any) -> list[Any]:
        assert self._streamer is not None
        return await self._streamer.stream(*args)

    async def _invoke(self, mode: Mode, argv: Sequence[Arg]) -> Any:
        if mode == "function":
            return await self.driver.fcall(FUNCTION, *argv)
        return await self.driver.evalsha(self.code.sha, *argv)

    async def _invoke_with_trailer(
        self, mode: Mode, argv: Sequence[Arg], trailer: Sequence[Arg]
    ) -> Any:
        trailing = self._trailing
        if trailing is not None:
            if mode == "function":
                return await trailing.fcall_with_trailer(FUNCTION, argv, trailer)
            return await trailing.evalsha_with_trailer(self.code.sha, argv, trailer)
        result = (await self._pipelined([argv], trailer))[0]
        if isinstance(result, ReqlessError):
            raise result
        return result

    async def _pipelined(
        self, argvs: Sequence[Sequence[Arg]], trailer: Sequence[Arg] | None = None
    ) -> list[Any]:
        """Replies to ``argvs``, in order; ``trailer``'s reply (if sent) is dropped."""
        pipe = self.driver.pipeline()
        self._queue_all(pipe, argvs, trailer)
        results = await pipe.execute()
        return results if trailer is None else results[: len(argvs)]

    async def _load(self, mode: Mode) -> None:
        if mode == "function":
            await self.driver.function_load(self.code.function_library, replace=True)
        else:
            await self.driver.script_load(self.code.eval_script)

    async def _start(self) -> Mode:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.mode is None:
                chosen = await self._drive(self._starting())
                self.mode = chosen
                return chosen
            return self.mode


def _missing(results: Sequence[Any]) -> list[int]:
    """Where the core was missing: those commands did nothing, so they may run again."""
    return [i for i, result in enumerate(results) if isinstance(result, ScriptNotLoadedError)]
