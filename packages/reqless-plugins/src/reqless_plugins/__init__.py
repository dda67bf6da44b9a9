"""reqless-plugins: the hooks a reqless worker calls, and the plugins that ship with it.

Plugins are pluggy plugins found through the ``reqless.plugins`` entry-point
group. The public API is exported here and only here.
"""

from reqless_plugins.__about__ import __version__

__all__ = ["__version__"]
