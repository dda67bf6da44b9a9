"""The public names: a change to them must be deliberate, so it must change this test too."""

from __future__ import annotations

import reqless
import reqless.aio

PUBLIC = {
    "AbstractJobData", "AbstractJobProcessor", "EventThread", "JobPage", "UnknownEventError",
    "retry",
    "AsyncCoreScript", "AuthenticationError", "Client", "ClientSettings", "Config", "CoreScript",
    "DriverNotInstalledError", "EmbeddedServerError", "Event", "Events", "Failure",
    "InvalidArgumentError", "JidPage", "Job", "JobNotFoundError", "JobSpec", "Jobs",
    "LostLockError", "PermissionDeniedError", "PopWaiter", "PriorityPattern", "Queue",
    "QueueCounts",
    "QueueJobs", "QueuePatterns", "QueueStats", "Queues", "RecurringJob",
    "ReplicationTimeoutError", "ReqlessError",
    "ScriptError", "ScriptNotLoadedError", "ServerUnavailableError", "Tags", "Throttle",
    "ThrottleInfo", "Throttles", "TimingStats", "TrackedJobs", "UnknownDriverError",
    "WorkerCounts", "WorkerJobs", "Workers", "__version__",
}  # fmt: skip

PUBLIC_AIO = {
    "Client", "Config", "Events", "Job", "Jobs", "PopWaiter", "Queue", "QueueJobs",
    "QueuePatterns", "Queues", "RecurringJob", "Tags", "Throttle", "Throttles", "Workers",
}  # fmt: skip


def test_the_facade_exports_exactly_the_public_names_sorted() -> None:
    assert reqless.__all__ == sorted(reqless.__all__)
    assert set(reqless.__all__) == PUBLIC
    for name in reqless.__all__:
        assert getattr(reqless, name) is not None


def test_the_asyncio_facade_exports_exactly_its_names_sorted() -> None:
    assert reqless.aio.__all__ == sorted(reqless.aio.__all__)
    assert set(reqless.aio.__all__) == PUBLIC_AIO
    for name in reqless.aio.__all__:
        assert getattr(reqless.aio, name) is not None


def test_every_error_descends_from_the_root() -> None:
    errors = [getattr(reqless, n) for n in reqless.__all__ if n.endswith("Error")]
    assert all(issubclass(error, reqless.ReqlessError) for error in errors)


def test_the_commands_module_exports_its_call_builders_sorted() -> None:
    import reqless.commands

    assert reqless.commands.__all__ == sorted(reqless.commands.__all__)
    assert {"Call", "complete", "core", "pop"} <= set(reqless.commands.__all__)
    for name in reqless.commands.__all__:
        assert getattr(reqless.commands, name) is not None
