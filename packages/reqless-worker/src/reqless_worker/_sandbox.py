"""A slot's sandbox directory, made only when a job asks for it: :class:`SlotSandbox`.

Most jobs never look at ``job.sandbox``; making and removing a directory for
each of them cost more than the rest of a no-op job. So the runner hands each
job an opener instead of a path: the first read of ``job.sandbox`` (by the
job's code or by a plugin) asks the plugins for the slot's path (once per
slot), has ``reqless_sandbox_prepare`` make it exist and be empty, and
returns it. After the job, ``reqless_sandbox_clean`` runs only if the sandbox
was opened. What a job sees is unchanged: the directory exists and is empty
when it first looks, and is gone after the job.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from reqless_plugins import PluginManager, WorkerInfo
from reqless_worker._errors import SandboxError

if TYPE_CHECKING:
    from reqless import Job

__all__ = ["SlotSandbox"]

logger = logging.getLogger(__name__)


class SlotSandbox:
    """The sandbox of one slot (a child, a greenlet or a trio task).

    ``subdir`` (``greenlet-<m>``) is appended to the path the plugins choose.
    """

    def __init__(self, plugins: PluginManager, info: WorkerInfo, subdir: str | None) -> None:
        self.plugins = plugins
        self.info = info
        self.subdir = subdir
        self._path: Path | None = None
        self._path_known = False

    def path(self) -> Path | None:
        """Where this slot's sandbox lives (``None``: no sandbox); asked once per slot."""
        if not self._path_known:
            path = self.plugins.decide("reqless_sandbox_path", worker=self.info)
            if path is not None and self.subdir:
                path = Path(path) / self.subdir
            self._path = None if path is None else Path(path)
            self._path_known = True
        return self._path

    def open(self, job: Job) -> Path | None:
        """Prepare the sandbox for ``job``; raises :class:`SandboxError` when that fails,
        so the job fails with ``<queue>-SandboxError`` rather than run in a directory in
        an unknown state."""
        try:
            path = self.path()
            if path is not None:
                self.plugins.decide("reqless_sandbox_prepare", worker=self.info, path=path, job=job)
        except Exception as exc:
            raise SandboxError(f"the sandbox could not be prepared: {exc!r}") from exc
        return path

    def close(self, job: Job, path: Path) -> None:
        """Dispose of the sandbox ``job`` opened; a failure is logged, never raised."""
        try:
            self.plugins.decide("reqless_sandbox_clean", worker=self.info, path=path, job=job)
        except Exception:
            logger.exception("cleaning the sandbox %s failed", path)
