"""reqless for asyncio: ``reqless.aio.Client`` and its twins, the sync API as coroutines."""

from reqless.aio._client import (
    Client,
    Config,
    Jobs,
    QueuePatterns,
    Tags,
    Throttle,
    Throttles,
    Workers,
)
from reqless.aio._events import Events
from reqless.aio._job import Job, RecurringJob
from reqless.aio._queue import Queue, QueueJobs, Queues
from reqless.aio._waiter import PopWaiter

__all__ = [
    "Client",
    "Config",
    "Events",
    "Job",
    "Jobs",
    "PopWaiter",
    "Queue",
    "QueueJobs",
    "QueuePatterns",
    "Queues",
    "RecurringJob",
    "Tags",
    "Throttle",
    "Throttles",
    "Workers",
]
