"""reqless: a job queue whose state lives in Redis or Valkey.

Every state change is one atomic call of the reqless Lua core. This package is
the Python client; the built core it runs is served by :mod:`reqless._lua`.
The public API is exported here and only here (the asyncio twin in
:mod:`reqless.aio`, the driver seam in :mod:`reqless.drivers`).
"""

from reqless.__about__ import __version__
from reqless._client import Client
from reqless._config import Config
from reqless._errors import (
    AuthenticationError,
    DriverNotInstalledError,
    EmbeddedServerError,
    InvalidArgumentError,
    JobNotFoundError,
    LostLockError,
    PermissionDeniedError,
    ReplicationTimeoutError,
    ReqlessError,
    ScriptError,
    ScriptNotLoadedError,
    ServerUnavailableError,
    UnknownDriverError,
    UnknownEventError,
)
from reqless._events import Events, EventThread
from reqless._job import Job, RecurringJob
from reqless._jobs import Jobs
from reqless._patterns import QueuePatterns
from reqless._processor import AbstractJobData, AbstractJobProcessor, retry
from reqless._protocol import (
    Event,
    Failure,
    JidPage,
    JobPage,
    JobSpec,
    PriorityPattern,
    QueueCounts,
    QueueStats,
    ThrottleInfo,
    TimingStats,
    TrackedJobs,
    WorkerCounts,
    WorkerJobs,
)
from reqless._queue import Queue, QueueJobs, Queues
from reqless._script import AsyncCoreScript, CoreScript
from reqless._settings import ClientSettings
from reqless._tags import Tags
from reqless._throttles import Throttle, Throttles
from reqless._waiter import PopWaiter
from reqless._workers import Workers

__all__ = [
    "AbstractJobData",
    "AbstractJobProcessor",
    "AsyncCoreScript",
    "AuthenticationError",
    "Client",
    "ClientSettings",
    "Config",
    "CoreScript",
    "DriverNotInstalledError",
    "EmbeddedServerError",
    "Event",
    "EventThread",
    "Events",
    "Failure",
    "InvalidArgumentError",
    "JidPage",
    "Job",
    "JobNotFoundError",
    "JobPage",
    "JobSpec",
    "Jobs",
    "LostLockError",
    "PermissionDeniedError",
    "PopWaiter",
    "PriorityPattern",
    "Queue",
    "QueueCounts",
    "QueueJobs",
    "QueuePatterns",
    "QueueStats",
    "Queues",
    "RecurringJob",
    "ReplicationTimeoutError",
    "ReqlessError",
    "ScriptError",
    "ScriptNotLoadedError",
    "ServerUnavailableError",
    "Tags",
    "Throttle",
    "ThrottleInfo",
    "Throttles",
    "TimingStats",
    "TrackedJobs",
    "UnknownDriverError",
    "UnknownEventError",
    "WorkerCounts",
    "WorkerJobs",
    "Workers",
    "__version__",
    "retry",
]
