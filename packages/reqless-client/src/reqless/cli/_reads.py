"""The commands that only read: ``info``, ``jobs``, ``job`` and ``failed``."""

from __future__ import annotations

import argparse
import difflib
from typing import Any

import reqless
from reqless.cli._exits import OK, CommandError
from reqless.cli._render import (
    QUEUE_HEADER,
    counts_row,
    decoded,
    emit_json,
    failure_line,
    field_lines,
    job_dict,
    moment,
    pretty,
    record,
    table,
)

__all__ = [
    "did_you_mean",
    "failed",
    "fetch_jobs",
    "info",
    "job",
    "jobs",
    "print_snapshot",
    "snapshot",
    "unknown_name",
]

#: Jobs as listed: a queue's recurring jobs are templates, not jobs.
Listed = list[reqless.Job | reqless.RecurringJob]


def snapshot(client: reqless.Client) -> dict[str, Any]:
    """Every queue's counts, the workers and the failure groups, as ``info --json`` shows them."""
    return {
        "queues": [record(counts) for counts in client.queues.counts],
        "workers": [record(worker) for worker in client.workers.counts],
        "failed": client.jobs.failed(),
    }


def print_snapshot(found: dict[str, Any]) -> None:
    table(
        QUEUE_HEADER,
        [counts_row(reqless.QueueCounts(**counts)) for counts in found["queues"]],
        "no queues yet",
    )
    print()
    table(
        ("WORKER", "JOBS", "STALLED"),
        [(w["name"], w["jobs"], w["stalled"]) for w in found["workers"]],
        "no workers",
    )
    print()
    groups = sorted(found["failed"].items(), key=lambda item: (-item[1], item[0]))
    table(("FAILURE GROUP", "JOBS"), groups, "no failed jobs")


def info(client: reqless.Client, args: argparse.Namespace) -> int:
    found = snapshot(client)
    if args.json:
        emit_json(found)
    else:
        print_snapshot(found)
    return OK


def did_you_mean(name: str, known: list[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest known name, or nothing (typos are the usual
    reason a name matches nothing)."""
    close = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown_name(kind: str, name: str, known: list[str]) -> CommandError:
    """Not found, with the closest known name when there is one."""
    return CommandError(f"no {kind} {name!r}{did_you_mean(name, known)}")


def fetch_jobs(client: reqless.Client, jids: list[str]) -> Listed:
    """The jobs of ``jids`` in that order, in one round trip; jobs gone meanwhile are left out.

    Recurring jobs are not jobs to ``job.getMulti``: those are fetched one by one.
    """
    found = {job.jid: job for job in client.jobs.get(*jids)}
    out: Listed = []
    for jid in jids:
        job = found.get(jid) or client.jobs[jid]
        if job is not None:
            out.append(job)
    return out


def _listing(client: reqless.Client, args: argparse.Namespace) -> tuple[Listed, int]:
    """A page of the queue's jobs in ``args.state``, and how many there are in all."""
    queue = client.queues[args.queue]
    counts = queue.counts
    total = int(getattr(counts, args.state))
    if not args.limit:
        return [], total
    if args.state == "waiting":
        # The queue's work list (as counted: timed-out jobs included) in the order pop takes
        # it. Peek has no offset, so the head is cut off here; peek also shows the jobs
        # whose lock expired, which pop would reclaim first: they are listed as stalled.
        peeked = queue.peek(args.offset + args.limit + counts.stalled)
        ready = [found for found in peeked if found.state != "running"]
        return list(ready[args.offset : args.offset + args.limit]), total
    jids = getattr(queue.jobs, args.state)(args.offset, args.limit)
    return fetch_jobs(client, jids), total


def jobs(client: reqless.Client, args: argparse.Namespace) -> int:
    listed, total = _listing(client, args)
    if not listed and args.queue not in (names := client.queues.names):
        hint = did_you_mean(args.queue, names)
        raise CommandError(f"queue {args.queue!r} has never had a job{hint}")
    if args.json:
        emit_json(
            {
                "queue": args.queue,
                "state": args.state,
                "total": total,
                "offset": args.offset,
                "jobs": [job_dict(job) for job in listed],
            }
        )
        return OK
    where = f"in {args.queue!r}"
    if args.state == "recurring":
        table(
            ("JID", "KLASS", "EVERY", "SPAWNED", "PRIORITY", "TAGS"),
            [
                (j.jid, j.klass_name, f"{j.interval:g}s", j.count, j.priority, ",".join(j.tags))
                for j in listed
                if isinstance(j, reqless.RecurringJob)
            ],
            f"no recurring jobs {where}",
        )
    else:
        table(
            ("JID", "KLASS", "STATE", "PRIORITY", "WORKER", "TAGS"),
            [
                (j.jid, j.klass_name, j.state, j.priority, j.worker_name, ",".join(j.tags))
                for j in listed
                if isinstance(j, reqless.Job)
            ],
            f"no {args.state} jobs {where}",
        )
    if listed:
        last = args.offset + len(listed)
        print(f"{args.offset + 1}-{last} of {total} {args.state} {where}")
    return OK


def job(client: reqless.Client, args: argparse.Namespace) -> int:
    found = client.jobs[args.jid]
    if found is None:
        raise reqless.JobNotFoundError(f"no job or recurring job {args.jid!r}")
    if args.json:
        emit_json(job_dict(found))
    elif isinstance(found, reqless.RecurringJob):
        _print_recurring(found)
    else:
        _print_job(found)
    return OK


def _print_recurring(found: reqless.RecurringJob) -> None:
    field_lines(
        {
            "jid": found.jid,
            "klass": found.klass_name,
            "queue": found.queue_name,
            "state": "recurring",
            "every": f"{found.interval:g}s",
            "spawned": found.count,
            "priority": found.priority,
            "retries": found.retries,
            "backlog": found.backlog,
            "tags": found.tags,
            "throttles": found.throttles,
        }
    )
    print("data:")
    print(_indented(pretty(decoded(found.data))))


def _print_job(found: reqless.Job) -> None:
    running = found.state == "running"
    field_lines(
        {
            "jid": found.jid,
            "klass": found.klass_name,
            "state": found.state,
            "queue": found.queue_name,
            "worker": found.worker_name,
            "expires": f"{moment(found.expires_at)} (in {found.ttl:.0f}s)" if running else None,
            "priority": found.priority,
            "retries": f"{found.remaining} of {found.retries} left",
            "tags": found.tags,
            "throttles": found.throttles,
            "depends on": found.dependencies,
            "dependents": found.dependents,
            "tracked": "yes" if found.tracked else None,
            "spawned from": found.spawned_from_jid,
        }
    )
    print("data:")
    print(_indented(pretty(decoded(found.data))))
    failure = found.failure
    if failure is not None:
        print(f"failure: {failure.group} at {moment(failure.when)} on {failure.worker}")
        print(_indented(failure.message.rstrip()))
    if found.history:
        print("history:")
        for entry in found.history:
            rest = {k: v for k, v in entry.items() if k not in ("when", "what")}
            extra = " ".join(f"{k}={v}" for k, v in sorted(rest.items()))
            print(f"  {moment(entry.get('when'))}  {entry.get('what', '')}  {extra}".rstrip())


def _indented(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def failed(client: reqless.Client, args: argparse.Namespace) -> int:
    groups = client.jobs.failed()
    if args.group is None:
        if args.json:
            emit_json(groups)
        else:
            ranked = sorted(groups.items(), key=lambda item: (-item[1], item[0]))
            table(("FAILURE GROUP", "JOBS"), ranked, "no failed jobs")
        return OK
    page = client.jobs.failed(args.group, args.offset, args.limit) if args.limit else None
    if args.group not in groups and not (page and page.jids):
        raise unknown_name("failure group", args.group, sorted(groups))
    listed = fetch_jobs(client, page.jids) if page else []
    failures = [j for j in listed if isinstance(j, reqless.Job)]
    total = page.total if page else groups.get(args.group, 0)
    if args.json:
        emit_json(
            {
                "group": args.group,
                "total": total,
                "offset": args.offset,
                "jobs": [job_dict(j) for j in failures],
            }
        )
        return OK
    rows = [_failure_row(j) for j in failures]
    table(("JID", "KLASS", "QUEUE", "FAILED AT", "ERROR"), rows, f"no jobs in {args.group!r}")
    if rows:
        print(f"{args.offset + 1}-{args.offset + len(rows)} of {total} in {args.group!r}")
    return OK


def _failure_row(job: reqless.Job) -> tuple[str, ...]:
    failure = job.failure
    if failure is None:  # unfailed meanwhile
        return (job.jid, job.klass_name, job.queue_name, "", "")
    when = moment(failure.when)
    return (job.jid, job.klass_name, job.queue_name, when, failure_line(failure.message))
