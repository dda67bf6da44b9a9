"""Version of the reqless-plugins distribution (read by the build backend)."""

__version__ = "0.1.0"
