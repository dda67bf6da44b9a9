"""``reqless-web``: serve the dashboard with uvicorn.

Settings come from flags, then environment variables, then defaults; every
option's help names its variable and default. Without authentication everyone
is admin, so binding anything but a loopback address without auth is refused
unless ``--insecure`` says so.

Before serving, the URL, the driver and the credentials are checked: a bad one
ends the command at once with a one-line error and exit code 2, while a server
that is merely down is waited for, with a log line per backoff step.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging.config
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from reqless_web._settings import WebSettings

__all__ = ["UsageError", "is_loopback", "main", "wait_for_server"]

logger = logging.getLogger("reqless_web")

PROG = "reqless-web"
USAGE_ERROR = 2
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 30.0
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class UsageError(Exception):
    """A setting the command cannot run with; the message names it."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value else None


def _flag_env(env: Mapping[str, str], name: str) -> bool:
    return (env.get(name) or "").strip().lower() in ("1", "true", "yes", "on")


def parser(env: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    from reqless_web.__about__ import __version__

    env = os.environ if env is None else env
    cli = argparse.ArgumentParser(
        prog=PROG,
        description="Live operations dashboard, JSON API and metrics for reqless.",
        epilog="The CSRF signing secret comes from $REQLESS_WEB_SECRET only (default: random"
        " per process). Exit codes: 0 after a clean stop, 2 for a bad setting (usage, URL,"
        " driver, credentials).",
    )
    add = cli.add_argument
    add("--version", action="version", version=f"{PROG} {__version__}")
    add(
        "--url",
        default=_env(env, "REQLESS_URL"),
        help="server URL: redis://, rediss://, valkey://, unix://, embedded:PATH"
        " (default: redis://localhost:6379; env REQLESS_URL)",
    )
    add(
        "--driver",
        default=_env(env, "REQLESS_DRIVER"),
        help="client driver, redis or valkey (default: chosen by the URL's scheme, else the"
        " installed one; env REQLESS_DRIVER)",
    )
    add(
        "--host",
        default=_env(env, "REQLESS_WEB_HOST") or "127.0.0.1",
        help="address to bind (default: 127.0.0.1; env REQLESS_WEB_HOST)",
    )
    add(
        "--port",
        type=_port,
        default=_env(env, "REQLESS_WEB_PORT") or "8080",
        help="port to bind (default: 8080; env REQLESS_WEB_PORT)",
    )
    add(
        "--root-path",
        default=None,
        help="URL prefix when served under a path, e.g. /ops (default: none;"
        " env REQLESS_WEB_ROOT_PATH)",
    )
    add(
        "--insecure",
        action="store_true",
        default=_flag_env(env, "REQLESS_WEB_INSECURE"),
        help="allow binding a non-loopback address without authentication"
        " (default: off; env REQLESS_WEB_INSECURE=1)",
    )
    add(
        "--auth",
        choices=("none", "basic", "proxy"),
        default=None,
        help="none: everyone is admin; basic: HTTP basic users; proxy: a trusted reverse"
        " proxy names the user (default: none; env REQLESS_WEB_AUTH)",
    )
    add(
        "--user",
        action="append",
        default=None,
        metavar="NAME:PASSWORD:ROLE",
        help="a user (repeatable); roles viewer, operator, admin; NAME:ROLE in proxy mode."
        " Prefer the environment: flags show up in `ps` (default: none;"
        " env REQLESS_WEB_USERS, comma-separated)",
    )
    add(
        "--proxy-user-header",
        default=None,
        help="header the proxy names the user in (default: X-Forwarded-User;"
        " env REQLESS_WEB_PROXY_USER_HEADER)",
    )
    add(
        "--proxy-role-header",
        default=None,
        help="header the proxy names the role in; only set it if the proxy strips that"
        " header from clients' requests (default: none, roles come from --user or"
        " --proxy-default-role; env REQLESS_WEB_PROXY_ROLE_HEADER)",
    )
    add(
        "--proxy-default-role",
        choices=("viewer", "operator", "admin"),
        default=None,
        help="role of a proxy user not listed with --user (default: viewer;"
        " env REQLESS_WEB_PROXY_DEFAULT_ROLE)",
    )
    add(
        "--trusted-proxy",
        action="append",
        default=None,
        metavar="ADDRESS",
        help="address a reverse proxy connects from; only it may set the proxy and"
        " X-Forwarded-* headers (repeatable; default: 127.0.0.1 and ::1;"
        " env REQLESS_WEB_TRUSTED_PROXIES, comma-separated)",
    )
    add(
        "--allowed-host",
        action="append",
        default=None,
        metavar="NAME",
        help="host name the dashboard answers to in the Host header, * for any (repeatable;"
        " default: localhost, 127.0.0.1 and ::1; env REQLESS_WEB_ALLOWED_HOSTS,"
        " comma-separated)",
    )
    add(
        "--max-event-streams",
        type=int,
        default=None,
        metavar="N",
        help="live-update streams one user may hold open at once (default: 8;"
        " env REQLESS_WEB_MAX_EVENT_STREAMS)",
    )
    add(
        "--refresh",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds between count updates on the pages (default: 5; env REQLESS_WEB_REFRESH)",
    )
    add(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        default=(_env(env, "REQLESS_WEB_LOG_LEVEL") or "info").lower(),
        help="log level (default: info; env REQLESS_WEB_LOG_LEVEL)",
    )
    return cli


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port {text!r} is not a number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port {port} is not between 1 and 65535")
    return port


def options_from(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags give (only those given, so the environment fills the rest)."""
    options: dict[str, Any] = {}
    if args.auth is not None:
        options["auth"] = args.auth
    if args.user:
        options["users"] = ",".join(args.user)
    if args.proxy_user_header:
        options["proxy_user_header"] = args.proxy_user_header
    if args.proxy_role_header:
        options["proxy_role_header"] = args.proxy_role_header
    if args.proxy_default_role:
        options["proxy_default_role"] = args.proxy_default_role
    if args.trusted_proxy:
        options["trusted_proxies"] = tuple(args.trusted_proxy)
    if args.allowed_host:
        options["allowed_hosts"] = tuple(args.allowed_host)
    if args.max_event_streams is not None:
        options["max_event_streams"] = args.max_event_streams
    if args.root_path is not None:
        options["root_path"] = args.root_path.rstrip("/")
    if args.refresh is not None:
        options["refresh"] = args.refresh
    return options


def shown_url(url: str) -> str:
    """``url`` with its password replaced, for messages."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def _hide_password(text: str, url: str) -> str:
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


def wait_for_server(
    url: str,
    driver: str | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once the server at ``url`` answers a core call.

    A URL, driver or credentials that cannot work raise :class:`UsageError`; a
    server that does not answer is tried again, each wait twice the last (up to
    ``MAX_RETRY_SECONDS``), with a log line per wait.
    """
    import reqless

    shown = shown_url(url)
    delay = FIRST_RETRY_SECONDS
    while True:
        try:
            reqless.ClientSettings.from_url(url, driver)
            with reqless.Client(url, driver=driver) as client:
                # A core call, not a PING: it proves the credentials and the core too.
                client.config.get("application")
            return
        except (reqless.AuthenticationError, reqless.PermissionDeniedError) as exc:
            detail = _hide_password(str(exc), url)
            raise UsageError(f"the server at {shown} refused the credentials: {detail}") from exc
        except reqless.ServerUnavailableError as exc:
            detail = _hide_password(str(exc), url)
            logger.warning(
                "the reqless server at %s is not reachable (%s); trying again in %.1f s",
                shown,
                detail,
                delay,
            )
        except (reqless.UnknownDriverError, reqless.DriverNotInstalledError) as exc:
            raise UsageError(str(exc)) from exc
        except reqless.ReqlessError as exc:
            raise UsageError(f"cannot use {shown}: {_hide_password(str(exc), url)}") from exc
        except ValueError as exc:  # a malformed URL the URL parser itself refuses
            raise UsageError(f"bad server URL {shown}: {_hide_password(str(exc), url)}") from exc
        sleep(delay)
        delay = min(delay * 2, MAX_RETRY_SECONDS)


def _with_bound_host(settings: WebSettings, host: str) -> WebSettings:
    """Browsers reach a dashboard bound to a name or address by that name: allow it,
    unless the allowed hosts were chosen explicitly."""
    from reqless_web._settings import LOOPBACK_NAMES

    if settings.allowed_hosts != LOOPBACK_NAMES or is_loopback(host):
        return settings
    if host in ("0.0.0.0", "::", "[::]", ""):
        logger.warning(
            "serving every address, but only the host names %s are answered;"
            " name the others with --allowed-host (or * for any)",
            ", ".join(settings.allowed_hosts),
        )
        return settings
    return settings.with_options(allowed_hosts=(*settings.allowed_hosts, host))


def _fail(message: str) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(USAGE_ERROR)


def _configure_logging(level: str) -> None:
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
            "loggers": {"reqless_web": {"handlers": ["stderr"], "level": level.upper()}},
        }
    )


def main(argv: Sequence[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    # Imported after parsing, so --help and usage errors stay fast.
    import uvicorn

    from reqless_web._app import create_app
    from reqless_web._settings import WebSettings, WebSettingsError

    try:
        settings = WebSettings.from_env().with_options(**options_from(args))
    except WebSettingsError as exc:
        _fail(str(exc))
    if not settings.authenticated and not is_loopback(args.host) and not args.insecure:
        _fail(
            f"refusing to serve {args.host} without authentication: everyone would be admin."
            " Use --auth basic or --auth proxy, bind 127.0.0.1, or pass --insecure."
        )
    _configure_logging(args.log_level)
    settings = _with_bound_host(settings, args.host)
    url = args.url or "redis://localhost:6379"
    try:
        wait_for_server(url, args.driver)
    except UsageError as exc:
        _fail(str(exc))
    app = create_app(url, settings, driver=args.driver)
    logger.info(
        "reqless-web on http://%s:%d%s (auth %s), server %s",
        args.host,
        args.port,
        settings.root_path,
        settings.auth,
        shown_url(url),
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        # Not uvicorn's root_path: it assumes the proxy strips the prefix; the app
        # handles both kinds of proxy (see RootPathMiddleware).
        log_level=args.log_level,
        # The client address must stay the proxy's: trusted-proxy auth checks it, and
        # the app itself reads X-Forwarded-* from trusted proxies only.
        proxy_headers=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
