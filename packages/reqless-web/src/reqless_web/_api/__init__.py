"""The JSON API under ``/api/v1``: reads, actions, bulk failure actions, OpenAPI, events."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

# Imported for their endpoint registrations, in table order.
from reqless_web._api import _actions, _bulk, _reads  # noqa: F401
from reqless_web._api._common import api_routes
from reqless_web._api._openapi import openapi_document
from reqless_web._events import events_endpoint

__all__ = ["API_PREFIX", "api_mount"]

API_PREFIX = "/api/v1"


async def openapi(request: Request) -> JSONResponse:
    root = request.scope.get("root_path", "")
    # Inside the mount, root_path already ends with the API prefix.
    return JSONResponse(openapi_document(root if root.endswith(API_PREFIX) else root + API_PREFIX))


def api_mount() -> Mount:
    routes: list[BaseRoute] = [
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/events", events_endpoint, methods=["GET"]),
        *api_routes(),
    ]
    return Mount(API_PREFIX, routes=routes)
