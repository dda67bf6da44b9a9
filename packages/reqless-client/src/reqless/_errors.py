"""Every error reqless raises, under one root: :class:`ReqlessError`.

The core reports failures as script errors whose text a server wraps in its
own prefix and suffix (``user_script:712: ... script: <sha>, on @user_script:712.``).
:func:`translate_server_error` strips that wrapping once and picks the typed
error from the core's words, so callers catch ``LostLockError`` rather than
matching strings. The drivers call it at their one border with the library.
"""

from __future__ import annotations

import re
from typing import Any

# The error tree only: reqless.exceptions re-exports exactly these names.
__all__ = [
    "AuthenticationError",
    "DriverNotInstalledError",
    "EmbeddedServerError",
    "InvalidArgumentError",
    "JobNotFoundError",
    "LostLockError",
    "PermissionDeniedError",
    "ReplicationTimeoutError",
    "ReqlessError",
    "ScriptError",
    "ScriptNotLoadedError",
    "ServerUnavailableError",
    "UnknownDriverError",
    "UnknownEventError",
]


class ReqlessError(Exception):
    """Root of every error raised by reqless.

    ``message`` is the text as the server (or reqless) gave it; ``detail`` is
    the core's own message without the server's wrapping, the part worth
    showing to a person.
    """

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = message if detail is None else detail

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only ``detail`` would be lost by the default pickling, and
        # errors do cross process boundaries (workers report them).
        return (_rebuild, (type(self), self.message, self.detail))


def _rebuild(cls: type[ReqlessError], message: str, detail: str) -> ReqlessError:
    return cls(message, detail=detail)


class InvalidArgumentError(ReqlessError, ValueError):
    """Malformed input: a missing, non-numeric or non-JSON argument, an unknown command."""


class UnknownEventError(InvalidArgumentError, NotImplementedError):
    """An event name no channel carries; a NotImplementedError too, as reqless-py raised."""


class JobNotFoundError(ReqlessError, LookupError):
    """The job (or recurring job) named does not exist."""


class LostLockError(ReqlessError):
    """The job is no longer this worker's to finish: another worker, queue or state holds it."""


class ScriptError(ReqlessError):
    """Any other error the core raised."""


class ScriptNotLoadedError(ScriptError):
    """The server does not hold the core (NOSCRIPT, or the function library is missing).

    :class:`reqless.CoreScript` recovers from this by loading the core and
    retrying once; callers only see it when that retry fails too.
    """


class PermissionDeniedError(ReqlessError):
    """The server's ACL does not let this user run the command (NOPERM)."""


class ServerUnavailableError(ReqlessError):
    """The server cannot be reached, refused the connection or timed out, or
    answered that it cannot serve requests for now (LOADING after a restart;
    READONLY or MASTERDOWN from a replica during a failover; UNBLOCKED ending a
    wait on a master as it became a replica). The call may be
    made again later; if the connection dropped after it was sent, it may have
    run already."""


class ReplicationTimeoutError(ReqlessError):
    """Fewer replicas than asked (``?wait_replicas=N``) acknowledged a state change in time.

    The change *was made* on the master, but a failover before the replicas
    catch up may lose it. ``acknowledged`` is how many replicas did,
    ``wanted`` how many were asked for, and ``replies`` the replies of the
    calls it covers, in order (errors in place), for a caller that goes on
    with what the master did (the jobs a pop handed out, say); from
    :meth:`reqless.Client.execute`, they are what ``execute(...,
    return_errors=True)`` would have returned.

    Not a :class:`ServerUnavailableError`: that one means "try the call again
    later", and a state change made again would be refused (a job completed
    twice) or done twice (a job put twice). Nor a :class:`ScriptError`: the
    core did not refuse anything.
    """

    def __init__(
        self,
        message: str,
        *,
        acknowledged: int = 0,
        wanted: int = 0,
        replies: list[Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.acknowledged = acknowledged
        self.wanted = wanted
        self.replies: list[Any] = [] if replies is None else replies

    def __reduce__(self) -> tuple[object, ...]:
        # The replies stay behind: they may hold job objects bound to a client.
        return (_rebuild_replication, (self.message, self.acknowledged, self.wanted))


def _rebuild_replication(message: str, acknowledged: int, wanted: int) -> ReplicationTimeoutError:
    return ReplicationTimeoutError(message, acknowledged=acknowledged, wanted=wanted)


class AuthenticationError(ServerUnavailableError):
    """The server rejected the username or password."""


class DriverNotInstalledError(ReqlessError, ImportError):
    """The chosen driver's library is not installed; the message names the extra to install."""


class UnknownDriverError(ReqlessError, LookupError):
    """No driver is registered under the requested name; ``valid`` lists those that are."""

    def __init__(self, name: str, valid: list[str]) -> None:
        self.name = name
        self.valid = sorted(valid)
        super().__init__(
            f"unknown reqless driver {name!r}; valid drivers: {', '.join(self.valid) or 'none'}"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (UnknownDriverError, (self.name, self.valid))


class EmbeddedServerError(ReqlessError):
    """The embedded Valkey server could not be started, reached or stopped."""


# Redis 7 / Valkey wrap a script error as
#   [ERR ]user_script:712: <message> script: <sha or name>, on @user_script:712.
# (Valkey leaves the name out: "script: on @user_function:715."). Only the
# middle is the core's; DOTALL because user data can put newlines in it.
_WRAPPED = re.compile(
    r"^(?:ERR )?user_(?:script|function):\d+: (?P<detail>.*?)"
    r"(?: script: [^\n]*?on @user_(?:script|function):\d+\.)?$",
    re.DOTALL,
)

# Checked in order; the first match wins. Patterns are anchored at the start
# of the core's message and name the commands that raise them: jids, worker
# names and job data appear in messages too, and must not decide the type.
# Words from protocol section 3 and appendix A.
_CLASSIFIERS: tuple[tuple[type[ReqlessError], re.Pattern[str]], ...] = (
    (
        LostLockError,
        re.compile(
            r"^(?:Complete|Fail|Heartbeat|Retry)\(\): Job (?:has been handed out to another worker"
            r"|running with another worker|given out to another worker"
            r"|has been given to another worker|running in another queue"
            r"|is not currently running|not currently running): "
        ),
    ),
    (
        JobNotFoundError,
        re.compile(
            r"^\w+\(\): Job does not exist$|^(?:Requeue|Log|Tag|Untag)\(\): Job .* does not exist$"
            r"|^Recur\(\): No recurring job ",
            re.DOTALL,
        ),
    ),
    (
        InvalidArgumentError,
        re.compile(
            r"^[\w.]+\(\): (?:Arg |Argument |no (?:jid|tid|queue name) provided|Unknown type "
            r"|Unrecognized option |Odd number |\"\w+\" cannot be used without)"
            r"|^(?:Unknown command |Must provide a command|No Keys should be provided"
            r"|No value provided for |Odd number of |Identifier patterns must be "
            r"|Priority pattern has no |Arg \"now\" |assertion failed!"
            r"|bad argument #\d+ |Expected .* at character \d+|Cannot serialise )",
            re.DOTALL,
        ),
    ),
)

_NOT_LOADED = re.compile(r"^(?:NOSCRIPT |ERR )?(?:No matching script|Function not found)")
# The server is there but cannot serve us for now: still loading its data after a
# restart, a replica (read only, or cut from its master) during a failover, a
# cluster slot moving. Retrying later succeeds without any change on our side,
# so these are outages, not the call's failure. Searched anywhere: a write the
# core makes on a replica comes back wrapped in the script's error.
# UNBLOCKED with "instance state changed" ends a blocking command that was waiting
# on a master when it became a replica (a failover's demotion).
_UNAVAILABLE = re.compile(
    r"^-?(?:LOADING|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b"
    r"|^-?UNBLOCKED\b.*instance state changed"
    r"|You can't write against a read only (?:replica|slave)"
    r"|\b(?:LOADING|MASTERDOWN) (?:Redis|Valkey|Link|Server) "
)
_NO_PERMISSION = re.compile(r"^NOPERM |no permissions to (?:run|access)")


def core_detail(message: str) -> str:
    """The core's message inside a server's error text (the text itself if unwrapped)."""
    match = _WRAPPED.match(message)
    return match.group("detail") if match else message


def translate_server_error(message: str) -> ReqlessError:
    """The typed error for an error reply of the server, keeping its text as ``message``."""
    if _NOT_LOADED.match(message):
        return ScriptNotLoadedError(message)
    if _UNAVAILABLE.search(message):
        return ServerUnavailableError(f"the server cannot serve requests now: {message}")
    if _NO_PERMISSION.search(message):
        return PermissionDeniedError(message)
    detail = core_detail(message)
    for error_class, pattern in _CLASSIFIERS:
        if pattern.search(detail):
            return error_class(message, detail=detail)
    return ScriptError(message, detail=detail)
