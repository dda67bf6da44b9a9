"""The command line: every command, option and help line of ``reqless``."""

from __future__ import annotations

import argparse

import reqless
from reqless.cli import _changes, _reads, _watch
from reqless.cli._exits import SUMMARY

__all__ = ["DEFAULT_LIMIT", "STATES", "build_parser"]

#: The listing's states: ``waiting`` comes from a peek, the others from the queue's state lists.
STATES = ("waiting", "running", "scheduled", "stalled", "depends", "recurring", "throttled")
DEFAULT_LIMIT = 25
DEFAULT_INTERVAL = 2.0


def _default_url() -> str:
    # The Client's own default, read from its public settings rather than copied here.
    return reqless.ClientSettings.from_url(environ={}).url


def _common() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name (``reqless --json info`` or
    ``reqless info --json``). SUPPRESS keeps a subcommand from resetting a value given
    before it."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="server: redis://, rediss://, unix://, valkey://, valkeys:// or embedded:PATH "
        f"(env REQLESS_URL; default {_default_url()})",
    )
    common.add_argument(
        "--driver",
        default=argparse.SUPPRESS,
        metavar="NAME",
        help="client library: redis or valkey (env REQLESS_DRIVER; default: valkey for "
        "valkey:// URLs, else redis-py if installed, else valkey-py)",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print JSON for scripts instead of tables (no env var; default off)",
    )
    return common


def _paging(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument(
        "--offset",
        type=_count,
        default=0,
        metavar="N",
        help=f"skip the first N {what} (no env var; default 0)",
    )
    command.add_argument(
        "--limit",
        type=_count,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show at most N {what} (no env var; default {DEFAULT_LIMIT})",
    )


def _count(text: str) -> int:
    """A whole number >= 0, or argparse's one-line usage error naming the text."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def _positive(text: str) -> int:
    value = _count(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):  # `not >=` also refuses NaN
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number of seconds >= 0")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="reqless",
        description="Inspect and steer reqless queues, jobs and workers from a shell.",
        epilog=SUMMARY,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"reqless {reqless.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=summary, description=summary, parents=[common], epilog=SUMMARY
        )
        return sub

    info = command("info", "queues with their counts, workers and failure groups")
    info.set_defaults(run=_reads.info)

    jobs = command("jobs", "the jobs of a queue in one state")
    jobs.add_argument("queue", metavar="QUEUE", help="the queue's name")
    jobs.add_argument(
        "--state",
        choices=STATES,
        default="waiting",
        help="which jobs (no env var; default waiting)",
    )
    _paging(jobs, "jobs")
    jobs.set_defaults(run=_reads.jobs)

    job = command("job", "one job (or recurring job) with every field and its history")
    job.add_argument("jid", metavar="JID", help="the job's id")
    job.set_defaults(run=_reads.job)

    failed = command("failed", "failure groups with their counts, or the jobs of one group")
    failed.add_argument("group", nargs="?", metavar="GROUP", help="a failure group's name")
    _paging(failed, "jobs of the group")
    failed.set_defaults(run=_reads.failed)

    retry = command(
        "retry",
        "put failed jobs back to run again: every job of a failure group, or jobs by jid",
    )
    retry.add_argument("targets", nargs="+", metavar="GROUP|JID", help="failure groups or jids")
    retry.add_argument(
        "--queue",
        metavar="QUEUE",
        default=None,
        help="into this queue (no env var; default: each job's own queue)",
    )
    retry.set_defaults(run=_changes.retry)

    cancel = command("cancel", "cancel jobs (or recurring jobs) by jid")
    cancel.add_argument("jids", nargs="+", metavar="JID", help="the jobs' ids")
    cancel.set_defaults(run=_changes.cancel)

    put = command("put", "put a job into a queue; prints its jid")
    put.add_argument("queue", metavar="QUEUE", help="the queue's name")
    put.add_argument(
        "klass", metavar="KLASS", help="the job class's dotted path, e.g. app.jobs.Send"
    )
    put.add_argument(
        "data",
        nargs="?",
        default="{}",
        metavar="DATA",
        help="the job's data as JSON text, or - to read it from stdin (default {})",
    )
    put.add_argument(
        "--priority", type=_integer, default=None, metavar="N",
        help="higher runs first (no env var; default 0, or the existing job's)",
    )  # fmt: skip
    put.add_argument(
        "--delay", type=_seconds, default=0.0, metavar="SECONDS",
        help="run no sooner than this many seconds from now (no env var; default 0)",
    )  # fmt: skip
    put.add_argument(
        "--tags", action="append", default=None, metavar="TAG[,TAG...]",
        help="tags, comma-separated or repeated (no env var; default none)",
    )  # fmt: skip
    put.add_argument(
        "--retries", type=_count, default=None, metavar="N",
        help="times the job may be retried (no env var; default 5, or the existing job's)",
    )  # fmt: skip
    put.add_argument(
        "--jid", default=None,
        help="the job's id; an existing job with it is replaced (no env var; default: new id)",
    )  # fmt: skip
    put.add_argument(
        "--depends", action="append", default=None, metavar="JID",
        help="run only after this job completes; repeatable (no env var; default none)",
    )  # fmt: skip
    put.add_argument(
        "--throttle", action="append", default=None, metavar="NAME",
        help="a throttle the job must hold to run; repeatable (no env var; default none)",
    )  # fmt: skip
    put.set_defaults(run=_changes.put)

    for name, summary, run in (
        ("pause", "stop handing out a queue's jobs (running ones go on)", _changes.pause),
        ("unpause", "hand out a paused queue's jobs again", _changes.unpause),
    ):
        pausing = command(name, summary)
        pausing.add_argument("queues", nargs="+", metavar="QUEUE", help="queue names")
        pausing.set_defaults(run=run)

    config = command("config", "the core's options: all of them, one, or set one (KEY VALUE)")
    config.add_argument("key", nargs="?", metavar="KEY", help="an option's name")
    config.add_argument("value", nargs="?", metavar="VALUE", help="the value to set")
    config.add_argument(
        "--unset",
        action="store_true",
        help="restore KEY's default (no env var; default off)",
    )
    config.set_defaults(run=_changes.config)

    watch = command("watch", "a live table of the queues, workers and failures, refreshed")
    watch.add_argument(
        "--interval", type=_seconds, default=DEFAULT_INTERVAL, metavar="SECONDS",
        help=f"seconds between refreshes (no env var; default {DEFAULT_INTERVAL:g})",
    )  # fmt: skip
    bounded = watch.add_mutually_exclusive_group()
    bounded.add_argument(
        "--count", type=_positive, default=None, metavar="N",
        help="stop after N refreshes (no env var; default: until Ctrl-C)",
    )  # fmt: skip
    bounded.add_argument(
        "--once", action="store_const", const=1, dest="count",
        help="show one table and exit, as --count 1 (no env var; default off)",
    )  # fmt: skip
    watch.set_defaults(run=_watch.watch)
    return parser
