"""reqless: a job queue whose state lives in Redis or Valkey.

Every state change is one atomic call of the reqless Lua core. This package is
the Python client; the built core it runs is served by :mod:`reqless._lua`.
The public API is exported here and only here.
"""

from reqless.__about__ import __version__

__all__ = ["__version__"]
