"""Turning what the server answers into text: aligned tables for people, JSON for scripts."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import reqless

__all__ = [
    "QUEUE_HEADER",
    "counts_row",
    "decoded",
    "emit_json",
    "failure_line",
    "field_lines",
    "job_dict",
    "moment",
    "one_line",
    "pretty",
    "record",
    "table",
    "warn",
]

# The widest a table cell may be: long messages and data are cut, not wrapped.
_CELL_MAX = 60
QUEUE_HEADER = ("QUEUE", "WAITING", "RUNNING", "STALLED", "SCHEDULED", "DEPENDS", "THROTTLED",
                "RECURRING", "PAUSED")  # fmt: skip


def emit_json(value: Any) -> None:
    """One JSON document on stdout (sorted keys, so output diffs cleanly)."""
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def record(value: Any) -> dict[str, Any]:
    """A reply dataclass (``QueueCounts``, ``WorkerCounts``, ...) as a plain dict."""
    return dataclasses.asdict(value)


def one_line(text: str, width: int = _CELL_MAX) -> str:
    """``text`` on one line, cut to ``width`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def failure_line(message: str) -> str:
    """The line of a failure message worth a table cell: the exception, not "Traceback ..."."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return ""
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        return lines[-1]
    return lines[0]


def moment(when: float | None) -> str:
    """A timestamp as local time to the second; empty for none."""
    if not when:
        return ""
    return datetime.fromtimestamp(float(when)).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def table(header: Sequence[str], rows: Iterable[Sequence[object]], empty: str) -> None:
    """Rows under a header, columns aligned (numbers to the right); ``empty`` if there are none."""
    raw = [list(row) for row in rows]
    if not raw:
        print(empty)
        return
    cells = [[_cell(value) for value in row] for row in raw]
    numeric = [
        all(isinstance(row[i], int) and not isinstance(row[i], bool) for row in raw)
        for i in range(len(header))
    ]
    widths = [max(len(header[i]), *(len(row[i]) for row in cells)) for i in range(len(header))]
    print(_line(header, widths, numeric))
    for row in cells:
        print(_line(row, widths, numeric))


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:g}"
    return one_line(str(value))


def _line(cells: Sequence[str], widths: Sequence[int], right: Sequence[bool]) -> str:
    parts = [
        cell.rjust(width) if align else cell.ljust(width)
        for cell, width, align in zip(cells, widths, right, strict=True)
    ]
    return "  ".join(parts).rstrip()


def counts_row(counts: reqless.QueueCounts) -> tuple[object, ...]:
    return (
        counts.name,
        counts.waiting,
        counts.running,
        counts.stalled,
        counts.scheduled,
        counts.depends,
        counts.throttled,
        counts.recurring,
        counts.paused,
    )


def job_dict(job: reqless.Job | reqless.RecurringJob) -> dict[str, Any]:
    """Every field of a job or recurring job, JSON-ready (``data`` decoded)."""
    common: dict[str, Any] = {
        "jid": job.jid,
        "klass": job.klass_name,
        "queue": job.queue_name,
        "state": job.state,
        "priority": job.priority,
        "retries": job.retries,
        "tags": job.tags,
        "throttles": job.throttles,
        "data": decoded(job.data),
    }
    if isinstance(job, reqless.RecurringJob):
        return common | {
            "recurring": True,
            "interval": job.interval,
            "count": job.count,
            "backlog": job.backlog,
        }
    failure = job.failure
    return common | {
        "recurring": False,
        "worker": job.worker_name,
        "expires": job.expires_at,
        "remaining": job.remaining,
        "tracked": job.tracked,
        "failure": None if failure is None else record(failure),
        "dependencies": job.dependencies,
        "dependents": job.dependents,
        "spawned_from_jid": job.spawned_from_jid,
        "history": job.history,
    }


def decoded(data: str) -> Any:
    """Job data decoded from its JSON text."""
    try:
        return json.loads(data)
    except ValueError:  # another client stored something that is not JSON: show it as text
        return data


def pretty(value: Any) -> str:
    """JSON for a person: indented, non-ASCII as is."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def field_lines(fields: Mapping[str, object]) -> None:
    """``name: value`` lines, names aligned; empty values left out."""
    shown = {name: value for name, value in fields.items() if value not in (None, "", [])}
    width = max((len(name) for name in shown), default=0)
    for name, value in shown.items():
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        print(f"{name + ':':<{width + 1}} {text}")


def warn(message: str) -> None:
    """A note for the person at the terminal, out of the way of piped output."""
    print(f"reqless: {message}", file=sys.stderr)
