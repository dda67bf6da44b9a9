"""Finding a job's class, and reimporting its module when the source changed (``--reload``).

A class that cannot be imported fails its job with the traceback; it is
logged here too, so whoever watches the worker sees it without opening the
failure (a missing module is usually a wrong ``-p``/working directory).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
from types import ModuleType

__all__ = ["ClassLoader"]

logger = logging.getLogger(__name__)


class ClassLoader:
    """Imports ``package.module.Class`` paths; with ``reload``, a module whose file
    changed since it was (re)imported is reimported before the class is returned."""

    def __init__(self, *, reload: bool = False) -> None:
        self.reload = reload
        self._stamps: dict[str, tuple[float, int]] = {}
        self._imported: dict[str, ModuleType] = {}
        self._lock = threading.Lock()

    def load(self, path: str) -> type:
        try:
            return self._load(path)
        except Exception as exc:
            logger.error(
                "cannot import the job class %s: %s: %s%s",
                path,
                type(exc).__name__,
                exc,
                _hint(exc, path),
                # The traceback only helps when the module's own code raised.
                exc_info=not isinstance(exc, ImportError),
            )
            raise

    def _load(self, path: str) -> type:
        module_name, _, name = path.rpartition(".")
        if not module_name or not name:
            raise ImportError(f"{path!r} is not a dotted path to a class (package.module.Class)")
        module = self._module(module_name)
        found = getattr(module, name, None)
        if found is None:
            raise ImportError(f"module {module_name!r} has no attribute {name!r}")
        if not isinstance(found, type):
            raise ImportError(f"{path!r} is a {type(found).__name__}, not a class")
        return found

    def _module(self, name: str) -> ModuleType:
        if not self.reload:
            # Looked up without the lock once imported: sys.modules holds a module
            # while another slot is still importing it, this dict only after.
            module = self._imported.get(name)
            if module is not None:
                return module
        with self._lock:
            module = sys.modules.get(name)
            if module is None:
                module = importlib.import_module(name)
                self._stamps[name] = _stamp(module)
            elif self.reload:
                stamp = _stamp(module)
                known = self._stamps.setdefault(name, stamp)
                if stamp != known:
                    importlib.invalidate_caches()
                    module = importlib.reload(module)
                    self._stamps[name] = _stamp(module)
            self._imported[name] = module
            return module


def _hint(exc: Exception, path: str) -> str:
    """What to do, when the error is the usual one: the module is not on ``sys.path``."""
    if isinstance(exc, ModuleNotFoundError) and exc.name and f"{path}.".startswith(f"{exc.name}."):
        return (
            f" (start the worker in the directory holding {exc.name.partition('.')[0]!r},"
            " or give that directory with -p)"
        )
    return ""


def _stamp(module: ModuleType) -> tuple[float, int]:
    """The source file's modification time and size (zeros when there is no file)."""
    path = getattr(module, "__file__", None)
    if not path:
        return (0.0, 0)
    try:
        info = os.stat(path)
    except OSError:
        return (0.0, 0)
    return (info.st_mtime, info.st_size)
