"""The hook list is the worker's contract: guard it, and its documentation."""

from __future__ import annotations

import inspect

import pluggy

import reqless_plugins
from reqless_plugins import PluginManager, hookspecs
from reqless_plugins.testing import HookRecorder

HOOKS = {
    # logging
    "reqless_configure_logging": ["config", "verbose", "log_file"],
    "reqless_log_context": ["job"],
    # worker lifecycle
    "reqless_worker_started": ["worker"],
    "reqless_worker_stopping": ["worker", "reason"],
    # policies
    "reqless_allow_job_class": ["job", "klass_name"],
    "reqless_sandbox_path": ["worker"],
    "reqless_sandbox_prepare": ["worker", "path", "job"],
    "reqless_sandbox_clean": ["worker", "path", "job"],
    # job lifecycle
    "reqless_job_popped": ["worker", "job"],
    "reqless_before_perform": ["worker", "job"],
    "reqless_perform": ["worker", "job"],
    "reqless_after_perform": ["worker", "job", "error"],
    "reqless_job_completed": ["worker", "job"],
    "reqless_job_failed": ["worker", "job", "group", "message"],
    "reqless_job_retried": ["worker", "job"],
    "reqless_job_lock_lost": ["worker", "job"],
}
DECISIONS = {
    "reqless_allow_job_class",
    "reqless_sandbox_path",
    "reqless_sandbox_prepare",
    "reqless_sandbox_clean",
    "reqless_perform",
}


def spec_callers() -> dict[str, pluggy.HookCaller]:
    manager = PluginManager()
    return {
        name: caller
        for name, caller in vars(manager.pluggy.hook).items()
        if isinstance(caller, pluggy.HookCaller) and caller.spec is not None
    }


def test_the_hooks_and_their_arguments_are_exactly_the_contract() -> None:
    assert {
        name: caller.spec.argnames for name, caller in spec_callers().items() if caller.spec
    } == {name: tuple(args) for name, args in HOOKS.items()}


def test_decisions_are_firstresult_and_nothing_else_is() -> None:
    firstresult = {
        name
        for name, caller in spec_callers().items()
        if caller.spec and caller.spec.opts.get("firstresult")
    }

    assert firstresult == DECISIONS


def test_every_hook_is_documented_and_typed() -> None:
    for name in HOOKS:
        function = getattr(hookspecs, name)
        doc = inspect.getdoc(function) or ""
        assert len(doc.splitlines()) >= 3, name
        # Each says what happens to its errors: a notification's are logged
        # (the module docstring says so once), the others say it themselves.
        assert "Notification" in doc or "Errors" in doc, name
        assert "return" in inspect.get_annotations(function), name
    assert sorted(hookspecs.__all__) == sorted([*HOOKS, "WorkerInfo"])


def test_the_recorder_implements_every_hook() -> None:
    implemented = {name for name in dir(HookRecorder) if name.startswith("reqless_")}

    assert implemented == set(HOOKS)


def test_the_public_names_do_not_change_by_accident() -> None:
    assert reqless_plugins.__all__ == sorted(reqless_plugins.__all__)
    assert set(reqless_plugins.__all__) == {
        "CONTEXT_FIELDS",
        "ENTRY_POINT_GROUP",
        "HookUsageError",
        "JobContextFilter",
        "PluginError",
        "PluginLoadError",
        "PluginManager",
        "UnknownPluginError",
        "WorkerInfo",
        "__version__",
        "available_plugins",
        "bind_log_context",
        "current_log_context",
        "hookimpl",
        "hookspec",
    }
    assert reqless_plugins.ENTRY_POINT_GROUP == "reqless.plugins"


def test_errors_share_one_root() -> None:
    for error in (
        reqless_plugins.UnknownPluginError,
        reqless_plugins.PluginLoadError,
        reqless_plugins.HookUsageError,
    ):
        assert issubclass(error, reqless_plugins.PluginError)
