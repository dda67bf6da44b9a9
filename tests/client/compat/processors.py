"""Job classes of the job-processor API, importable as a worker needs them to be."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Self

import pydantic

import reqless
from reqless.abstract import AbstractJobData, AbstractJobProcessor

#: What the methods received: (method, jid, data object).
SEEN: list[tuple[str, str, Any]] = []


@dataclass
class Size:
    width: int
    height: int


class Point(AbstractJobData):
    """Data with its own JSON form: ``"x,y"`` inside a JSON string."""

    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    @classmethod
    def from_json(cls, data: str) -> Self:
        x, y = json.loads(data).split(",")
        return cls(int(x), int(y))

    def to_json(self) -> str:
        return json.dumps(f"{self.x},{self.y}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    __hash__ = None  # type: ignore[assignment]


class Validated:
    """Stands for a pydantic model: the same ``model_validate_json`` / ``model_dump_json``."""

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def model_validate_json(cls, text: str) -> Validated:
        raw = json.loads(text)
        if not isinstance(raw.get("name"), str):
            raise ValueError(f"name must be a str in {text}")
        return cls(raw["name"])

    def model_dump_json(self) -> str:
        return json.dumps({"name": self.name})


class ByTypeArgument(AbstractJobProcessor[Size]):
    """The data class as the base's type argument."""

    @staticmethod
    def process(job: Any, size: Size) -> None:
        SEEN.append(("process", job.jid, size))
        job.complete()


class ByAnnotation(AbstractJobProcessor[Any]):
    """The data class from the processing method's annotation; a method per queue too."""

    @staticmethod
    def process(job: Any, size: Size) -> None:
        SEEN.append(("process", job.jid, size))
        job.complete()

    @staticmethod
    def resize(job: reqless.Job, size: Size) -> None:
        SEEN.append(("resize", job.jid, size))
        job.complete()


class Explicit(AbstractJobProcessor[Any]):
    """``data_class()`` overridden; a classmethod, and a method taking the job alone."""

    @classmethod
    def data_class(cls) -> type[Point]:
        return Point

    @classmethod
    def process(cls, job: Any, point: Point) -> None:
        SEEN.append((cls.__name__, job.jid, point))
        job.complete()

    @staticmethod
    def plain(job: Any) -> None:
        SEEN.append(("plain", job.jid, Explicit.deserialize_data_json(job.data)))
        job.complete()


class Model(AbstractJobProcessor[Validated]):
    @staticmethod
    def process(job: Any, data: Validated) -> None:
        SEEN.append(("process", job.jid, data.name))
        job.complete()


class Returning(AbstractJobProcessor[Size]):
    """A sync method for either client: it returns ``complete()``, which asyncio awaits."""

    @staticmethod
    def process(job: Any, size: Size) -> Any:
        SEEN.append(("process", job.jid, size))
        return job.complete()


class Area(AbstractJobProcessor[Size]):
    """Stores what it computed from the decoded data, for a test in another process."""

    @staticmethod
    def process(job: Any, size: Size) -> None:
        job.data = {"area": size.width * size.height, "seen": type(size).__name__}
        job.complete()


class AsyncProcessor(AbstractJobProcessor[Size]):
    @staticmethod
    async def process(job: Any, size: Size) -> None:
        SEEN.append(("async", job.jid, size))
        await job.complete()


class Flaky:
    """``reqless.retry``: a ConnectionError retries the job, anything else fails it."""

    @staticmethod
    @reqless.retry(ConnectionError)
    def process(job: Any) -> None:
        """Talks to a flaky service."""
        if job.payload.get("flaky"):
            raise ConnectionError("try again")
        raise KeyError("a bug")

    @staticmethod
    @reqless.retry(ConnectionError)
    async def aprocess(job: Any) -> None:
        raise ConnectionError("try again")


class PydanticSize(pydantic.BaseModel):
    width: int
    height: int


class PydanticProcessor(AbstractJobProcessor[PydanticSize]):
    @staticmethod
    def process(job: Any, size: PydanticSize) -> None:
        SEEN.append(("pydantic", job.jid, size))
        job.complete()
