"""What a plugin is told about the worker slot calling it."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One job slot of a running worker, as hooks see it.

    A slot runs one job at a time: a child process for the ``process``
    strategy, one greenlet or trio task inside a child for ``gevent`` and
    ``trio``. The worker builds this once per slot and passes the same object
    to every hook called for that slot.
    """

    #: The worker name jobs are popped under (the core's ``worker`` argument).
    name: str
    #: The strategy's entry-point name: ``process``, ``gevent``, ``trio``, ...
    strategy: str
    #: The ``--workdir``; the worker passes it absolute, so a job that changes
    #: directory does not move its sandbox.
    workdir: Path
    #: The process id of the child running the slot.
    pid: int
    #: The child's index (0-based). The built-in sandbox plugin names the
    #: sandbox after it; for ``gevent`` and ``trio`` the worker nests
    #: ``greenlet-<m>`` under the path the hook returned (see
    #: ``reqless_sandbox_path``).
    slot: int
