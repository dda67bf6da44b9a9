"""Job classes whose methods take the job's data decoded: reqless-py's job-processor API.

A job class derived from :class:`AbstractJobProcessor` names a data class:
as the type argument (``class Resize(AbstractJobProcessor[Size])``), by
overriding :meth:`AbstractJobProcessor.data_class`, or as the annotation of
its processing method's second parameter (``def process(job, size: Size)``).
A processing method (``process`` or one named after a queue) that takes two
parameters is then called with the job and its data decoded into that class,
whoever calls it with the job alone: ``job.process()`` or the worker.

The data class may be a :class:`AbstractJobData` subclass (``from_json``), a
dataclass (built from the JSON object's keys) or a pydantic model
(``model_validate_json``; pydantic is used only if the class is one). Such
objects are also accepted as ``data`` by ``put``, ``recur`` and ``job.data``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Generic, Self, TypeVar

from reqless._errors import InvalidArgumentError

__all__ = [
    "AbstractJobData",
    "AbstractJobProcessor",
    "decode_data",
    "encode_data_object",
    "retry",
]

D = TypeVar("D")
F = TypeVar("F", bound=Callable[..., Any])

# Names of AbstractJobProcessor's own helpers, never wrapped as processing methods.
_HELPERS = frozenset(("data_class", "deserialize_data_json"))


class AbstractJobData(ABC):
    """Job data that reads and writes its own JSON text."""

    @classmethod
    @abstractmethod
    def from_json(cls, data: str) -> Self:
        """The data decoded from the job's JSON text."""

    @abstractmethod
    def to_json(self) -> str:
        """The data as JSON text, stored as the job's data."""


def decode_data(data_class: type[D], text: str) -> D:
    """``text`` (a job's JSON data) as an instance of ``data_class``."""
    if isinstance(data_class, type) and issubclass(data_class, AbstractJobData):
        return data_class.from_json(text)
    validate = getattr(data_class, "model_validate_json", None)  # a pydantic 2 model
    if callable(validate):
        return validate(text)  # type: ignore[no-any-return]
    if dataclasses.is_dataclass(data_class):
        value = json.loads(text)
        if not isinstance(value, dict):
            raise InvalidArgumentError(
                f"job data for {data_class.__name__} must be a JSON object, got {text!r}"
            )
        return data_class(**value)
    from_json = getattr(data_class, "from_json", None)
    if callable(from_json):
        return from_json(text)  # type: ignore[no-any-return]
    raise InvalidArgumentError(
        f"cannot decode job data into {data_class!r}: expected an AbstractJobData subclass, "
        "a dataclass or a pydantic model"
    )


def encode_data_object(value: Any) -> str | None:
    """A data object's JSON text (AbstractJobData, pydantic model, dataclass), else None."""
    if isinstance(value, AbstractJobData):
        return value.to_json()
    dump = getattr(value, "model_dump_json", None)
    if callable(dump) and not isinstance(value, type):
        return dump()  # type: ignore[no-any-return]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json.dumps(dataclasses.asdict(value), separators=(",", ":"))
    return None


def _positional(function: Callable[..., Any]) -> list[inspect.Parameter]:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [param for param in parameters if param.kind in kinds]


class AbstractJobProcessor(ABC, Generic[D]):
    """A job class whose processing methods get the job and its data decoded.

    See the module's documentation for how the data class is found. A method
    taking only the job is called as usual; it may decode the data itself
    with :meth:`deserialize_data_json`.
    """

    # Each wrapped method's function and the index of its data parameter.
    _processing_methods: ClassVar[dict[str, tuple[Callable[..., Any], int]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._processing_methods = {}
        for name, member in list(vars(cls).items()):
            if name.startswith("_") or name in _HELPERS:
                continue
            wrapped = _with_data(cls, name, member)
            if wrapped is not None:
                setattr(cls, name, wrapped)

    @classmethod
    def data_class(cls) -> type[D]:
        """The class the job's data is decoded into: override to name it explicitly.

        Found from the type argument of a base (``AbstractJobProcessor[Size]``),
        else from the annotation of ``process``'s second parameter.
        """
        for klass in cls.__mro__:
            for base in getattr(klass, "__orig_bases__", ()):
                if typing.get_origin(base) is not None:
                    for argument in typing.get_args(base):
                        # Any is a class since Python 3.11: it names no data class.
                        if isinstance(argument, type) and argument is not Any:
                            return argument
        for klass in cls.__mro__:
            original = getattr(klass, "_processing_methods", {}).get("process")
            if original is not None:
                function, index = original
                name = _positional(function)[index].name
                found = typing.get_type_hints(function).get(name)
                if isinstance(found, type) and found is not Any:
                    return found
                break
        raise InvalidArgumentError(
            f"{cls.__qualname__} names no data class: subclass AbstractJobProcessor[YourData], "
            "override data_class(), or annotate process(job, data: YourData)"
        )

    @classmethod
    def deserialize_data_json(cls, data: str) -> D:
        """``data`` (a job's JSON text) decoded into :meth:`data_class`."""
        return decode_data(cls.data_class(), data)

    # ``process`` (or a method named after a queue) is the subclass's own, with the
    # signature it chooses, ``(job)`` or ``(job, data)``: not declared here.


def _with_data(cls: type[AbstractJobProcessor[Any]], name: str, member: Any) -> Any:
    """``member`` made to decode the data when called with the job alone, or None to keep it."""
    if isinstance(member, classmethod):
        function = member.__func__
        positional = _positional(function)[1:]  # after cls
    elif isinstance(member, staticmethod):
        function = member.__func__
        positional = _positional(function)
    elif inspect.isfunction(member):
        function = member
        positional = _positional(function)
    else:
        return None
    if len(positional) < 2:
        return None
    bound_class = isinstance(member, classmethod)
    cls._processing_methods[name] = (function, 2 if bound_class else 1)

    def arguments(owner: Any, job: Any, rest: tuple[Any, ...]) -> tuple[Any, ...]:
        if rest:
            return (job, *rest)
        return (job, owner.deserialize_data_json(job.data))

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            owner, (job, *rest) = (args[0], args[1:]) if bound_class else (cls, args)
            head = (owner,) if bound_class else ()
            return await function(*head, *arguments(owner, job, tuple(rest)), **kwargs)

        runner: Callable[..., Any] = run_async
    else:

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            owner, (job, *rest) = (args[0], args[1:]) if bound_class else (cls, args)
            head = (owner,) if bound_class else ()
            return function(*head, *arguments(owner, job, tuple(rest)), **kwargs)

        runner = run
    return classmethod(runner) if bound_class else staticmethod(runner)


def retry(*exceptions: type[BaseException]) -> Callable[[F], F]:
    """Decorate a job method: when it raises one of ``exceptions`` (any Exception if none
    are named), the job is retried (``job.retry()``) instead of failed.

    Works on sync and coroutine methods; keeps the method's ``__name__`` and ``__doc__``.
    """
    caught: tuple[type[BaseException], ...] = exceptions or (Exception,)

    def decorate(function: F) -> F:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(job: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    return await function(job, *args, **kwargs)
                except caught:
                    result = job.retry()
                    if inspect.isawaitable(result):
                        await result
                    return None

            return typing.cast(F, run_async)

        @functools.wraps(function)
        def run(job: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return function(job, *args, **kwargs)
            except caught:
                job.retry()
                return None

        return typing.cast(F, run)

    return decorate
