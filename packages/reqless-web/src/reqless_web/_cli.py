"""``reqless-web``: serve the dashboard with uvicorn.

Settings come from flags, then ``REQLESS_WEB_*`` environment variables, then
defaults. Without authentication everyone is admin, so binding anything but
a loopback address without auth is refused unless ``--insecure`` says so.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging.config
import os
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["is_loopback", "main"]

logger = logging.getLogger("reqless_web")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="reqless-web",
        description="Live operations dashboard, JSON API and metrics for reqless.",
    )
    cli.add_argument(
        "--url",
        default=os.environ.get("REQLESS_URL"),
        help="server URL: redis://, valkey://, unix://, embedded:PATH (default: $REQLESS_URL,"
        " else redis://localhost:6379)",
    )
    cli.add_argument("--driver", default=None, help="client driver: redis or valkey")
    cli.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    cli.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    cli.add_argument("--root-path", default=None, help="URL prefix when served under a path")
    cli.add_argument(
        "--insecure",
        action="store_true",
        help="allow binding a non-loopback address without authentication",
    )
    cli.add_argument("--auth", choices=("none", "basic", "proxy"), default=None)
    cli.add_argument(
        "--user",
        action="append",
        default=None,
        metavar="NAME:PASSWORD:ROLE",
        help="a user (repeatable); roles viewer, operator, admin. NAME:ROLE in proxy mode."
        " Prefer $REQLESS_WEB_USERS (comma-separated): flags show up in `ps`.",
    )
    cli.add_argument("--proxy-user-header", default=None)
    cli.add_argument("--proxy-role-header", default=None)
    cli.add_argument(
        "--trusted-proxy",
        action="append",
        default=None,
        metavar="ADDRESS",
        help="address the proxy connects from (repeatable; default 127.0.0.1 and ::1)",
    )
    cli.add_argument("--refresh", type=float, default=None, help="seconds between count updates")
    cli.add_argument("--log-level", default="info")
    return cli


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
    if args.trusted_proxy:
        options["trusted_proxies"] = tuple(args.trusted_proxy)
    if args.root_path is not None:
        options["root_path"] = args.root_path.rstrip("/")
    if args.refresh is not None:
        options["refresh"] = args.refresh
    return options


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
        cli.error(str(exc))
    if not settings.authenticated and not is_loopback(args.host) and not args.insecure:
        cli.error(
            f"refusing to serve {args.host} without authentication: everyone would be admin."
            " Use --auth basic or --auth proxy, bind 127.0.0.1, or pass --insecure."
        )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
            "loggers": {"reqless_web": {"handlers": ["stderr"], "level": args.log_level.upper()}},
        }
    )
    app = create_app(args.url or "redis://localhost:6379", settings, driver=args.driver)
    logger.info(
        "reqless-web on http://%s:%d%s (auth %s)",
        args.host,
        args.port,
        settings.root_path,
        settings.auth,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        # Not uvicorn's root_path: it assumes the proxy strips the prefix; the app
        # handles both kinds of proxy (see RootPathMiddleware).
        log_level=args.log_level,
        # The client address must stay the proxy's: trusted-proxy auth checks it.
        proxy_headers=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
