"""The built-in ``sandbox`` plugin: where the sandbox lives, prepared empty, removed after."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reqless_plugins import PluginManager, WorkerInfo, hookimpl

if TYPE_CHECKING:
    from reqless import Job


@pytest.fixture
def manager() -> PluginManager:
    return PluginManager.load(enabled=["sandbox"])


def test_each_slot_has_its_own_sandbox_under_the_workdir(
    manager: PluginManager, worker: WorkerInfo
) -> None:
    other = dataclasses.replace(worker, slot=4)

    assert manager.decide("reqless_sandbox_path", worker=worker) == (
        worker.workdir / "reqless-py-workers" / "sandbox-3"
    )
    assert manager.decide("reqless_sandbox_path", worker=other) == (
        worker.workdir / "reqless-py-workers" / "sandbox-4"
    )


def test_prepare_creates_an_empty_sandbox(
    manager: PluginManager, worker: WorkerInfo, job: Job
) -> None:
    path = manager.decide("reqless_sandbox_path", worker=worker)

    assert manager.decide("reqless_sandbox_prepare", worker=worker, path=path, job=job) is True

    assert path.is_dir()
    assert list(path.iterdir()) == []


def test_prepare_removes_what_a_killed_job_left_behind(
    manager: PluginManager, worker: WorkerInfo, job: Job
) -> None:
    path: Path = manager.decide("reqless_sandbox_path", worker=worker)
    (path / "partial" / "deep").mkdir(parents=True)
    (path / "partial" / "deep" / "download.tmp").write_bytes(b"half")
    (path / "lock").write_text("pid 7")

    manager.decide("reqless_sandbox_prepare", worker=worker, path=path, job=job)

    assert path.is_dir()
    assert list(path.iterdir()) == []


def test_prepare_works_on_the_nested_greenlet_path_the_worker_passes(
    manager: PluginManager, worker: WorkerInfo, job: Job
) -> None:
    nested: Path = manager.decide("reqless_sandbox_path", worker=worker) / "greenlet-2"

    manager.decide("reqless_sandbox_prepare", worker=worker, path=nested, job=job)

    assert nested.is_dir()
    assert nested.parent.name == "sandbox-3"


def test_clean_removes_the_sandbox_and_what_the_job_wrote(
    manager: PluginManager, worker: WorkerInfo, job: Job
) -> None:
    path: Path = manager.decide("reqless_sandbox_path", worker=worker)
    manager.decide("reqless_sandbox_prepare", worker=worker, path=path, job=job)
    (path / "report.csv").write_text("a,b\n")

    assert manager.decide("reqless_sandbox_clean", worker=worker, path=path, job=job) is True

    assert not path.exists()
    assert path.parent.is_dir()


def test_clean_of_a_missing_sandbox_is_fine(
    manager: PluginManager, worker: WorkerInfo, job: Job
) -> None:
    path = worker.workdir / "never-created"

    assert manager.decide("reqless_sandbox_clean", worker=worker, path=path, job=job) is True


def test_a_sandbox_replaced_by_a_link_is_unlinked_not_followed(
    manager: PluginManager, worker: WorkerInfo, job: Job, tmp_path: Path
) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("keep")
    path: Path = manager.decide("reqless_sandbox_path", worker=worker)
    path.parent.mkdir(parents=True)
    path.symlink_to(precious, target_is_directory=True)

    manager.decide("reqless_sandbox_clean", worker=worker, path=path, job=job)

    assert not path.exists()
    assert not path.is_symlink()
    assert (precious / "keep.txt").read_text() == "keep"


def test_a_third_party_plugin_takes_over_one_sandbox_hook(
    manager: PluginManager, worker: WorkerInfo, job: Job
) -> None:
    kept: list[Path] = []

    class KeepForDebugging:
        @hookimpl
        def reqless_sandbox_clean(self, path: Path) -> bool:
            kept.append(path)
            return True

    manager.register(KeepForDebugging(), "keep")
    path: Path = manager.decide("reqless_sandbox_path", worker=worker)
    manager.decide("reqless_sandbox_prepare", worker=worker, path=path, job=job)

    manager.decide("reqless_sandbox_clean", worker=worker, path=path, job=job)

    assert kept == [path]
    assert path.is_dir()


def test_without_the_sandbox_plugin_nobody_chooses_a_sandbox(worker: WorkerInfo) -> None:
    manager = PluginManager.load(disabled=["sandbox"])

    assert manager.decide("reqless_sandbox_path", worker=worker) is None
