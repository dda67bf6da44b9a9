"""``client.throttles[name]``: limits on how many jobs holding a throttle run at once (sync)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from reqless import _ops as ops
from reqless import _protocol as p

if TYPE_CHECKING:
    from reqless._client import Client  # noqa: F401  (the bases below name it as text)

__all__ = ["Throttle", "ThrottleBase", "Throttles", "ThrottlesBase"]

C = TypeVar("C")
T = TypeVar("T")


class _Reading(int):
    """An int that a call also answers with itself.

    ``throttle.maximum`` and ``throttle.ttl`` are properties here and methods in
    reqless-py (``throttle.maximum()``): the value read serves both spellings.
    """

    __slots__ = ()

    def __call__(self) -> int:
        return int(self)


class ThrottleBase(Generic[C]):
    """What both clients' ``Throttle`` share: the checked name, the client, the repr.

    Each operation is one of :mod:`reqless._ops`; the twins only run it (the sync
    one to its result, the asyncio one as a coroutine).
    """

    _REPR_NAME: ClassVar[str] = "Throttle"

    def __init__(self, client: C, name: str) -> None:
        self._client = client
        self.name = p.check_str("throttle name", name)

    def __repr__(self) -> str:
        return f"<{self._REPR_NAME} {self.name!r}>"


class ThrottlesBase(Generic[C, T]):
    """``client.throttles``: ``throttles[name]`` makes the client's ``Throttle`` twin."""

    _THROTTLE: ClassVar[Any]

    def __init__(self, client: C) -> None:
        self._client = client

    def __getitem__(self, name: str) -> T:
        throttle: T = self._THROTTLE(self._client, name)
        return throttle


class Throttle(ThrottleBase["Client"]):
    """One throttle; ``maximum`` 0 means unlimited."""

    def info(self) -> p.ThrottleInfo:
        return self._client._do(p.throttle_info(self.name))

    @property
    def maximum(self) -> int:
        """The limit (0: unlimited); ``throttle.maximum()`` reads it too, as in reqless-py."""
        return _Reading(self._client._do(ops.throttle_field(self.name, "maximum")))

    @maximum.setter
    def maximum(self, value: int) -> None:
        self.set_maximum(value)

    def set_maximum(self, maximum: int | None = None, expiration: int | None = 0) -> None:
        """Set the limit (None: 0, unlimited); with ``expiration`` seconds the whole definition
        then disappears."""
        self._client._do(ops.set_throttle(self.name, maximum, expiration))

    @property
    def ttl(self) -> int:
        """Seconds until the definition expires; -1 if it does not, -2 if it is not set.

        ``throttle.ttl()`` reads it too, as in reqless-py."""
        return _Reading(self._client._do(ops.throttle_field(self.name, "ttl")))

    def locks(self) -> list[str]:
        """Jids holding the throttle."""
        return self._client._do(p.json_list("throttle.locks", self.name))

    def pending(self) -> list[str]:
        """Jids waiting for the throttle, longest waiting first."""
        return self._client._do(p.json_list("throttle.pending", self.name))

    def release(self, *jids: str) -> None:
        self._client._do(ops.release(self.name, jids))

    def delete(self) -> None:
        """Remove the definition (the throttle becomes unlimited)."""
        self._client._do(p.no_reply("throttle.delete", self.name))


class Throttles(ThrottlesBase["Client", Throttle]):
    _THROTTLE = Throttle
