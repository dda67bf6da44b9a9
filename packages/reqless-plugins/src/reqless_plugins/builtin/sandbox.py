"""Built-in plugin ``sandbox``: one scratch directory per slot, made empty for a job that
reads ``job.sandbox`` and removed after it.

Layout: ``<workdir>/reqless-py-workers/sandbox-<slot>``, where ``slot`` is the
child's index. For ``gevent`` and ``trio`` the worker appends
``greenlet-<m>`` itself, and hands that nested path to prepare and clean,
which work on whatever path they are given. Prepare and clean accept only
``path`` (pluggy passes an implementation the subset of arguments it names).

Every hook here is ``trylast``: a third-party plugin that answers first
replaces the behaviour for that hook only.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from reqless_plugins._markers import hookimpl
from reqless_plugins._worker import WorkerInfo

#: The directory under ``--workdir`` holding every slot's sandbox.
SANDBOX_ROOT = "reqless-py-workers"


@hookimpl(trylast=True)
def reqless_sandbox_path(worker: WorkerInfo) -> Path:
    return worker.workdir / SANDBOX_ROOT / f"sandbox-{worker.slot}"


@hookimpl(trylast=True)
def reqless_sandbox_prepare(path: Path) -> bool:
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        # A leftover means the previous job's clean never ran (the child was
        # killed); its files must not leak into the next job.
        remove_tree(path)
        path.mkdir(parents=True)
    return True


@hookimpl(trylast=True)
def reqless_sandbox_clean(path: Path) -> bool:
    remove_tree(path)
    return True


def remove_tree(path: Path) -> None:
    """Remove ``path`` whatever it is; a missing path is fine.

    A symbolic link is removed, never followed: a job that replaced its
    sandbox with a link to elsewhere must not get elsewhere deleted.
    """
    # Most jobs leave their sandbox empty: one rmdir, no tree walk (which
    # costs more than the rest of a no-op job).
    try:
        path.rmdir()
        return
    except FileNotFoundError:
        return
    except OSError:
        pass  # not empty, a file, or a link: the careful path below
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
        return
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)
