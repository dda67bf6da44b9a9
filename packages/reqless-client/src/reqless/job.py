"""reqless-py's ``reqless.job`` module: the job classes under their old import path."""

from reqless._job import Job, RecurringJob

__all__ = ["Job", "RecurringJob"]
