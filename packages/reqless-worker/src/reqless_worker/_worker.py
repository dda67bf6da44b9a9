"""A worker run from Python: :class:`Worker`, and the original client's class names.

``Worker(queues, client).run()`` serves the queues in the calling process (no
fork, one child session in the calling thread) until a signal stops it;
``run(burst=True)`` returns once every queue is empty, which is what a test of
a job module wants. With ``workers`` above 1 (or ``fork=True``) the calling
process supervises forked children, as ``reqless-worker`` does.

Signals are the command line's: TERM drains, INT and QUIT stop now and give the
running jobs back. They are handled in the calling process while ``run()``
runs (so it must be called from the main thread), and the caller's handlers
are put back when it returns.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import sys
import threading
import warnings
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reqless_worker._control import EXIT_RECYCLE, ChildControl, JobBudget, PutClaims
from reqless_worker._errors import WorkerError, WorkerSettingsError
from reqless_worker._settings import WorkerSettings
from reqless_worker.strategies import Strategy, load_strategy

if TYPE_CHECKING:
    import reqless

__all__ = ["ForkingWorker", "GeventWorker", "SerialWorker", "Worker"]

# What the child's signal handlers replace while a worker runs in the caller's process.
_HANDLED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGALRM,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGHUP,
)
# Given by Worker's own arguments, not through **options.
_OWN = frozenset({"queues", "url", "driver", "name", "strategy", "workers", "concurrency"})


class Worker:
    """Pops jobs from ``queues``, runs them and reports their outcome, from Python.

    ``queues`` is a queue name or several (globs and ``@identifier`` patterns as
    with ``-q``). The server is ``client``'s (its URL and driver; children pop as
    ``<client.worker_name>-<n>``), else ``url`` and ``driver``. ``strategy``,
    ``workers``, ``concurrency`` and ``interval`` mean what ``--strategy``,
    ``-w``, ``-c`` and ``-i`` do; ``options`` are the other
    :class:`WorkerSettings` fields (``workdir``, ``paths``, ``imports``,
    ``resume``, ``max_jobs``, ``plugins``, ...). As with the command line, the
    current directory is put on the import path (``cwd_path=False`` leaves it
    out); in the calling process, :meth:`run` restores ``sys.path`` when it returns.

    ``fork``: None (the default) runs in the calling process when ``workers`` is
    1, and forks when it is more (or when the gevent strategy is asked for in a
    process gevent has not monkey-patched: the child patches itself). Raises
    :class:`WorkerSettingsError` for a bad setting, naming it, and
    :class:`UnknownStrategyError` for an unknown strategy.
    """

    def __init__(
        self,
        queues: str | Iterable[str],
        client: reqless.Client | None = None,
        *,
        url: str | None = None,
        driver: str | None = None,
        name: str | None = None,
        strategy: str = "process",
        workers: int = 1,
        concurrency: int = 1,
        interval: float = 1.0,
        fork: bool | None = None,
        **options: Any,
    ) -> None:
        names = (queues,) if isinstance(queues, str) else tuple(queues)
        if not names or not all(isinstance(q, str) and q for q in names):
            raise WorkerSettingsError(f"queues must be queue names, not {queues!r}")
        known = {field.name for field in fields(WorkerSettings)} - _OWN
        unknown = sorted(set(options) - known)
        if unknown:
            raise WorkerSettingsError(
                f"unknown worker option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        if "workdir" in options:
            options["workdir"] = Path(options["workdir"]).absolute()
        for key in ("paths", "imports", "plugins", "disabled_plugins"):
            if isinstance(options.get(key), str):
                options[key] = (options[key],)
        if client is not None:
            url = url or client.settings.url
            driver = driver or client.settings.driver
            name = name or client.worker_name
        self.settings = WorkerSettings(
            queues=names,
            url=url,
            driver=driver,
            name=name or f"{socket.gethostname()}-{os.getpid()}",
            strategy=strategy,
            workers=workers,
            concurrency=concurrency,
            interval=interval,
            **options,
        )
        self.fork = fork
        self._strategy_class = load_strategy(strategy)

    def __repr__(self) -> str:
        s = self.settings
        return f"<{type(self).__name__} {s.name!r} {s.strategy} on {', '.join(s.queues)}>"

    def run(self, burst: bool = False) -> int:
        """Serve the queues until a signal stops the worker (or ``max_jobs`` is reached);
        with ``burst``, until every queue is empty and no job is running. Returns the
        exit code the command line would give (0: all went well)."""
        if threading.current_thread() is not threading.main_thread():
            raise WorkerError(
                "Worker.run() must be called from the main thread (it handles signals)"
            )
        settings = self.settings.with_changes(burst=burst)
        if settings.cwd_path:
            # As the command line does: job modules beside the caller are found, and
            # ``paths`` (inserted after it, in front) win.
            with contextlib.suppress(OSError):  # a deleted working directory
                settings = settings.with_changes(paths=(os.getcwd(), *settings.paths))
        strategy_class = self._strategy_class
        saved = {signum: signal.getsignal(signum) for signum in _HANDLED}
        try:
            if self._forks(settings):
                return self._supervise(settings, strategy_class)
            strategy_class.bootstrap()
            return self._run_here(settings, strategy_class)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for signum, handler in saved.items():
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    def _forks(self, settings: WorkerSettings) -> bool:
        if self.fork is not None:
            return self.fork
        return settings.workers > 1 or (settings.strategy == "gevent" and not _gevent_patched())

    def _supervise(self, settings: WorkerSettings, strategy_class: type[Strategy]) -> int:
        from reqless_worker._supervisor import Supervisor

        child_class = strategy_class
        if strategy_class.bootstrap.__func__ is not Strategy.bootstrap.__func__:  # type: ignore[attr-defined]
            child_class = _bootstrapped_in_child(strategy_class)
        return Supervisor(settings, child_class(settings)).run()

    def _run_here(self, settings: WorkerSettings, strategy_class: type[Strategy]) -> int:
        from reqless_worker.strategies.process import ProcessStrategy

        strategy = strategy_class(settings)
        if isinstance(strategy, ProcessStrategy):
            strategy.exit_on_lost_lock = False
        budget, claims = JobBudget(settings.max_jobs), PutClaims()
        path = list(sys.path)
        try:
            while True:
                control = ChildControl(
                    budget, settings.max_jobs_per_child, settings.drain_timeout, claims=claims
                )
                code = strategy.run_child(0, control)
                # Recycled after max_jobs_per_child: a fresh session, as the supervisor would.
                if code != EXIT_RECYCLE:
                    return code
        finally:
            # The session froze what existed at its start; the caller's objects are theirs again.
            gc.unfreeze()
            # The session put settings.paths in front; the caller's import path is theirs too.
            sys.path[:] = path


def _gevent_patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("socket"))


def _bootstrapped_in_child(strategy_class: type[Strategy]) -> type[Strategy]:
    """``strategy_class`` bootstrapping in each forked child: the caller's process was
    not prepared (gevent patches the standard library there)."""

    class Bootstrapped(strategy_class):  # type: ignore[valid-type,misc]
        def run_child(self, slot: int, stop: ChildControl) -> int:
            # Late by design (the caller imported ssl, threading, ...): gevent warns,
            # and a warnings filter set to "error" must not turn that into a crash loop.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                strategy_class.bootstrap()
            return int(super().run_child(slot, stop))

    Bootstrapped.__name__ = Bootstrapped.__qualname__ = strategy_class.__name__
    return Bootstrapped


class SerialWorker(Worker):
    """The original client's ``SerialWorker``: one job at a time, in the calling process
    (``Worker`` with the process strategy and one worker)."""

    def __init__(
        self,
        queues: str | Iterable[str],
        client: reqless.Client | None = None,
        *,
        interval: float = 1.0,
        **options: Any,
    ) -> None:
        options.setdefault("fork", False)
        options.update(strategy="process", workers=1, interval=interval)
        super().__init__(queues, client, **options)


class ForkingWorker(Worker):
    """The original client's ``ForkingWorker``: ``workers`` children (default: the CPU
    count, as ``--workers``), each running one job at a time, supervised by the caller;
    ``greenlets`` (``--greenlets``) makes each child a gevent one with that many."""

    def __init__(
        self,
        queues: str | Iterable[str],
        client: reqless.Client | None = None,
        *,
        workers: int | None = None,
        greenlets: int | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("fork", True)
        if greenlets is not None:
            options.setdefault("strategy", "gevent")
            options["concurrency"] = greenlets
        super().__init__(queues, client, workers=workers or os.cpu_count() or 1, **options)


class GeventWorker(Worker):
    """The original client's ``GeventWorker``: ``greenlets`` jobs at once (default 10),
    one greenlet each (``Worker`` with the gevent strategy)."""

    def __init__(
        self,
        queues: str | Iterable[str],
        client: reqless.Client | None = None,
        *,
        greenlets: int = 10,
        **options: Any,
    ) -> None:
        options.setdefault("workers", 1)
        super().__init__(queues, client, strategy="gevent", concurrency=greenlets, **options)
