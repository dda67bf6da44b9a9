"""The reference core: the Lua script inside the ``reqless==0.13.3`` wheel on PyPI.

It is downloaded at test time into ``~/.cache/reqless-core-reference`` (``pip
download``, no install) and read out of the wheel; nothing of it is kept in this
repository. It predates the spec's command names: ``to_reference`` translates a
spec call into the call the reference understands, or None when it has no such
command.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

RELEASE = "reqless==0.13.3"
WHEEL = "reqless-0.13.3-py3-none-any.whl"
CACHE = Path.home() / ".cache" / "reqless-core-reference"
# The script the 0.13.3 client loads with SCRIPT LOAD, inside the wheel.
SCRIPT_IN_WHEEL = "reqless/lua/qless.lua"


class Unavailable(Exception):
    """The reference core could not be had on this machine."""


def script() -> str:
    """The reference core's EVAL script, downloaded on first use."""
    wheel = CACHE / WHEEL
    if not wheel.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        fetched = subprocess.run(
            [
                sys.executable,
                *("-m", "pip", "download", "--quiet", "--no-deps", RELEASE),
                *("--only-binary", ":all:", "--dest", str(CACHE)),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if fetched.returncode != 0 or not wheel.exists():
            raise Unavailable(f"pip download {RELEASE} failed: {fetched.stderr.strip()[-300:]}")
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(SCRIPT_IN_WHEEL).decode()
    except (zipfile.BadZipFile, KeyError) as error:
        wheel.unlink(missing_ok=True)
        raise Unavailable(f"{wheel}: {error}") from None


# Spec command -> the reference's name and the words put before the arguments.
_RENAMED: dict[str, tuple[str, tuple[str, ...]]] = {
    "config.get": ("config.get", ()),
    "config.set": ("config.set", ()),
    "config.unset": ("config.unset", ()),
    "failureGroups.counts": ("failed", ()),
    "job.addDependency": ("depends", ()),  # jid on deps...
    "job.addTag": ("tag", ("add",)),
    "job.cancel": ("cancel", ()),
    "job.complete": ("complete", ()),
    "job.fail": ("fail", ()),
    "job.get": ("get", ()),
    "job.getMulti": ("multiget", ()),
    "job.heartbeat": ("heartbeat", ()),
    "job.log": ("log", ()),
    "job.removeDependency": ("depends", ()),  # jid off deps...
    "job.removeTag": ("tag", ("remove",)),
    "job.requeue": ("requeue", ()),
    "job.retry": ("retry", ()),
    "job.setPriority": ("priority", ()),
    "job.timeout": ("timeout", ()),
    "job.track": ("track", ("track",)),
    "job.untrack": ("track", ("untrack",)),
    "jobs.completed": ("jobs", ("complete",)),
    "jobs.failedByGroup": ("failed", ()),
    "jobs.tagged": ("tag", ("get",)),
    "jobs.tracked": ("track", ()),
    "queue.counts": ("queues", ()),
    "queue.forget": ("queue.forget", ()),
    "queue.jobsByState": ("jobs", ()),
    "queue.length": ("length", ()),
    "queue.pause": ("pause", ()),
    "queue.peek": ("peek", ()),
    "queue.pop": ("pop", ()),
    "queue.put": ("put", ()),
    "queue.stats": ("stats", ()),
    "queue.throttle.get": ("queue.throttle.get", ()),
    "queue.throttle.set": ("queue.throttle.set", ()),
    "queue.unfail": ("unfail", ()),
    "queue.unpause": ("unpause", ()),
    "queues.counts": ("queues", ()),
    "recurringJob.addTag": ("recur.tag", ()),
    "recurringJob.cancel": ("unrecur", ()),
    "recurringJob.get": ("recur.get", ()),
    "recurringJob.removeTag": ("recur.untag", ()),
    "recurringJob.update": ("recur.update", ()),
    "tags.top": ("tag", ("top",)),
    "throttle.delete": ("throttle.delete", ()),
    "throttle.get": ("throttle.get", ()),
    "throttle.locks": ("throttle.locks", ()),
    "throttle.pending": ("throttle.pending", ()),
    "throttle.release": ("throttle.release", ()),
    "throttle.set": ("throttle.set", ()),
    "worker.forget": ("worker.deregister", ()),
    "worker.jobs": ("workers", ()),
    "workers.counts": ("workers", ()),
}


def compared(command: str) -> bool:
    """Whether the reference has the command (the rest are left out of the comparison)."""
    return command in _RENAMED or command in ("job.completeAndRequeue", "queue.recurAtInterval")


def to_reference(command: str, args: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The reference's spelling of a spec call (``compared(command)`` must hold)."""
    if command == "job.completeAndRequeue":
        # complete jid worker queue data next <next> [options...]
        if len(args) < 5:
            return "complete", args
        return "complete", (*args[:4], "next", args[4], *args[5:])
    if command == "queue.recurAtInterval":
        # recur queue jid klass data interval <interval> <offset> [options...]
        if len(args) < 5:
            return "recur", args
        return "recur", (*args[:4], "interval", *args[4:])
    if command in ("job.addDependency", "job.removeDependency"):
        # depends jid on|off deps...
        if not args:
            return "depends", args
        return "depends", (args[0], "on" if command == "job.addDependency" else "off", *args[1:])
    name, before = _RENAMED[command]
    return name, (*before, *args)


# ---------------------------------------------------------------------------
# Where the 0.13.3 core writes or answers in an older shape than the spec's, its
# side is translated to the spec's before comparing (each declared in
# DEVIATIONS.md; test_against_reference.TRANSLATED names the sections).

# Spec 1.6: these send an empty top-level list as `[]`; the 0.13.3 core sends `{}`.
EMPTY_LIST_AS_ARRAY = frozenset(
    {
        "job.addTag",
        "job.getMulti",
        "job.removeTag",
        "jobs.completed",
        "queue.jobsByState",
        "queue.peek",
        "queue.pop",
        "queues.counts",
        "tags.top",
        "throttle.locks",
        "throttle.pending",
        "workers.counts",
    }
)


def _put_entry_to_spec(details: Any) -> Any:
    # Spec 2.5: a `put` history entry names its queue `queue`; the 0.13.3 core wrote `q`.
    if isinstance(details, dict) and "q" in details and "queue" not in details:
        details = {("queue" if key == "q" else key): value for key, value in details.items()}
    return details


def _history_to_spec(value: Any) -> Any:
    """Job objects inside a parsed reply, with their `put` entries in the spec's shape."""
    if isinstance(value, list):
        return [_history_to_spec(item) for item in value]
    if isinstance(value, dict):
        out = {key: _history_to_spec(item) for key, item in value.items()}
        if isinstance(out.get("history"), list):
            out["history"] = [
                _put_entry_to_spec(entry)
                if isinstance(entry, dict) and entry.get("what") == "put"
                else entry
                for entry in out["history"]
            ]
        return out
    return value


def reply_to_spec(command: str, value: Any) -> Any:
    """The reference's reply (JSON parsed) in the spec's shape."""
    if command in EMPTY_LIST_AS_ARRAY and value == {}:
        return []
    return _history_to_spec(value)


def keys_to_spec(keys: dict[str, tuple[str, Any]]) -> dict[str, tuple[str, Any]]:
    """The reference's keys (as ``fuzz.snapshot`` reads them) in the spec's shape."""
    out = dict(keys)
    for key, (kind, value) in keys.items():
        if kind == "list" and key.startswith("ql:j:") and key.endswith("-history"):
            out[key] = (
                kind,
                [
                    [*entry[:2], _put_entry_to_spec(entry[2])]
                    if isinstance(entry, list) and len(entry) == 3 and entry[1] == "put"
                    else entry
                    for entry in value
                ],
            )
    return out
