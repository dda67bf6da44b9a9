"""The JSON API under ``/api/v1``: reads, actions, bulk failure actions, OpenAPI, events."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route, request_response
from starlette.types import Receive, Scope, Send

# Imported for their endpoint registrations, in table order.
from reqless_web._api import _actions, _bulk, _lists, _reads  # noqa: F401
from reqless_web._api._common import api_routes
from reqless_web._api._openapi import openapi_document
from reqless_web._events import events_endpoint
from reqless_web._state import dashboard, user_of

__all__ = ["API_PREFIX", "api_mount"]

API_PREFIX = "/api/v1"


async def openapi(request: Request) -> JSONResponse:
    root = request.scope.get("root_path", "")
    # Inside the mount, root_path already ends with the API prefix.
    return JSONResponse(openapi_document(root if root.endswith(API_PREFIX) else root + API_PREFIX))


class CappedEventStream:
    """``GET /events`` with at most ``max_event_streams`` streams open per user.

    A stream holds a connection for as long as the page is open; without a cap
    one user (or one script) could hold as many as the server accepts. Without
    authentication everyone is the same user, so the client address counts.
    """

    def __init__(self) -> None:
        self.app = request_response(events_endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        state = dashboard(request)
        user = user_of(request)
        key = f"user:{user}" if user is not None else f"address:{request.state.client_address}"
        cap = state.settings.max_event_streams
        if not state.streams.acquire(key, cap):
            response = JSONResponse(
                {"error": f"at most {cap} event streams may be open at once; close a tab"},
                status_code=429,
            )
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            state.streams.release(key)


def api_mount() -> Mount:
    routes: list[BaseRoute] = [
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/events", CappedEventStream(), methods=["GET"]),
        *api_routes(),
    ]
    return Mount(API_PREFIX, routes=routes)
