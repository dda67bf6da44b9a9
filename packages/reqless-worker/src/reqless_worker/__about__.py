"""Version of the reqless-worker distribution (read by the build backend)."""

__version__ = "0.1.0"
