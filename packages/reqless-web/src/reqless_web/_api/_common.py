"""The API's plumbing: the endpoint table, role checks, error answers, input parsing, shapes.

Every endpoint is declared once, with ``endpoint(...)``; the Starlette routes and
the OpenAPI document are both generated from that table, so they cannot drift.
A handler returns plain JSON-able data or raises :class:`ApiError`; errors of the
client are translated here, at one border.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import reqless
import reqless.aio
from reqless_web._settings import Role
from reqless_web._state import role_of

__all__ = [
    "ENDPOINTS",
    "ApiError",
    "Endpoint",
    "Param",
    "api_routes",
    "body_of",
    "bool_field",
    "counts_json",
    "endpoint",
    "int_field",
    "job_json",
    "number_field",
    "paging",
    "recurring_json",
    "str_field",
    "str_list_field",
]

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Any]]
MAX_LIMIT = 500
MAX_BODY_BYTES = 1 << 20
#: Job data and bodies nest at most this deep; deeper is refused, not a RecursionError.
MAX_JSON_DEPTH = 64


class ApiError(Exception):
    """Answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Param:
    """A query parameter, for the OpenAPI document."""

    name: str
    type: str = "integer"
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    role: Role
    summary: str
    query: tuple[Param, ...] = ()
    # Request body fields (name -> JSON schema) for the OpenAPI document.
    body: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Response JSON schema for the OpenAPI document.
    returns: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})


ENDPOINTS: list[Endpoint] = []


def endpoint(
    method: str,
    path: str,
    *,
    summary: str,
    role: Role | None = None,
    query: Sequence[Param] = (),
    body: Mapping[str, Mapping[str, Any]] | None = None,
    returns: Mapping[str, Any] | None = None,
) -> Callable[[Handler], Handler]:
    """Register a handler; reads need a viewer unless ``role`` says otherwise."""

    def register(handler: Handler) -> Handler:
        needed = role if role is not None else Role.viewer
        if method != "GET" and role is None:
            raise TypeError(f"{method} {path} must name the role it needs")
        ENDPOINTS.append(
            Endpoint(
                method,
                path,
                handler,
                needed,
                summary,
                tuple(query),
                body or {},
                returns or {"type": "object"},
            )
        )
        return handler

    return register


def api_routes() -> list[Route]:
    """One Route per path, dispatching on the method."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for item in ENDPOINTS:
        by_path.setdefault(item.path, {})[item.method] = item
    # A `{name:path}` parameter matches slashes too, so `/queues/{queue:path}/jobs`
    # must be tried before `/queues/{queue:path}`: paths ending in a parameter go last.
    ordered = sorted(by_path, key=lambda path: path.endswith("}"))
    routes = [
        Route(path, _dispatcher(by_path[path]), methods=list(by_path[path])) for path in ordered
    ]
    # Unknown API paths answer in JSON like every other API error.
    routes.append(Route("/{rest:path}", _not_found, methods=["GET", "POST", "PUT", "DELETE"]))
    return routes


async def _not_found(request: Request) -> Response:
    return error_response(404, f"no API endpoint {request.method} {request.url.path}")


def _dispatcher(methods: Mapping[str, Endpoint]) -> Callable[[Request], Awaitable[Response]]:
    async def dispatch(request: Request) -> Response:
        item = methods.get(request.method) or methods.get("GET")
        assert item is not None  # Starlette only routes the declared methods here
        try:
            role = role_of(request)
            if role < item.role:
                raise ApiError(
                    403,
                    f"{item.method} {item.path} needs the {item.role.name} role;"
                    f" you are {role.name}",
                )
            result = await item.handler(request)
        except ApiError as exc:
            return error_response(exc.status, exc.message)
        except reqless.ReqlessError as exc:
            status, message = translate(exc)
            if status >= 500:
                logger.warning("%s %s: %s", request.method, request.url.path, exc)
            return error_response(status, message)
        if isinstance(result, Response):
            return result
        return JSONResponse(result, headers={"cache-control": "no-store"})

    return dispatch


def translate(exc: reqless.ReqlessError) -> tuple[int, str]:
    if isinstance(exc, reqless.JobNotFoundError):
        return 404, exc.detail
    if isinstance(exc, reqless.ServerUnavailableError | reqless.PermissionDeniedError):
        return 503, f"the reqless server is unavailable: {exc.detail}"
    return 400, exc.detail


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


# --------------------------------------------------------------------------- input


def paging(request: Request, default_limit: int = 25) -> tuple[int, int]:
    return (
        query_int(request, "offset", 0, minimum=0),
        query_int(request, "limit", default_limit, minimum=1, maximum=MAX_LIMIT),
    )


def query_int(
    request: Request,
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw!r}") from None
    return _bounded(name, value, minimum, maximum)


def _bounded(name: str, value: int, minimum: int | None, maximum: int | None) -> int:
    if minimum is not None and value < minimum:
        raise ApiError(400, f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ApiError(400, f"{name} must be at most {maximum}, got {value}")
    return value


async def body_of(request: Request) -> dict[str, Any]:
    """The JSON object sent; an empty body is ``{}``.

    Reading stops at ``MAX_BODY_BYTES``: a larger body is refused, not buffered.
    """
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except RecursionError:
        value = None
        too_deep = True
    except ValueError as exc:
        raise ApiError(400, f"request body is not JSON: {exc}") from None
    else:
        too_deep = _depth_over(value, MAX_JSON_DEPTH)
    if too_deep:
        raise ApiError(400, f"request body nests deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(value, dict):
        raise ApiError(400, f"request body must be a JSON object, got {type(value).__name__}")
    return value


def _depth_over(value: Any, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` levels (looked at without recursion,
    so what passes here cannot hit the recursion limit later, when it is encoded)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


_MISSING = object()


def _get(body: Mapping[str, Any], name: str, required: bool) -> Any:
    value = body.get(name, _MISSING)
    if value is _MISSING and required:
        raise ApiError(400, f"{name} is required")
    return value


def int_field(
    body: Mapping[str, Any],
    name: str,
    *,
    required: bool = True,
    minimum: int | None = None,
) -> int | None:
    value = _get(body, name, required)
    if value is _MISSING:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{name} must be an integer, got {json.dumps(value)}")
    return _bounded(name, value, minimum, None)


def number_field(
    body: Mapping[str, Any], name: str, *, required: bool = True, positive: bool = False
) -> float | None:
    value = _get(body, name, required)
    if value is _MISSING:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ApiError(400, f"{name} must be a number, got {json.dumps(value)}")
    if positive and value <= 0:
        raise ApiError(400, f"{name} must be greater than 0, got {value}")
    return value


def str_field(body: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = _get(body, name, required)
    if value is _MISSING:
        return None
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"{name} must be a non-empty string, got {json.dumps(value)}")
    return value


def bool_field(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false, got {json.dumps(value)}")
    return value


def str_list_field(
    body: Mapping[str, Any], name: str, *, required: bool = True, allow_empty: bool = False
) -> list[str] | None:
    value = _get(body, name, required)
    if value is _MISSING:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ApiError(400, f"{name} must be a list of non-empty strings, got {json.dumps(value)}")
    if not value and not allow_empty:
        raise ApiError(400, f"{name} must not be empty")
    return value


def path_param(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    return value


# --------------------------------------------------------------------------- shapes


def job_json(job: reqless.aio.Job) -> dict[str, Any]:
    """A job as protocol 2.6 names its fields; lists are lists, no failure is ``null``.

    ``data`` stays the JSON text the core holds: it is shown, not interpreted.
    """
    failure = job.failure
    return {
        "jid": job.jid,
        "klass": job.klass_name,
        "state": job.state,
        "queue": job.queue_name,
        "worker": job.worker_name,
        "tracked": job.tracked,
        "priority": job.priority,
        "expires": job.expires_at,
        "retries": job.retries,
        "remaining": job.remaining,
        "data": job.data,
        "tags": job.tags,
        "history": job.history,
        "failure": asdict(failure) if failure is not None else None,
        "throttles": job.throttles,
        "spawned_from_jid": job.spawned_from_jid,
        "dependents": job.dependents,
        "dependencies": job.dependencies,
    }


def recurring_json(job: reqless.aio.RecurringJob) -> dict[str, Any]:
    return {
        "jid": job.jid,
        "klass": job.klass_name,
        "state": job.state,
        "queue": job.queue_name,
        "priority": job.priority,
        "interval": job.interval,
        "retries": job.retries,
        "count": job.count,
        "data": job.data,
        "tags": job.tags,
        "backlog": job.backlog,
        "throttles": job.throttles,
    }


def counts_json(counts: reqless.QueueCounts) -> dict[str, Any]:
    return asdict(counts)


def stats_json(stats: reqless.QueueStats) -> dict[str, Any]:
    return asdict(stats)


_SAFE_NAME = re.compile(r"[^\x00-\x1f\x7f]+")


def check_name(kind: str, value: str) -> str:
    """Names from the URL: non-empty and free of control characters."""
    if not _SAFE_NAME.fullmatch(value):
        raise ApiError(400, f"{kind} {value!r} is empty or contains control characters")
    return value
