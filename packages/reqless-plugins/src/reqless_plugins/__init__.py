"""reqless-plugins: the hooks a reqless worker calls, and the plugins that ship with it.

Plugins are pluggy plugins found through the ``reqless.plugins`` entry-point
group; ``reqless_plugins.hookspecs`` documents every hook. The public API is
exported here and only here (plus ``reqless_plugins.testing`` for tests).
"""

from reqless_plugins.__about__ import __version__
from reqless_plugins._context import (
    CONTEXT_FIELDS,
    JobContextFilter,
    bind_log_context,
    current_log_context,
)
from reqless_plugins._errors import (
    HookUsageError,
    PluginError,
    PluginLoadError,
    UnknownPluginError,
)
from reqless_plugins._manager import ENTRY_POINT_GROUP, PluginManager, available_plugins
from reqless_plugins._markers import hookimpl, hookspec
from reqless_plugins._worker import WorkerInfo

__all__ = [
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
]
