"""``create_app``: the dashboard as one Starlette application.

It can run alone (``reqless-web``) or be mounted inside another ASGI app. Mounted
apps get no lifespan events from Starlette, so nothing here depends on start-up:
the event hub starts with its first listener and the client is opened eagerly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

import reqless.aio
from reqless_web._api import API_PREFIX, api_mount
from reqless_web._metrics import metric_routes
from reqless_web._pages import page_routes
from reqless_web._security import SecurityMiddleware
from reqless_web._settings import WebSettings
from reqless_web._state import Dashboard

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"


def create_app(
    client: reqless.aio.Client | str,
    settings: WebSettings | None = None,
    *,
    driver: str | None = None,
    **options: Any,
) -> Starlette:
    """The dashboard app for ``client`` (or a URL the app opens and closes itself).

    ``options`` replace fields of ``settings`` (default: ``WebSettings.from_env()``),
    e.g. ``create_app(url, auth="basic", users="ann:secret:admin")``. ``driver``
    names the client driver when ``client`` is a URL.
    """
    base = settings if settings is not None else WebSettings.from_env()
    settings = base.with_options(**options) if options else base
    owns = isinstance(client, str)
    aio_client = reqless.aio.Client(client, driver=driver) if isinstance(client, str) else client
    state = Dashboard(client=aio_client, settings=settings, owns_client=owns)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await close_dashboard(state)

    app = Starlette(routes=routes(), middleware=middleware(settings), lifespan=lifespan)
    app.state.reqless = state
    app.router.default = not_found
    return app


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """What no route matched. Under the API that is a JSON error like every API error:
    a path no route pattern can match (an encoded newline, say) ends here, not in
    the API's own catch-all."""
    if scope["type"] != "http":
        await WebSocketClose()(scope, receive, send)
        return
    root: str = scope.get("root_path", "")
    path: str = scope["path"]
    inner = path[len(root) :] if root and path.startswith(root) else path
    response: Response
    if inner == API_PREFIX or inner.startswith(API_PREFIX + "/"):
        response = JSONResponse({"error": f"no API endpoint {scope['method']} {path!r}"}, 404)
    else:
        response = PlainTextResponse("Not Found", status_code=404)
    await response(scope, receive, send)


def routes() -> list[BaseRoute]:
    return [
        api_mount(),
        *metric_routes(),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        *page_routes(),
    ]


def middleware(settings: WebSettings) -> list[Middleware]:
    stack = [Middleware(SecurityMiddleware, settings=settings)]
    if settings.root_path:
        stack.insert(0, Middleware(RootPathMiddleware, root_path=settings.root_path))
    return stack


class RootPathMiddleware:
    """Serve under ``root_path`` whether or not the proxy in front strips it.

    ASGI wants ``path`` to include ``root_path``. A proxy that forwards
    ``/ops/queues`` as is already gives that; one that strips the prefix gives
    ``/queues``, which is put back here. Direct requests to ``/ops/...`` work too.
    """

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not scope.get("root_path"):
            root = self.root_path
            path: str = scope["path"]
            scope = dict(scope, root_path=root)
            if path != root and not path.startswith(root + "/"):
                scope["path"] = root + path
                scope["raw_path"] = root.encode() + scope.get("raw_path", path.encode())
        await self.app(scope, receive, send)


async def close_dashboard(state: Dashboard) -> None:
    if state.hub is not None:
        await state.hub.aclose()
    if state.owns_client:
        await state.client.aclose()
