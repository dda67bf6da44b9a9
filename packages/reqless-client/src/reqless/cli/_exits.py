"""What ``reqless`` exits with, and which errors lead to which code.

Scripts branch on these, so they are part of the command's interface: a
change here must change the README's table and ``reqless --help`` alike.
"""

from __future__ import annotations

import reqless

__all__ = [
    "INTERRUPTED",
    "OK",
    "REFUSED",
    "UNAVAILABLE",
    "USAGE",
    "CommandError",
    "code_for",
]

#: Done.
OK = 0
#: Not found (job, failure group, queue, config option) or refused by the server.
REFUSED = 1
#: Bad command line, bad value or bad settings (URL, driver): nothing was changed.
USAGE = 2
#: The server (or the embedded one) cannot be reached, started or logged into.
UNAVAILABLE = 3
#: Stopped by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130

SUMMARY = (
    "exit codes: 0 done; 1 not found or refused by the server; 2 bad usage, value or "
    "settings; 3 server unavailable; 130 interrupted"
)


class CommandError(reqless.ReqlessError):
    """What the command could not do: a name that matches nothing, or an action refused."""


def code_for(error: reqless.ReqlessError) -> int:
    """The exit code an error ends the command with."""
    if isinstance(
        error,
        reqless.InvalidArgumentError | reqless.DriverNotInstalledError | reqless.UnknownDriverError,
    ):
        return USAGE
    if isinstance(error, reqless.ServerUnavailableError | reqless.EmbeddedServerError):
        return UNAVAILABLE
    return REFUSED
