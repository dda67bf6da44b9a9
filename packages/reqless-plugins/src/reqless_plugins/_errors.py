"""Errors raised by the plugin manager.

A plugin's own exception is never wrapped: notifications log it, decisions and
``reqless_perform`` let it propagate as it was raised. These types are for the
manager's own failures: a plugin name nobody provides, a plugin that cannot be
loaded, a hook called the wrong way.
"""

from collections.abc import Sequence

from reqless import ReqlessError


class PluginError(ReqlessError):
    """Root of every error the plugin manager raises itself (a :class:`reqless.ReqlessError`)."""


class UnknownPluginError(PluginError):
    """A plugin name given to enable or disable matches no installed plugin."""

    def __init__(self, names: Sequence[str], available: Sequence[str]) -> None:
        self.names = list(names)
        self.available = list(available)
        listed = ", ".join(self.available) or "none"
        super().__init__(f"unknown plugin {', '.join(map(repr, self.names))}; available: {listed}")


class PluginLoadError(PluginError):
    """A plugin could not be imported or registered, or implements a hook that does not exist."""

    def __init__(self, plugin: str, reason: str) -> None:
        self.plugin = plugin
        self.reason = reason
        super().__init__(f"plugin {plugin!r}: {reason}")


class HookUsageError(PluginError):
    """The caller (the worker) named an unknown hook, used the wrong kind of call or arguments."""
