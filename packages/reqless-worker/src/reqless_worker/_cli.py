"""``reqless-worker`` (and its alias ``reqless-py-worker``): the command line.

Only the standard library is imported until the chosen strategy has
bootstrapped (gevent monkey-patches there): the arguments are parsed, the
settings built and the strategy class found through its entry point first;
the client, the plugins and the supervisor are imported after.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from reqless_worker.__about__ import __version__

__all__ = ["main"]

PROG = "reqless-worker"
USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, for scripts and logs; --help has the rest.
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


SIGNALS = """\
signals (to the worker's main process; it passes them on to its children):
  TERM       drain: take no new job, let running ones finish for up to
             --drain-timeout, give back the rest, then exit 0
  INT, QUIT  stop now: interrupt running jobs and give them back to their queues
  HUP        replace every child (each after draining), e.g. to load new job code
signals to one child process (its pid is in the -v log; the main process would end):
  USR1       log the stack of every thread of that child
  USR2       open a debugger (pdb) in that child; needs its terminal
"""


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Run reqless jobs: pop them from queues, call their class, report the outcome.",
        epilog=SIGNALS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add(
        "-q",
        "--queue",
        dest="queues",
        action="append",
        metavar="QUEUE",
        help="queue to serve; also globs (ema*, !x) and @identifier patterns (repeatable;"
        " default: none, one is required; env REQLESS_QUEUES, comma-separated)",
    )
    add(
        "--url",
        help="server URL: redis://, rediss://, valkey://, unix://, embedded:PATH"
        " (default: redis://localhost:6379; env REQLESS_URL)",
    )
    add(
        "--host",
        help="server host, for compatibility: prefer --url"
        " (default: localhost; env REQLESS_URL gives the whole URL)",
    )
    add(
        "--port",
        type=int,
        help="server port, for compatibility: prefer --url"
        " (default: 6379; env REQLESS_URL gives the whole URL)",
    )
    add(
        "--driver",
        help="client driver: redis or valkey"
        " (default: chosen by the URL's scheme, else the installed one; env REQLESS_DRIVER)",
    )
    add(
        "-n",
        "--name",
        help="worker name; children pop as NAME-<n>"
        " (default: <hostname>-<pid>; env REQLESS_WORKER_NAME)",
    )
    add(
        "-w",
        "--workers",
        type=int,
        help="child processes (default: the CPU count; env REQLESS_WORKERS)",
    )
    add(
        "-c",
        "--concurrency",
        "-g",
        "--greenlets",
        dest="concurrency",
        type=int,
        help="jobs at once per child, for gevent, trio and asyncio (default: 10 for those,"
        " 1 for process; env REQLESS_CONCURRENCY)",
    )
    add(
        "--strategy",
        help="how children run jobs: process, gevent, trio, asyncio, ..."
        " (default: process, see --list-strategies; env REQLESS_STRATEGY)",
    )
    add(
        "--loop",
        choices=("asyncio", "uvloop"),
        help="event loop for --strategy asyncio; uvloop must be installed"
        " (default: asyncio; env REQLESS_LOOP)",
    )
    add(
        "-i",
        "--interval",
        type=float,
        metavar="SECONDS",
        help="seconds between polls when idle (default: 1.0; env REQLESS_INTERVAL)",
    )
    add(
        "-p",
        "--path",
        dest="paths",
        action="append",
        metavar="PATH",
        help="add PATH to sys.path to find job classes"
        f" (repeatable; default: none; env REQLESS_PATHS, {os.pathsep}-separated)",
    )
    add(
        "--no-cwd-path",
        dest="cwd_path",
        action="store_false",
        default=None,
        help="do not put the current directory on sys.path (default: it is there, after the"
        " -p paths, so job modules beside the worker are found; env REQLESS_CWD_PATH=0)",
    )
    add(
        "-m",
        "--import",
        dest="imports",
        action="append",
        metavar="MODULE",
        help="import MODULE in each child before it starts"
        " (repeatable; default: none; env REQLESS_IMPORTS, comma-separated)",
    )
    add(
        "-d",
        "--workdir",
        help="directory for the sandboxes (default: the current directory; env REQLESS_WORKDIR)",
    )
    add(
        "-r",
        "--resume",
        action="store_true",
        default=None,
        help="first run the jobs this worker name still holds (default: off; env REQLESS_RESUME=1)",
    )
    add(
        "-v",
        "--verbose",
        action="store_true",
        default=None,
        help="log at DEBUG level, with each job's start and end"
        " (default: INFO; env REQLESS_VERBOSE=1)",
    )
    add(
        "-l",
        "--log-file",
        help="also log to this file (default: stderr only; env REQLESS_LOG_FILE)",
    )
    add(
        "--max-jobs",
        type=int,
        metavar="N",
        help="exit after N jobs, all children together (default: no limit; env REQLESS_MAX_JOBS)",
    )
    add(
        "--max-jobs-per-child",
        type=int,
        metavar="N",
        help="replace a child after N jobs (default: no limit; env REQLESS_MAX_JOBS_PER_CHILD)",
    )
    add(
        "--drain-timeout",
        type=float,
        metavar="SECONDS",
        help="on TERM, how long running jobs may finish before being given back"
        " (default: 30; env REQLESS_DRAIN_TIMEOUT)",
    )
    add(
        "--plugin",
        dest="plugins",
        action="append",
        metavar="NAME",
        help="load only these plugins (repeatable; default: every installed plugin,"
        " see --list-plugins; env REQLESS_PLUGINS, comma-separated)",
    )
    add(
        "--no-plugin",
        dest="disabled_plugins",
        action="append",
        metavar="NAME",
        help="do not load this plugin"
        " (repeatable; default: none; env REQLESS_DISABLED_PLUGINS, comma-separated)",
    )
    add(
        "--reload",
        dest="reload",
        action="store_true",
        default=None,
        help="reimport a job's module when its source file changed"
        " (default: off; env REQLESS_RELOAD=1)",
    )
    add(
        "--no-reload",
        dest="reload",
        action="store_false",
        help="never reimport, whatever REQLESS_RELOAD says (default: off; env REQLESS_RELOAD=0)",
    )
    add(
        "--burst",
        action="store_true",
        default=None,
        help="work until every queue is empty, then exit 0"
        " (default: off, serve forever; env REQLESS_BURST=1)",
    )
    add(
        "--no-wakeup", dest="wakeup", action="store_false", default=None, help=argparse.SUPPRESS
    )  # benchmarks' polling baseline
    add("--list-strategies", action="store_true", help="show the installed strategies and exit")
    add("--list-plugins", action="store_true", help="show the installed plugins and exit")
    add("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _settings_arguments(args: argparse.Namespace) -> dict[str, Any]:
    url = args.url
    if url is None and (args.host is not None or args.port is not None):
        url = f"redis://{args.host or 'localhost'}:{args.port or 6379}"
    return {
        "queues": tuple(args.queues) if args.queues else None,
        "url": url,
        "driver": args.driver,
        "name": args.name,
        "workers": args.workers,
        "concurrency": args.concurrency,
        "strategy": args.strategy,
        "loop": args.loop,
        "interval": args.interval,
        "paths": tuple(os.path.abspath(p) for p in args.paths) if args.paths else None,
        "cwd_path": args.cwd_path,
        "imports": tuple(args.imports) if args.imports else None,
        "workdir": args.workdir,
        "resume": args.resume,
        "verbose": args.verbose,
        "log_file": args.log_file,
        "max_jobs": args.max_jobs,
        "max_jobs_per_child": args.max_jobs_per_child,
        "drain_timeout": args.drain_timeout,
        "plugins": tuple(args.plugins) if args.plugins else None,
        "disabled_plugins": tuple(args.disabled_plugins) if args.disabled_plugins else None,
        "reload": args.reload,
        "wakeup": args.wakeup,
        "burst": args.burst,
    }


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)

    from reqless_worker.strategies import available_strategies, load_strategy

    if args.list_strategies:
        for name, value in available_strategies().items():
            print(f"{name}\t{value}")
        return 0
    if args.list_plugins:
        from reqless_plugins import available_plugins

        for name, value in available_plugins().items():
            print(f"{name}\t{value}")
        return 0

    from pathlib import Path

    from reqless_worker._settings import WorkerSettings

    given = _settings_arguments(args)
    if given["workdir"] is not None:
        given["workdir"] = Path(given["workdir"]).absolute()
    try:
        settings = WorkerSettings.from_env(**given)
    except ValueError as exc:
        return _fail(str(exc))
    if not settings.queues:
        return _fail("no queue to serve: give -q QUEUE (or set REQLESS_QUEUES)")
    if settings.name is None:
        settings = settings.with_changes(name=f"{socket.gethostname()}-{os.getpid()}")
    if settings.cwd_path:
        # A console script's sys.path[0] is its bin directory, not where it was started.
        # Children insert the paths in order at the front of sys.path, so -p paths win.
        with contextlib.suppress(OSError):  # a deleted working directory
            settings = settings.with_changes(paths=(os.getcwd(), *settings.paths))
    try:
        strategy_class = load_strategy(settings.strategy)
    except LookupError as exc:
        return _fail(str(exc))
    except ImportError as exc:
        return _fail(f"strategy {settings.strategy!r} cannot be imported: {exc}")
    strategy_class.bootstrap()
    return _run(settings, strategy_class)


def _run(settings: Any, strategy_class: Any) -> int:
    """Everything after bootstrap: plugins, logging, the supervisor."""
    import logging.config

    from reqless_plugins import PluginError, PluginManager
    from reqless_worker._supervisor import Supervisor
    from reqless_worker._unknown_queues import warn_about_unknown_queues

    try:
        plugins = PluginManager.load(settings.plugins, settings.disabled_plugins)
    except PluginError as exc:
        return _fail(str(exc))
    logging.config.dictConfig(plugins.logging_config(settings.verbose, settings.log_file))
    problem = _check_server(settings)
    if problem is not None:
        return _fail(problem)
    warn_about_unknown_queues(settings)
    return Supervisor(settings, strategy_class(settings)).run()


def _check_server(settings: Any) -> str | None:
    """What is wrong with the URL, driver or credentials (None: the server answered).

    Checked once, before any child is forked: a bad setting would otherwise
    crash every child, again and again. A server that is merely down is waited
    for (a log line per backoff step). The connection is closed before forking.
    """
    import reqless
    from reqless import commands
    from reqless_worker._outage import Outage, server_name

    try:
        client = reqless.Client(settings.url, driver=settings.driver, worker_name=settings.name)
    except reqless.ReqlessError as exc:
        url = server_name(settings.url) if settings.url else "(default)"
        return f"cannot use --url {url} with --driver {settings.driver or '(default)'}: {exc}"
    where = server_name(client.settings.url)
    try:
        Outage(f"the server at {where}").retry(
            lambda: client.execute(commands.core("config.get", "heartbeat"))
        )
    except reqless.AuthenticationError as exc:
        return f"the server at {where} refused the credentials: {exc}"
    except reqless.PermissionDeniedError as exc:
        return f"the server at {where} refused a command reqless needs: {exc}"
    except reqless.ReqlessError as exc:
        return f"the server at {where} cannot serve reqless: {exc}"
    except KeyboardInterrupt:
        return "interrupted while waiting for the server"
    finally:
        client.close()
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
