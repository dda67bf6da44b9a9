"""Built-in plugin ``logging``: console and file handlers, and the job context on records.

The worker binds ``PluginManager.log_context(job)`` with ``bind_log_context``
while a job runs; ``JobContextFilter``, attached to both handlers here, copies
it onto each record, so a line logged from inside a job reads::

    2024-05-01 12:00:00,000 INFO    myapp.jobs: sent 3 mails [jid=4f... queue=mail ...]

With ``-v`` (DEBUG), each job's start and end are logged as well, the end with
how long the job's method ran and how the job ended::

    ... DEBUG   reqless_plugins.builtin.logs: started gnomes.GnomesJob from underpants
        [jid=4f... queue=underpants ...]
    ... DEBUG   reqless_plugins.builtin.logs: completed gnomes.GnomesJob from underpants
        in 0.012s [jid=4f... queue=underpants ...]

(``failed ...: <group>``, ``retried ...`` or ``lost the lock of ...`` for the other ends.)
The jid is in the message too when no job context is bound around the hook.

The duration is the method's run time (popped to ``reqless_after_perform``),
so it does not count a completion held back to be sent with its batch's.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from reqless_plugins._context import current_log_context
from reqless_plugins._markers import hookimpl

if TYPE_CHECKING:
    from reqless import Job

logger = logging.getLogger(__name__)

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s%(job_context)s"
FILTER_NAME = "reqless_job_context"
FORMATTER_NAME = "reqless"


# First, so the plugins after this one find the defaults and can edit them.
@hookimpl(tryfirst=True)
def reqless_configure_logging(config: dict[str, Any], verbose: bool, log_file: str | None) -> None:
    level = "DEBUG" if verbose else "INFO"
    # setdefault everywhere: what the CLI already put in the dictionary wins.
    config.setdefault("version", 1)
    # Loggers created at import time (the client's, the user's) must keep working.
    config.setdefault("disable_existing_loggers", False)
    config.setdefault("filters", {}).setdefault(
        FILTER_NAME, {"()": "reqless_plugins.JobContextFilter"}
    )
    config.setdefault("formatters", {}).setdefault(FORMATTER_NAME, {"format": FORMAT})
    handlers = config.setdefault("handlers", {})
    handlers.setdefault(
        "console",
        {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": FORMATTER_NAME,
            "filters": [FILTER_NAME],
        },
    )
    wanted = ["console"]
    if log_file is not None:
        handlers.setdefault(
            "file",
            {
                "class": "logging.FileHandler",
                "filename": log_file,
                "encoding": "utf-8",
                "formatter": FORMATTER_NAME,
                "filters": [FILTER_NAME],
            },
        )
        wanted.append("file")
    root = config.setdefault("root", {})
    root.setdefault("level", level)
    root_handlers = root.setdefault("handlers", [])
    root_handlers.extend(name for name in wanted if name not in root_handlers)


# Last, so a third-party plugin's value for the same key wins.
@hookimpl(trylast=True)
def reqless_log_context(job: Job) -> dict[str, object]:
    return {
        "jid": job.jid,
        "queue": job.queue_name,
        "klass": job.klass_name,
        "worker": job.worker_name,
    }


# ------------------------------------------------------------ job start and end
#
# Start times by jid, for the jobs this process runs (gevent and trio run
# several at once). Only filled while DEBUG is enabled; an entry is dropped
# at the job's end, and the whole table when it grows past ``_MAX_TRACKED``
# (a job whose end was never reported, e.g. its completion failed).
_started: dict[str, float] = {}
_ran_for: dict[str, float] = {}
_MAX_TRACKED = 10_000
_clock = time.monotonic


def _describe(job: Job) -> str:
    described = f"{job.klass_name} from {job.queue_name}"
    # The worker binds the job's context around its hooks, and the filter appends
    # it to the line: the jid (32 characters) is written out only when it is not.
    if current_log_context().get("jid") == job.jid:
        return described
    return f"{job.jid} {described}"


@hookimpl
def reqless_job_popped(job: Job) -> None:
    if not logger.isEnabledFor(logging.DEBUG):
        return
    if len(_started) >= _MAX_TRACKED:
        _started.clear()
        _ran_for.clear()
    _started[job.jid] = _clock()
    logger.debug("started %s", _describe(job))


@hookimpl
def reqless_after_perform(job: Job) -> None:
    started = _started.get(job.jid)
    if started is not None:
        _ran_for[job.jid] = _clock() - started


def _ended(job: Job, outcome: str, detail: str = "") -> None:
    started = _started.pop(job.jid, None)
    ran_for = _ran_for.pop(job.jid, None)
    if not logger.isEnabledFor(logging.DEBUG):
        return
    if ran_for is None and started is not None:
        ran_for = _clock() - started
    took = "" if ran_for is None else f" in {ran_for:.3f}s"
    logger.debug("%s %s%s%s", outcome, _describe(job), took, detail)


@hookimpl
def reqless_job_completed(job: Job) -> None:
    _ended(job, "completed")


@hookimpl
def reqless_job_failed(job: Job, group: str) -> None:
    _ended(job, "failed", f": {group}")


@hookimpl
def reqless_job_retried(job: Job) -> None:
    _ended(job, "retried")


@hookimpl
def reqless_job_lock_lost(job: Job) -> None:
    _ended(job, "lost the lock of")
