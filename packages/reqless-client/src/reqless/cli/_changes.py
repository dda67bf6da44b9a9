"""The commands that change something: ``retry``, ``cancel``, ``put``, ``pause``,
``unpause`` and ``config``.

Commands given several names act on each in turn: one that fails is reported on
stderr and the others still happen; the exit code is then the worst one's. A
server that cannot be reached stops the command at once.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import reqless
from reqless.cli._exits import OK, CommandError, code_for
from reqless.cli._reads import did_you_mean, unknown_name
from reqless.cli._render import emit_json, table, warn

__all__ = ["cancel", "config", "pause", "put", "retry", "retry_group", "unpause"]

# Jobs read per round trip while a failure group is retried.
CHUNK = 500


class Outcome:
    """What a command did to each of its names, and the worst exit code among them."""

    def __init__(self) -> None:
        self.done: list[dict[str, Any]] = []
        self.errors: dict[str, str] = {}
        self.code = OK

    def failed(self, name: str, error: reqless.ReqlessError) -> None:
        if isinstance(error, reqless.ServerUnavailableError | reqless.EmbeddedServerError):
            raise error
        self.errors[name] = str(error)
        self.code = max(self.code, code_for(error))
        warn(str(error).splitlines()[0] if str(error) else type(error).__name__)

    def finish(self, args: argparse.Namespace, key: str) -> int:
        if args.json:
            emit_json({key: self.done, "errors": self.errors})
        return self.code


def retry_group(client: reqless.Client, group: str, into: str | None) -> int:
    """Unfail every job the group held when asked, oldest first; how many were moved.

    ``queue.unfail`` takes the group's oldest jobs into one queue, so the jobs
    go in runs of the same queue (or all into ``into``). Failures that arrive
    meanwhile join the group's other end and are left for the next retry.
    """
    wanted = client.jobs.failed(group, 0, 1).total
    done = 0
    while done < wanted:
        total = client.jobs.failed(group, 0, 1).total
        if total == 0:
            break
        # The listing is newest first: the tail holds the oldest jobs, which unfail takes.
        tail = client.jobs.failed(group, max(total - CHUNK, 0), CHUNK).jids
        oldest = list(reversed(tail))[: wanted - done]
        if not oldest:  # emptied by someone else between the two reads
            break
        jobs = {job.jid: job for job in client.jobs.get(*oldest)}
        queue = into or (jobs[oldest[0]].queue_name if oldest[0] in jobs else "")
        run = 0
        for jid in oldest:
            job = jobs.get(jid)
            if job is None or not (into or job.queue_name == queue):
                break
            run += 1
        if run == 0:
            # Unfail would write into a job hash that no longer exists, or into no queue.
            why = "no longer exists" if oldest[0] not in jobs else "names no queue (use --queue)"
            raise CommandError(
                f"retried {done} of {wanted} jobs of {group!r}: job {oldest[0]} {why}"
            )
        done += client.queues[queue].unfail(group, run)
    return done


def retry(client: reqless.Client, args: argparse.Namespace) -> int:
    outcome = Outcome()
    groups = client.jobs.failed()
    for target in dict.fromkeys(args.targets):
        try:
            if target in groups:
                count = retry_group(client, target, args.queue)
                outcome.done.append({"group": target, "count": count})
                if not args.json:
                    print(f"retried {count} jobs of {target!r}")
                continue
            job = client.jobs[target]
            if job is None:
                raise unknown_name("failure group or job", target, sorted(groups))
            if isinstance(job, reqless.RecurringJob):
                raise CommandError(f"{target} is a recurring job: it spawns its jobs by itself")
            queue = args.queue or job.queue_name
            if not queue:
                raise CommandError(f"job {target} is {job.state} in no queue; use --queue")
            job.requeue(queue)
            outcome.done.append({"jid": target, "queue": queue})
            if not args.json:
                print(f"retried {target} into {queue!r}")
        except reqless.ReqlessError as error:
            outcome.failed(target, error)
    return outcome.finish(args, "retried")


def cancel(client: reqless.Client, args: argparse.Namespace) -> int:
    outcome = Outcome()
    pending: list[reqless.Job | reqless.RecurringJob] = []
    for jid in dict.fromkeys(args.jids):
        try:
            job = client.jobs[jid]
            if job is None:
                raise reqless.JobNotFoundError(f"no job or recurring job {jid!r}")
            pending.append(job)
        except reqless.ReqlessError as error:
            outcome.failed(jid, error)
    # A job cannot be canceled while another depends on it: cancel what can be, then
    # try again the rest, so the order the jids were given in does not matter.
    refused: dict[str, reqless.ReqlessError] = {}
    while pending:
        refused = {}
        left = []
        for job in pending:
            try:
                job.cancel()
            except reqless.ReqlessError as error:
                refused[job.jid] = error
                left.append(job)
                continue
            outcome.done.append({"jid": job.jid})
            if not args.json:
                print(f"canceled {job.jid}")
        if len(left) == len(pending):
            break
        pending = left
    for jid, refusal in refused.items():
        outcome.failed(jid, refusal)
    return outcome.finish(args, "canceled")


def put(client: reqless.Client, args: argparse.Namespace) -> int:
    data = sys.stdin.read() if args.data == "-" else args.data
    tags = [tag.strip() for text in args.tags or () for tag in text.split(",") if tag.strip()]
    jid = client.queues[args.queue].put(
        args.klass,
        data,
        priority=args.priority,
        tags=tags or None,
        delay=args.delay,
        retries=args.retries,
        jid=args.jid,
        depends=args.depends,
        throttles=args.throttle,
    )
    if args.json:
        emit_json({"jid": jid, "queue": args.queue})
    else:
        print(jid)
    return OK


def _pausing(client: reqless.Client, args: argparse.Namespace, pause: bool) -> int:
    known = client.queues.names
    done = []
    for name in dict.fromkeys(args.queues):
        queue = client.queues[name]
        if pause:
            queue.pause()
        else:
            queue.unpause()
        done.append(name)
        verb = "paused" if pause else "unpaused"
        if name not in known:
            # Allowed (a queue can be paused before its first job), but usually a typo.
            warn(f"queue {name!r} has never had a job{did_you_mean(name, known)}; {verb} anyway")
        if not args.json:
            print(f"{verb} {name!r}")
    if args.json:
        emit_json({"paused" if pause else "unpaused": done})
    return OK


def pause(client: reqless.Client, args: argparse.Namespace) -> int:
    return _pausing(client, args, pause=True)


def unpause(client: reqless.Client, args: argparse.Namespace) -> int:
    return _pausing(client, args, pause=False)


def config(client: reqless.Client, args: argparse.Namespace) -> int:
    if args.key is None:
        if args.unset:
            raise reqless.InvalidArgumentError("--unset needs the KEY of the option to restore")
        options = client.config.all
        if args.json:
            emit_json(options)
        else:
            table(("KEY", "VALUE"), sorted(options.items()), "no options")
        return OK
    if args.unset and args.value is not None:
        raise reqless.InvalidArgumentError(f"--unset takes no VALUE, got {args.value!r}")
    if args.unset:
        del client.config[args.key]
        return _show_option(client, args, "restored")
    if args.value is not None:
        known = client.config.all
        if args.key not in known:
            hint = did_you_mean(args.key, sorted(known))
            warn(f"{args.key!r} is not one of the core's options{hint}; set anyway")
        client.config[args.key] = args.value
        return _show_option(client, args, "set")
    return _show_option(client, args, None)


def _show_option(client: reqless.Client, args: argparse.Namespace, verb: str | None) -> int:
    # The stored text, not config[key]'s decoded value: the CLI shows what the core keeps.
    options = client.config.all
    value: str | None = options.get(args.key)
    if value is None and verb is None:
        raise unknown_name("config option", args.key, sorted(options))
    if args.json:
        emit_json({"key": args.key, "value": value})
    elif verb is None:
        print(value)  # the bare value, for $(reqless config heartbeat)
    else:
        print(f"{verb} {args.key} = {value}" if value is not None else f"{verb} {args.key}")
    return OK
