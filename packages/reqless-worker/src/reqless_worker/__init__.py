"""reqless-worker: pops reqless jobs, runs them and reports how they ended.

The public API is exported here and only here.
"""

from reqless_worker.__about__ import __version__

__all__ = ["__version__"]
