"""``client.tags``: the most used tags (sync)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reqless import _protocol as p

if TYPE_CHECKING:
    from reqless._client import Client

__all__ = ["Tags"]


class Tags:
    def __init__(self, client: Client) -> None:
        self._client = client

    def top(self, offset: int = 0, limit: int = 25) -> list[str]:
        """Tags used by at least two jobs, most used first."""
        return self._client._do(p.listing("tags.top", offset, limit))

    __call__ = top
