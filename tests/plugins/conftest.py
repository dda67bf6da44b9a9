"""Fixtures for the plugin manager's unit tests.

These test our own hook-calling logic, so a job is a small fake carrying the
attributes hooks read (``test_real_job.py`` checks those against a real
``reqless.Job`` popped from a real server). ``install_plugin`` publishes a
module through a real ``*.dist-info`` directory on ``sys.path``, which is how
``importlib.metadata`` finds an installed distribution's entry points.
"""

from __future__ import annotations

import importlib
import itertools
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest

from reqless_plugins import WorkerInfo

if TYPE_CHECKING:
    from reqless import Job

_counter = itertools.count()


@dataclass
class FakeJob:
    """The job attributes the built-in plugins and the recorder read."""

    jid: str = "jid-1"
    queue_name: str = "mail"
    klass_name: str = "myapp.jobs.Mail"
    worker_name: str = "host-1-42"
    sandbox: str | None = None


@pytest.fixture
def job() -> Job:
    return cast("Job", FakeJob())


@pytest.fixture
def worker(tmp_path: Path) -> WorkerInfo:
    return WorkerInfo(
        name="host-1-42", strategy="process", workdir=tmp_path / "work", pid=42, slot=3
    )


#: ``install_plugin(name, source)`` -> the module name the entry point points at.
InstallPlugin = Callable[..., str]


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InstallPlugin]:
    """Install a one-module distribution publishing ``reqless.plugins`` entry points.

    ``install_plugin("timing", source)`` writes ``source`` as a fresh module,
    and a ``*.dist-info`` whose ``entry_points.txt`` maps ``timing`` to it;
    ``entry_points={"a": "{module}:obj", ...}`` writes other lines instead
    (``{module}`` is replaced by the new module's name). Module
    names are unique per call, and the modules are forgotten afterwards.
    """
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def install(name: str, source: str = "", *, entry_points: dict[str, str] | None = None) -> str:
        module = f"reqless_test_plugin_{next(_counter)}"
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        modules.append(module)
        # importlib.metadata reads the distribution name up to the first "-"
        # of the directory name (and keeps one distribution per name), so the
        # name part must use underscores.
        dist = site / f"{module}-1.0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 1.0\n",
            encoding="utf-8",
        )
        points = entry_points if entry_points is not None else {name: module}
        lines = "".join(f"{key} = {value.format(module=module)}\n" for key, value in points.items())
        (dist / "entry_points.txt").write_text(f"[reqless.plugins]\n{lines}", encoding="utf-8")
        importlib.invalidate_caches()
        return module

    yield install
    for module in modules:
        sys.modules.pop(module, None)
