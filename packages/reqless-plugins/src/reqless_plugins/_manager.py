"""Load plugins and call hooks the way each kind of hook requires.

pluggy calls a hook's implementations in a row and stops at the first
exception; that is right for decisions and for ``reqless_perform``, wrong for
notifications, where one broken observer must not silence the others or the
job. So ``notify`` walks the implementations itself, in pluggy's order, and
isolates each one.
"""

from __future__ import annotations

import difflib
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

import pluggy
from pluggy import HookCaller, HookImpl, HookimplOpts, PluginValidationError

from reqless_plugins import hookspecs
from reqless_plugins._errors import HookUsageError, PluginError, PluginLoadError, UnknownPluginError
from reqless_plugins._markers import PROJECT_NAME
from reqless_plugins._worker import WorkerInfo
from reqless_plugins.builtin import BUILTIN_PLUGINS

if TYPE_CHECKING:
    from reqless import Job

#: The entry-point group plugins are published under.
ENTRY_POINT_GROUP = "reqless.plugins"
HOOK_PREFIX = "reqless_"

logger = logging.getLogger("reqless_plugins")

# ``PluginManager.pluggy`` shadows the module name inside the class body.
_PluggyManager = pluggy.PluginManager


class _ReqlessPluggy(pluggy.PluginManager):
    """pluggy, plus: an unmarked ``reqless_*`` function is a hook implementation.

    Without this, a plugin author who forgets ``@hookimpl`` has a function
    pluggy silently ignores; with it, the function is used, and a misspelled
    name fails ``check_pending()`` like a marked one.
    """

    def parse_hookimpl_opts(self, plugin: object, name: str) -> HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        if (
            opts is None
            and name.startswith(HOOK_PREFIX)
            and inspect.isroutine(getattr(plugin, name, None))
        ):
            return HookimplOpts(
                wrapper=False,
                hookwrapper=False,
                optionalhook=False,
                tryfirst=False,
                trylast=False,
                specname=None,
            )
        return opts


def available_plugins() -> dict[str, str]:
    """Every plugin ``load()`` could register: name -> entry-point value, sorted by name.

    Entry points come first; a built-in missing from the installed metadata
    (a source tree that was never installed) is added from the package itself.
    """
    return {name: point.value for name, point in sorted(_discover().items())}


def _discover() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        previous = found.get(point.name)
        if previous is None:
            found[point.name] = point
        elif previous.value != point.value:
            # sys.path order decides, as it does for imports; say so, because
            # the loser is never loaded.
            logger.warning(
                "two plugins are named %r: using %s, ignoring %s",
                point.name,
                previous.value,
                point.value,
            )
    for name, value in BUILTIN_PLUGINS.items():
        found.setdefault(name, EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP))
    return found


@dataclass(frozen=True, slots=True)
class _Plan:
    """What calling one hook takes, worked out from pluggy's registrations."""

    caller: HookCaller
    argnames: frozenset[str]
    decision: bool
    #: (plugin name, function, argument names) per plain implementation, in call order.
    calls: tuple[tuple[str, Callable[..., object], tuple[str, ...]], ...]
    has_plain_impl: bool
    has_wrapper: bool


class PluginManager:
    """The worker's single door to its plugins.

    Build it with ``PluginManager.load()``; the worker then registers its own
    ``reqless_perform`` implementation with ``register()`` and calls hooks
    through ``notify()``, ``decide()``, ``perform()`` and ``log_context()``.
    """

    def __init__(self) -> None:
        self._pluggy = _ReqlessPluggy(PROJECT_NAME)
        self._pluggy.add_hookspecs(hookspecs)
        # Hooks run around every job; what each call needs is worked out once
        # per hook and kept until a plugin is registered or unregistered.
        self._plans: dict[str, _Plan] = {}

    @classmethod
    def load(
        cls, enabled: Iterable[str] | None = None, disabled: Iterable[str] = ()
    ) -> PluginManager:
        """A manager with the built-in plugins and the ``reqless.plugins`` entry points.

        ``enabled`` is the complete list of plugin names to load (``None``:
        all of them; built-ins are not added implicitly to an explicit list);
        names in ``disabled`` are skipped even when enabled. A name in either
        that no plugin has raises ``UnknownPluginError`` listing the available
        ones; a plugin that fails to import or implements an unknown hook
        raises ``PluginLoadError``, before any job runs.

        Built-ins are registered first and third-party plugins in reverse name
        order, so that pluggy (which calls the last registered first) calls
        third-party plugins in name order, then the built-ins.
        """
        available = _discover()
        wanted = None if enabled is None else set(enabled)
        skipped = set(disabled)
        unknown = sorted((wanted or set()) - available.keys() | skipped - available.keys())
        if unknown:
            raise UnknownPluginError(unknown, sorted(available))
        chosen = [
            name for name in available if (wanted is None or name in wanted) and name not in skipped
        ]
        builtins = sorted(name for name in chosen if name in BUILTIN_PLUGINS)
        others = sorted((name for name in chosen if name not in BUILTIN_PLUGINS), reverse=True)
        manager = cls()
        for name in [*builtins, *others]:
            manager.register(_load_entry_point(available[name]), name)
        manager.check_pending()
        return manager

    @property
    def pluggy(self) -> _PluggyManager:
        """The underlying pluggy manager, for inspection.

        Register through ``register()``, not through this object: the manager
        caches each hook's implementations. Notifications call implementations
        directly, so pluggy's call monitoring sees only decisions and perform.
        """
        return self._pluggy

    def register(self, plugin: object, name: str) -> None:
        """Register ``plugin`` (a module or an object with hook methods) as ``name``.

        Raises ``PluginLoadError``, leaving the manager unchanged, when the
        name is taken, an implementation does not match its hook, a hook name
        is unknown, or a notification hook is implemented as a wrapper.
        """
        self._plans.clear()
        try:
            self._pluggy.register(plugin, name)
        except (PluginValidationError, ValueError) as exc:
            raise PluginLoadError(name, str(exc)) from exc
        try:
            self._validate(plugin)
        except PluginLoadError:
            self._pluggy.unregister(plugin)
            raise

    def unregister(self, name: str) -> None:
        """Remove the plugin registered as ``name`` (unknown: ``UnknownPluginError``)."""
        if self._pluggy.get_plugin(name) is None:
            raise UnknownPluginError([name], self.names())
        self._plans.clear()
        self._pluggy.unregister(name=name)

    def names(self) -> list[str]:
        """Names of the registered plugins, sorted."""
        return sorted(name for name, _ in self._pluggy.list_name_plugin())

    def check_pending(self) -> None:
        """Fail if any registered plugin implements a hook that does not exist."""
        try:
            self._pluggy.check_pending()
        except PluginValidationError as exc:
            name = self._pluggy.get_name(exc.plugin) or repr(exc.plugin)
            raise PluginLoadError(name, str(exc)) from exc

    # -- calling hooks ---------------------------------------------------

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call every implementation of a notification hook, isolating each one.

        An ``Exception`` from an implementation is logged (logger
        ``reqless_plugins``) with the plugin's name, and the next one is
        called. Other ``BaseException``s (shutdown, cancellation) propagate.
        """
        self._call_each(hook_name, kwargs)

    def decide(self, hook_name: str, **kwargs: Any) -> Any:
        """Ask a ``firstresult`` hook; ``None`` means no plugin decided. Errors propagate."""
        plan = self._plan(hook_name, kwargs)
        if not plan.decision:
            raise HookUsageError(f"{hook_name} is a notification: call notify(), not decide()")
        return _first_result(plan, kwargs)

    def perform(self, worker: WorkerInfo, job: Job) -> object:
        """Run ``job`` through ``reqless_perform`` and its wrappers. Errors propagate.

        Raises ``PluginError`` when nothing implements the hook itself (the
        worker has not registered its implementation), rather than returning
        ``None`` as if the job had run.
        """
        plan = self._plan("reqless_perform", {"worker": worker, "job": job})
        if not plan.has_plain_impl:
            raise PluginError(
                "nothing implements reqless_perform (wrappers alone cannot run a job)"
            )
        return _first_result(plan, {"worker": worker, "job": job})

    def log_context(self, job: Job) -> dict[str, object]:
        """The merged ``reqless_log_context`` of every plugin for ``job``.

        A plugin called earlier wins a conflicting key. A plugin that raises
        or returns something other than a ``dict`` is logged and skipped.
        """
        merged: dict[str, object] = {}
        for plugin_name, result in reversed(self._call_each("reqless_log_context", {"job": job})):
            # A dict is what plugins return: tested first, without the ABC's slower check.
            if type(result) is dict or isinstance(result, Mapping):
                merged.update(result)
            else:
                logger.error(
                    "plugin %r returned %s from reqless_log_context, not a dict; ignored",
                    plugin_name,
                    type(result).__name__,
                )
        return merged

    def logging_config(
        self, verbose: bool, log_file: str | None, config: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The ``dictConfig`` dictionary after every ``reqless_configure_logging`` edited it.

        Starts from ``config`` (edited in place) or from an empty version-1
        configuration. The caller applies it with ``logging.config.dictConfig``.
        """
        if config is None:
            config = {"version": 1, "disable_existing_loggers": False}
        self.notify("reqless_configure_logging", config=config, verbose=verbose, log_file=log_file)
        return config

    # -- internals -------------------------------------------------------

    def _plan(self, hook_name: str, kwargs: Mapping[str, Any]) -> _Plan:
        plan = self._plans.get(hook_name)
        if plan is None:
            plan = self._plans[hook_name] = self._make_plan(hook_name)
        if kwargs.keys() != plan.argnames:
            raise HookUsageError(
                f"{hook_name} takes {', '.join(sorted(plan.argnames))}; "
                f"called with {', '.join(sorted(kwargs)) or 'nothing'}"
            )
        return plan

    def _make_plan(self, hook_name: str) -> _Plan:
        caller: HookCaller | None = getattr(self._pluggy.hook, hook_name, None)
        if caller is None or caller.spec is None:
            raise HookUsageError(f"no hook named {hook_name!r}{_suggest(hook_name)}")
        impls = caller.get_hookimpls()
        return _Plan(
            caller=caller,
            argnames=frozenset(caller.spec.argnames),
            decision=_is_decision(caller),
            # pluggy keeps the list lowest priority first and calls it backwards.
            calls=tuple(
                (impl.plugin_name, impl.function, tuple(impl.argnames))
                for impl in reversed(impls)
                if not _is_wrapper(impl)
            ),
            has_plain_impl=any(not _is_wrapper(impl) for impl in impls),
            has_wrapper=any(_is_wrapper(impl) for impl in impls),
        )

    def _call_each(self, hook_name: str, kwargs: Mapping[str, Any]) -> list[tuple[str, object]]:
        plan = self._plan(hook_name, kwargs)
        if plan.decision:
            raise HookUsageError(f"{hook_name} is a decision: call decide(), not notify()")
        results: list[tuple[str, object]] = []
        for plugin_name, function, argnames in plan.calls:
            try:
                result = function(*[kwargs[arg] for arg in argnames])
            except Exception:
                logger.exception(
                    "plugin %r failed in %s; the other plugins still run", plugin_name, hook_name
                )
                continue
            if result is not None:
                results.append((plugin_name, result))
        return results

    def _validate(self, plugin: object) -> None:
        name = self._pluggy.get_name(plugin) or repr(plugin)
        for caller in self._pluggy.get_hookcallers(plugin) or []:
            mine = [impl for impl in caller.get_hookimpls() if impl.plugin is plugin]
            if caller.spec is None:
                if all(impl.optionalhook for impl in mine):
                    continue
                raise PluginLoadError(
                    name, f"implements unknown hook {caller.name!r}{_suggest(caller.name)}"
                )
            if _is_decision(caller):
                continue
            for impl in mine:
                if _is_wrapper(impl):
                    raise PluginLoadError(
                        name,
                        f"{caller.name} is called once per plugin, so it cannot be wrapped;"
                        " implement it as a plain hook",
                    )


def _first_result(plan: _Plan, kwargs: Mapping[str, Any]) -> Any:
    # pluggy's firstresult semantics; wrappers need pluggy's machinery, the
    # common case (no wrapper) is a plain loop at a third of the cost.
    if plan.has_wrapper:
        return plan.caller(**kwargs)
    for _, function, argnames in plan.calls:
        result = function(*[kwargs[arg] for arg in argnames])
        if result is not None:
            return result
    return None


def _load_entry_point(point: EntryPoint) -> object:
    try:
        return point.load()
    except Exception as exc:
        raise PluginLoadError(point.name, f"cannot import {point.value}: {exc!r}") from exc


def _is_decision(caller: HookCaller) -> bool:
    return caller.spec is not None and bool(caller.spec.opts.get("firstresult"))


def _is_wrapper(impl: HookImpl) -> bool:
    return impl.wrapper or impl.hookwrapper


def _suggest(hook_name: str) -> str:
    close = difflib.get_close_matches(hook_name, hookspecs.__all__, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
