"""Built-in plugin ``logging``: console and file handlers, and the job context on records.

The worker binds ``PluginManager.log_context(job)`` with ``bind_log_context``
while a job runs; ``JobContextFilter``, attached to both handlers here, copies
it onto each record, so a line logged from inside a job reads::

    2024-05-01 12:00:00,000 INFO    myapp.jobs: sent 3 mails [jid=4f... queue=mail ...]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reqless_plugins._markers import hookimpl

if TYPE_CHECKING:
    from reqless import Job

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
