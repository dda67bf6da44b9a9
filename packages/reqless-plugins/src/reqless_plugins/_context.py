"""The structured job context attached to log records while a job runs.

The context lives in a ``ContextVar`` rather than in a logger adapter so that
every log call made while a job runs carries it, including calls in the job's
own code and in libraries that know nothing about reqless. A context variable
follows the unit of concurrency for free: each greenlet (greenlet >= 0.4.17),
each trio task and each ``trio.to_thread.run_sync`` call sees its own value.
"""

import logging
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from contextvars import ContextVar
from types import MappingProxyType

#: Fields the built-in ``logging`` plugin contributes, always present on records
#: that went through ``JobContextFilter`` (``-`` outside a job), so a format
#: string may name them.
CONTEXT_FIELDS: tuple[str, ...] = ("jid", "queue", "klass", "worker")

_EMPTY: Mapping[str, object] = MappingProxyType({})
_CONTEXT: ContextVar[Mapping[str, object]] = ContextVar("reqless_log_context", default=_EMPTY)

# Context keys that would overwrite what logging itself puts on a record
# (``name``, ``msg``, ``args``, ...) are kept out of the record's attributes;
# they still appear in ``record.reqless_context`` and ``record.job_context``.
_RESERVED = frozenset(
    {
        *logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__,
        "message",
        "asctime",
    }
)


def current_log_context() -> Mapping[str, object]:
    """The context bound in the running thread, greenlet or task (read-only)."""
    return _CONTEXT.get()


def bind_log_context(context: Mapping[str, object]) -> AbstractContextManager[Mapping[str, object]]:
    """Attach ``context`` to every record logged inside the ``with`` block.

    Nested blocks add to the outer context (inner values win) and the outer
    context is restored on exit, also when the block raises. The block yields
    the merged context.
    """
    return _Binding(context)


class _Binding(AbstractContextManager[Mapping[str, object]]):
    # A class rather than @contextmanager: this runs around every job.
    __slots__ = ("_context", "_token")

    def __init__(self, context: Mapping[str, object]) -> None:
        self._context = context

    def __enter__(self) -> Mapping[str, object]:
        outer = _CONTEXT.get()
        merged = MappingProxyType({**outer, **self._context}) if outer else self._frozen()
        self._token = _CONTEXT.set(merged)
        return merged

    def __exit__(self, *exc_info: object) -> None:
        _CONTEXT.reset(self._token)

    def _frozen(self) -> Mapping[str, object]:
        return MappingProxyType(dict(self._context))


class JobContextFilter(logging.Filter):
    """Copy the bound job context onto each record; never drops a record.

    Attach it to handlers rather than loggers: a logger's filters do not see
    records propagated from its children. It sets:

    * one attribute per context key (``record.jid``, ``record.queue``, ...),
      unless the record already has it (``extra=`` wins, and logging's own
      attributes are never replaced);
    * ``fields`` (``jid``, ``queue``, ``klass``, ``worker`` by default) set to
      ``placeholder`` when no job is bound, so a format string may use them;
    * ``record.reqless_context``: the whole context as a ``dict``;
    * ``record.job_context``: `` [jid=... queue=...]``, or ``""`` outside a job,
      ready to append to a human-readable format.
    """

    def __init__(
        self,
        name: str = "",
        fields: Sequence[str] = CONTEXT_FIELDS,
        placeholder: str = "-",
    ) -> None:
        super().__init__(name)
        self.fields = tuple(fields)
        self.placeholder = placeholder

    def filter(self, record: logging.LogRecord) -> bool:
        context = _CONTEXT.get()
        for key, value in context.items():
            if key not in _RESERVED and not hasattr(record, key):
                setattr(record, key, value)
        for key in self.fields:
            if not hasattr(record, key):
                setattr(record, key, self.placeholder)
        record.reqless_context = dict(context)
        if context:
            pairs = " ".join(f"{key}={value}" for key, value in context.items())
            record.job_context = f" [{pairs}]"
        else:
            record.job_context = ""
        return True
