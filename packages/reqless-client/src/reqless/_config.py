"""``client.config``: the core's options as a mutable mapping (sync)."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar

from reqless import _ops as ops
from reqless import _protocol as p

if TYPE_CHECKING:
    from reqless._client import Client

__all__ = ["Config"]

D = TypeVar("D")


class Config(MutableMapping[str, Any]):
    """Every option with its default (protocol 4.19).

    ``config[key]`` and ``get`` read values JSON-decoded, as reqless-py gave them
    (``config["heartbeat"]`` is ``60``, not ``'60'``; text that is not JSON stays
    text); :attr:`all` gives them as the core keeps them, text. ``del config[key]``
    restores the default, so a deleted option with a default still reads back.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    def __getitem__(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: str | int | float) -> None:
        self.set(key, value)

    def __delitem__(self, key: str) -> None:
        self.unset(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.all)

    def __len__(self) -> int:
        return len(self.all)

    def get(self, key: str, default: D | None = None) -> Any | D | None:
        """The option's value (decoded), or ``default`` if it has none."""
        value = self._client._do(ops.config_get(key))
        return default if value is None else value

    def set(self, key: str, value: str | int | float) -> None:
        """``config[key] = value``, named as in the asyncio twin."""
        self._client._do(ops.config_set(key, value))

    def unset(self, key: str) -> None:
        """``del config[key]`` (restores the default), named as in the asyncio twin."""
        self._client._do(ops.config_unset(key))

    @property
    def all(self) -> dict[str, str]:
        """Every option and its value as the core keeps it (text), as reqless-py's ``all``."""
        return self._client._do(p.config_all())

    def clear(self) -> None:
        """Unset every option (those with a default read back as the default)."""
        self._client._do(ops.config_clear())
