"""Loading plugins: built-ins, entry points, enable/disable by name, start-up checks."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from reqless_plugins import (
    PluginLoadError,
    PluginManager,
    UnknownPluginError,
    WorkerInfo,
    available_plugins,
    hookimpl,
)
from tests.plugins.conftest import InstallPlugin

AUDIT_PLUGIN = """
from pathlib import Path

from reqless_plugins import hookimpl

seen = []


@hookimpl
def reqless_job_popped(worker, job):
    seen.append(job.jid)


@hookimpl
def reqless_sandbox_path(worker):
    return Path("/srv/sandboxes") / worker.name
"""


def test_builtin_plugins_are_published_as_entry_points() -> None:
    assert available_plugins() == {
        "logging": "reqless_plugins.builtin.logs",
        "sandbox": "reqless_plugins.builtin.sandbox",
    }


def test_load_registers_the_builtin_plugins_by_default() -> None:
    assert PluginManager.load().names() == ["logging", "sandbox"]


def test_a_third_party_plugin_is_found_through_its_entry_point(
    install_plugin: InstallPlugin, worker: WorkerInfo
) -> None:
    install_plugin("audit", AUDIT_PLUGIN)

    manager = PluginManager.load()

    assert manager.names() == ["audit", "logging", "sandbox"]
    # The third-party answer is asked before the built-in trylast one.
    assert manager.decide("reqless_sandbox_path", worker=worker) == Path("/srv/sandboxes/host-1-42")


def test_a_third_party_plugin_receives_notifications(
    install_plugin: InstallPlugin, worker: WorkerInfo, job: object
) -> None:
    module = install_plugin("audit", AUDIT_PLUGIN)
    manager = PluginManager.load()

    manager.notify("reqless_job_popped", worker=worker, job=job)

    plugin = manager.pluggy.get_plugin("audit")
    assert isinstance(plugin, types.ModuleType)
    assert plugin.__name__ == module
    assert plugin.seen == ["jid-1"]


def test_enabled_is_the_complete_list_of_plugins_to_load(install_plugin: InstallPlugin) -> None:
    install_plugin("audit", AUDIT_PLUGIN)

    assert PluginManager.load(enabled=["audit", "logging"]).names() == ["audit", "logging"]


def test_disabled_plugins_are_skipped_even_when_enabled(install_plugin: InstallPlugin) -> None:
    install_plugin("audit", AUDIT_PLUGIN)

    assert PluginManager.load(disabled=["sandbox"]).names() == ["audit", "logging"]
    assert PluginManager.load(enabled=["audit", "sandbox"], disabled=["audit"]).names() == [
        "sandbox"
    ]


def test_an_unknown_plugin_name_is_an_error_listing_the_available_ones() -> None:
    with pytest.raises(UnknownPluginError, match=r"'sandbx'.*available: logging, sandbox") as info:
        PluginManager.load(disabled=["sandbx"])

    assert info.value.names == ["sandbx"]
    assert info.value.available == ["logging", "sandbox"]
    with pytest.raises(UnknownPluginError, match="'timing'"):
        PluginManager.load(enabled=["timing"])


def test_third_party_plugins_are_called_in_name_order_before_the_builtins(
    install_plugin: InstallPlugin, worker: WorkerInfo
) -> None:
    answer = """
        from pathlib import Path
        from reqless_plugins import hookimpl

        @hookimpl
        def reqless_sandbox_path(worker):
            return Path({!r})
    """
    install_plugin("zeta", answer.format("/zeta"))
    install_plugin("alpha", answer.format("/alpha"))

    manager = PluginManager.load()

    assert manager.decide("reqless_sandbox_path", worker=worker) == Path("/alpha")
    manager.unregister("alpha")
    assert manager.decide("reqless_sandbox_path", worker=worker) == Path("/zeta")


def test_a_misspelled_hook_fails_at_load_with_a_suggestion(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "typo",
        """
        from reqless_plugins import hookimpl

        @hookimpl
        def reqless_job_complete(worker, job):
            pass
        """,
    )

    with pytest.raises(PluginLoadError, match="did you mean 'reqless_job_completed'") as info:
        PluginManager.load()

    assert info.value.plugin == "typo"


def test_an_unmarked_reqless_function_is_still_a_hook_so_a_typo_cannot_hide() -> None:
    used = types.ModuleType("used")
    seen: list[str] = []

    def reqless_worker_stopping(reason: str) -> None:
        seen.append(reason)

    used.reqless_worker_stopping = reqless_worker_stopping  # type: ignore[attr-defined]
    typo = types.ModuleType("typo")
    typo.reqless_worker_stoping = reqless_worker_stopping  # type: ignore[attr-defined]
    manager = PluginManager()

    manager.register(used, "used")
    manager.notify("reqless_worker_stopping", worker=None, reason="TERM")
    assert seen == ["TERM"]
    with pytest.raises(PluginLoadError, match="unknown hook 'reqless_worker_stoping'"):
        manager.register(typo, "typo")
    assert manager.names() == ["used"]


def test_check_pending_names_the_plugin_implementing_an_unknown_hook() -> None:
    class Stale:
        @hookimpl
        def reqless_job_started(self) -> None:
            pass

    manager = PluginManager()
    # Straight through pluggy, as a caller bypassing register() could.
    manager.pluggy.register(Stale(), "stale")

    with pytest.raises(PluginLoadError, match=r"'stale'.*reqless_job_started"):
        manager.check_pending()


def test_an_optional_hook_may_name_a_hook_that_does_not_exist() -> None:
    class Forward:
        # pluggy's way to implement a hook a later reqless version may add.
        @hookimpl(optionalhook=True)
        def reqless_someday(self) -> None:
            pass

    manager = PluginManager()
    manager.register(Forward(), "forward")

    manager.check_pending()
    assert manager.names() == ["forward"]


def test_a_plugin_that_cannot_be_imported_fails_at_load_naming_it(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin("broken", "raise RuntimeError('missing settings')\n")

    with pytest.raises(PluginLoadError, match=r"'broken'.*missing settings"):
        PluginManager.load()
    # Disabling the broken plugin is the operator's way out.
    assert PluginManager.load(disabled=["broken"]).names() == ["logging", "sandbox"]


def test_an_entry_point_may_name_an_object_inside_a_module(
    install_plugin: InstallPlugin, worker: WorkerInfo
) -> None:
    install_plugin(
        "starts",
        """
        from reqless_plugins import hookimpl

        class Starts:
            def __init__(self):
                self.workers = []

            @hookimpl
            def reqless_worker_started(self, worker):
                self.workers.append(worker.slot)

        starts = Starts()
        """,
        entry_points={"starts": "{module}:starts"},
    )
    manager = PluginManager.load(enabled=["starts"])

    manager.notify("reqless_worker_started", worker=worker)

    starts = manager.pluggy.get_plugin("starts")
    assert starts is not None
    assert starts.workers == [3]


def test_a_notification_hook_cannot_be_wrapped() -> None:
    class Wraps:
        @hookimpl(wrapper=True)
        def reqless_job_popped(self) -> object:
            return (yield)

    manager = PluginManager()

    with pytest.raises(PluginLoadError, match="cannot be wrapped"):
        manager.register(Wraps(), "wraps")
    assert manager.names() == []


def test_a_plugin_name_is_registered_once() -> None:
    manager = PluginManager.load()

    with pytest.raises(PluginLoadError, match="'sandbox'"):
        manager.register(types.ModuleType("other"), "sandbox")


def test_unregistering_an_unknown_name_lists_the_registered_ones() -> None:
    with pytest.raises(UnknownPluginError, match="available: logging, sandbox"):
        PluginManager.load().unregister("sandbx")


def test_the_plugin_managers_errors_are_reqless_errors() -> None:
    import reqless
    from reqless_plugins import PluginError

    assert issubclass(PluginError, reqless.ReqlessError)
