"""reqless-py's ``reqless.abstract`` module: abstract bases of the client's classes.

Each is an :class:`abc.ABC` that the sync and asyncio classes are registered
with, so ``isinstance(job, AbstractJob)`` holds for a :class:`reqless.Job`
and a ``reqless.aio.Job``; type hints written against these keep working.
The job-processor bases (:class:`AbstractJobProcessor`,
:class:`AbstractJobData`) are real bases to derive job classes from.
"""

from __future__ import annotations

from abc import ABC

from reqless import _client, _config, _job, _jobs, _patterns, _queue, _throttles, _workers
from reqless._processor import AbstractJobData, AbstractJobProcessor
from reqless.aio import _client as _aio_client
from reqless.aio import _job as _aio_job
from reqless.aio import _queue as _aio_queue

__all__ = [
    "AbstractBaseJob",
    "AbstractClient",
    "AbstractConfig",
    "AbstractJob",
    "AbstractJobData",
    "AbstractJobProcessor",
    "AbstractJobs",
    "AbstractQueue",
    "AbstractQueueJobs",
    "AbstractQueuePatterns",
    "AbstractQueues",
    "AbstractRecurringJob",
    "AbstractThrottle",
    "AbstractThrottles",
    "AbstractWorkers",
]


class AbstractBaseJob(ABC):  # noqa: B024 - a registration point, not an interface
    """A job or a recurring job."""


class AbstractJob(AbstractBaseJob):
    """A job (:class:`reqless.Job`, ``reqless.aio.Job``)."""


class AbstractRecurringJob(AbstractBaseJob):
    """A recurring-job template (:class:`reqless.RecurringJob`, ``reqless.aio.RecurringJob``)."""


class AbstractClient(ABC):  # noqa: B024 - a registration point, not an interface
    """A client (:class:`reqless.Client`, ``reqless.aio.Client``)."""


class AbstractConfig(ABC):  # noqa: B024 - a registration point, not an interface
    """``client.config``."""


class AbstractJobs(ABC):  # noqa: B024 - a registration point, not an interface
    """``client.jobs``."""


class AbstractQueue(ABC):  # noqa: B024 - a registration point, not an interface
    """One queue (:class:`reqless.Queue`, ``reqless.aio.Queue``)."""


class AbstractQueueJobs(ABC):  # noqa: B024 - a registration point, not an interface
    """``queue.jobs``."""


class AbstractQueuePatterns(ABC):  # noqa: B024 - a registration point, not an interface
    """``client.queue_patterns``."""


class AbstractQueues(ABC):  # noqa: B024 - a registration point, not an interface
    """``client.queues``."""


class AbstractThrottle(ABC):  # noqa: B024 - a registration point, not an interface
    """One throttle."""


class AbstractThrottles(ABC):  # noqa: B024 - a registration point, not an interface
    """``client.throttles``."""


class AbstractWorkers(ABC):  # noqa: B024 - a registration point, not an interface
    """``client.workers``."""


for _abstract, _concrete in (
    (AbstractJob, (_job.Job, _aio_job.Job)),
    (AbstractRecurringJob, (_job.RecurringJob, _aio_job.RecurringJob)),
    (AbstractClient, (_client.Client, _aio_client.Client)),
    (AbstractConfig, (_config.Config, _aio_client.Config)),
    (AbstractJobs, (_jobs.Jobs, _aio_client.Jobs)),
    (AbstractQueue, (_queue.Queue, _aio_queue.Queue)),
    (AbstractQueueJobs, (_queue.QueueJobs, _aio_queue.QueueJobs)),
    (AbstractQueuePatterns, (_patterns.QueuePatterns, _aio_client.QueuePatterns)),
    (AbstractQueues, (_queue.Queues, _aio_queue.Queues)),
    (AbstractThrottle, (_throttles.Throttle, _aio_client.Throttle)),
    (AbstractThrottles, (_throttles.Throttles, _aio_client.Throttles)),
    (AbstractWorkers, (_workers.Workers, _aio_client.Workers)),
):
    for _cls in _concrete:
        _abstract.register(_cls)
