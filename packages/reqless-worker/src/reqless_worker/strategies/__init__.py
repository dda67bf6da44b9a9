"""How a child process runs jobs: the :class:`Strategy` seam.

A strategy is a class registered under the entry-point group
``reqless.strategies``; ``reqless-worker --strategy NAME`` loads that one class
and nothing else. This module imports only the standard library, so the CLI
can find a strategy and let it :meth:`Strategy.bootstrap` (gevent
monkey-patches there) before the client, the drivers or user code load.

The supervisor forks ``--workers`` children; each calls
:meth:`Strategy.run_child` and exits with its result. The building blocks every
strategy shares live in :mod:`reqless_worker._child` (connecting, choosing
queues, popping with reconnection, resuming), :mod:`reqless_worker._runner`
(one job from hooks to outcome), :mod:`reqless_worker._leases` (heartbeats) and
:mod:`reqless_worker._put_listener` (put events).
"""

from __future__ import annotations

import abc
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from reqless_worker._control import ChildControl
    from reqless_worker._settings import WorkerSettings

__all__ = ["ENTRY_POINT_GROUP", "Strategy", "available_strategies", "load_strategy"]

ENTRY_POINT_GROUP = "reqless.strategies"

# Shipped strategies, used when the package's entry points are not registered
# (running from a source tree without an install).
_BUILTIN = {
    "process": "reqless_worker.strategies.process:ProcessStrategy",
    "gevent": "reqless_worker.strategies.gevent:GeventStrategy",
    "trio": "reqless_worker.strategies.trio:TrioStrategy",
    "asyncio": "reqless_worker.strategies.asyncio:AsyncioStrategy",
}


class Strategy(abc.ABC):
    """How one child process runs jobs. Found by name through the entry-point group
    ``reqless.strategies``."""

    #: The name it is registered under (shown in logs and ``WorkerInfo.strategy``).
    name: ClassVar[str]

    @classmethod
    def bootstrap(cls) -> None:
        """Runs in the CLI before the client, the drivers or user code are imported
        (gevent monkey-patches here). Default: nothing."""
        return None

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings

    @abc.abstractmethod
    def run_child(self, slot: int, stop: ChildControl) -> int:
        """Run in a forked child until ``stop`` says so or ``--max-jobs`` is reached;
        return the exit code (``stop.exit_code()`` when nothing went wrong)."""


def _entry_points() -> dict[str, EntryPoint]:
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    for name, value in _BUILTIN.items():
        found.setdefault(name, EntryPoint(name, value, ENTRY_POINT_GROUP))
    return found


def available_strategies() -> dict[str, str]:
    """Registered strategy names and the object each entry point names."""
    return {name: ep.value for name, ep in sorted(_entry_points().items())}


def load_strategy(name: str) -> type[Strategy]:
    """The strategy class registered as ``name``; only its module is imported.

    Raises :class:`reqless_worker.UnknownStrategyError` listing the valid
    names, and ``TypeError`` if the entry point names something else.
    """
    found = _entry_points().get(name)
    if found is None:
        from reqless_worker._errors import UnknownStrategyError

        raise UnknownStrategyError(name, list(_entry_points()))
    loaded = found.load()
    if not (isinstance(loaded, type) and issubclass(loaded, Strategy)):
        raise TypeError(f"strategy {name!r} ({found.value}) is not a Strategy subclass")
    return loaded
