"""``client.config``: the core's options as a mutable mapping of strings (sync)."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING

from reqless import _protocol as p
from reqless._errors import InvalidArgumentError

if TYPE_CHECKING:
    from reqless._client import Client

__all__ = ["Config"]


def config_value(value: str | int | float) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidArgumentError(f"config values must be str, int or float, got {value!r}")
    return str(value)


class Config(MutableMapping[str, str]):
    """Every option with its default (protocol 4.19); values are strings, as the core keeps them.

    ``del config[key]`` restores the default, so a deleted option with a default
    still reads back.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    def __getitem__(self, key: str) -> str:
        value = self._client._run(p.simple("config.get", p.check_str("key", key)))
        if value is None:
            raise KeyError(key)
        return str(value)

    def __setitem__(self, key: str, value: str | int | float) -> None:
        self._client._run(p.nothing("config.set", p.check_str("key", key), config_value(value)))

    def __delitem__(self, key: str) -> None:
        self._client._run(p.nothing("config.unset", p.check_str("key", key)))

    def __iter__(self) -> Iterator[str]:
        return iter(self.all)

    def __len__(self) -> int:
        return len(self.all)

    def set(self, key: str, value: str | int | float) -> None:
        """``config[key] = value``, named as in the asyncio twin."""
        self[key] = value

    def unset(self, key: str) -> None:
        """``del config[key]`` (restores the default), named as in the asyncio twin."""
        del self[key]

    @property
    def all(self) -> dict[str, str]:
        return self._client._run(p.config_all())

    def clear(self) -> None:
        """Unset every option (those with a default read back as the default)."""
        keys = list(self.all)
        self._client._run_many([p.nothing("config.unset", key) for key in keys])
