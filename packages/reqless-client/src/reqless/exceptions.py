"""reqless-py's ``reqless.exceptions`` module: every error, rooted at :class:`ReqlessError`."""

from reqless._errors import (
    AuthenticationError,
    DriverNotInstalledError,
    EmbeddedServerError,
    InvalidArgumentError,
    JobNotFoundError,
    LostLockError,
    PermissionDeniedError,
    ReqlessError,
    ScriptError,
    ScriptNotLoadedError,
    ServerUnavailableError,
    UnknownDriverError,
    UnknownEventError,
)

__all__ = [
    "AuthenticationError",
    "DriverNotInstalledError",
    "EmbeddedServerError",
    "InvalidArgumentError",
    "JobNotFoundError",
    "LostLockError",
    "PermissionDeniedError",
    "ReqlessError",
    "ScriptError",
    "ScriptNotLoadedError",
    "ServerUnavailableError",
    "UnknownDriverError",
    "UnknownEventError",
]
