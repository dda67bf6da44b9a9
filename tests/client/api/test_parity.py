"""The asyncio API is the sync API as coroutines: same names, parameters and result types.

A sync property that reads the server is an asyncio coroutine method of the
same name without arguments (``queue.counts`` / ``await queue.counts()``), a
property setter is ``set_<name>`` there; the methods a sync class gets from
a :mod:`collections.abc` base (a mapping's ``keys``, ``pop``, ...) have no
asyncio twin. Everything else must match, annotations included, with a class
of one API standing for its twin of the other (``reqless.Job`` for
``reqless.aio.Job``).
"""

from __future__ import annotations

import collections.abc
import inspect
from typing import Any

import pytest

import reqless
import reqless.aio

TWINS = sorted(set(reqless.aio.__all__) & set(reqless.__all__))
# Sync-only members, each for a reason: a listener thread has no place on an event loop
# (``asyncio.create_task(events.listen())`` is its twin).
SYNC_ONLY = {("Events", "thread")}
# Members whose asyncio twin differs on purpose: reqless.aio.PopWaiter also serves a
# sync reqless.Client (the asyncio worker strategy runs sync jobs), so its pop returns
# either kind of Job; it shows as read-only properties what the sync waiter keeps as
# plain attributes.
DIFFER_ON_PURPOSE = {("PopWaiter", name) for name in ("pop", "queue", "wake_on", "woken_by")}
MAPPING_METHODS = {
    name
    for base in (collections.abc.MutableMapping, collections.abc.Iterable, collections.abc.Sized)
    for name in dir(base)
}


def _public(cls: type, sync_name: str = "") -> dict[str, Any]:
    """The public members of ``cls``; of sync class ``sync_name``, those with a twin."""
    return {
        name: inspect.getattr_static(cls, name)
        for name in dir(cls)
        if not name.startswith("_")
        and (sync_name, name) not in SYNC_ONLY
        and (cls.__name__, name) not in DIFFER_ON_PURPOSE
    }


def _normal(annotation: Any) -> str:
    """An annotation as text, each API's own class names made the same."""
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    for prefix in ("reqless.aio.", "aio."):
        text = text.replace(prefix, "")
    return text.replace("Awaitable[", "").replace("reqless.", "").replace("p.", "")


def _signature(function: Any) -> tuple[list[tuple[str, str, str, str]], str]:
    if isinstance(function, staticmethod | classmethod):
        function = function.__func__
    signature = inspect.signature(function)
    parameters = [
        (param.name, str(param.kind), repr(param.default), _normal(param.annotation))
        for param in signature.parameters.values()
    ]
    return parameters, _normal(signature.return_annotation)


def test_the_twins_are_known() -> None:
    assert {"Client", "Job", "Queue", "Jobs", "Events", "Config"} <= set(TWINS)


@pytest.mark.parametrize("name", TWINS)
def test_each_public_method_has_the_same_signature(name: str) -> None:
    sync, aio = getattr(reqless, name), getattr(reqless.aio, name)
    sync_members, aio_members = _public(sync, name), _public(aio)
    mapping = issubclass(sync, collections.abc.Mapping)
    problems = []
    for member, value in sync_members.items():
        if mapping and member in MAPPING_METHODS and member not in aio_members:
            continue
        # Closing is a coroutine named as asyncio names it.
        twin = aio_members.get("aclose" if member == "close" else member)
        if isinstance(value, property):
            if twin is None:
                problems.append(f"{member}: no asyncio twin of the property")
                continue
            settable = isinstance(twin, property) and twin.fset is not None
            if value.fset is not None and f"set_{member}" not in aio_members and not settable:
                problems.append(f"{member}: no set_{member} beside the asyncio twin")
            if isinstance(twin, property):
                continue
            parameters, returns = _signature(twin)
            if [p[0] for p in parameters] != ["self"] or returns != _normal(
                inspect.signature(value.fget).return_annotation  # type: ignore[arg-type]
            ):
                problems.append(f"{member}: the asyncio method is not the property's twin")
            continue
        if not callable(value) and not isinstance(value, staticmethod | classmethod):
            continue
        if twin is None:
            problems.append(f"{member}: no asyncio twin")
            continue
        if _signature(value) != _signature(twin):
            problems.append(f"{member}: {_signature(value)} != {_signature(twin)}")
    for member in aio_members.keys() - sync_members.keys():
        if not (member.startswith("set_") or member == "aclose"):
            problems.append(f"{member}: only in asyncio")
    assert not problems, "\n".join(problems)
