"""reqless-py's ``reqless.queue_patterns`` module: :class:`QueuePatterns`."""

from reqless._patterns import QueuePatterns

__all__ = ["QueuePatterns"]
