"""The OpenAPI 3 document, generated from the endpoint table."""

from __future__ import annotations

import re
from typing import Any

from reqless_web.__about__ import __version__
from reqless_web._api._common import ENDPOINTS, Endpoint

__all__ = ["openapi_document"]

_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
ERROR = {"$ref": "#/components/responses/Error"}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
    "Job": {
        "type": "object",
        "description": "A job (reqless protocol 2.6); `data` is the job's JSON text",
        "properties": {
            "jid": {"type": "string"},
            "klass": {"type": "string"},
            "state": {"type": "string"},
            "queue": {"type": "string"},
            "worker": {"type": "string"},
            "tracked": {"type": "boolean"},
            "priority": {"type": "integer"},
            "expires": {"type": "number"},
            "retries": {"type": "integer"},
            "remaining": {"type": "integer"},
            "data": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "history": {"type": "array", "items": {"type": "object"}},
            "failure": {
                "type": ["object", "null"],
                "properties": {
                    "group": {"type": "string"},
                    "message": {"type": "string"},
                    "when": {"type": "number"},
                    "worker": {"type": "string"},
                },
            },
            "throttles": {"type": "array", "items": {"type": "string"}},
            "spawned_from_jid": {"type": ["string", "null"]},
            "dependents": {"type": "array", "items": {"type": "string"}},
            "dependencies": {"type": "array", "items": {"type": "string"}},
        },
    },
    "RecurringJob": {
        "type": "object",
        "properties": {
            "jid": {"type": "string"},
            "klass": {"type": "string"},
            "state": {"type": "string"},
            "queue": {"type": "string"},
            "priority": {"type": "integer"},
            "interval": {"type": "number"},
            "retries": {"type": "integer"},
            "count": {"type": "integer"},
            "data": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "backlog": {"type": "integer"},
            "throttles": {"type": "array", "items": {"type": "string"}},
        },
    },
    "QueueCounts": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            **{
                state: {"type": "integer"}
                for state in (
                    "waiting",
                    "stalled",
                    "running",
                    "throttled",
                    "scheduled",
                    "depends",
                    "recurring",
                )
            },
            "paused": {"type": "boolean"},
        },
    },
}


def openapi_document(server_url: str = "/api/v1") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for item in ENDPOINTS:
        paths.setdefault(_PARAM.sub(r"{\1}", item.path), {})[item.method.lower()] = _operation(item)
    paths.setdefault("/events", {})["get"] = {
        "summary": "Server-sent events: the core's pub/sub and a `counts` snapshot every few s",
        "operationId": "events",
        "x-required-role": "viewer",
        "responses": {"200": {"description": "text/event-stream"}, "401": ERROR},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "reqless-web",
            "version": __version__,
            "description": (
                "JSON API of the reqless dashboard. Mutating requests need the"
                " `X-CSRF-Token` header (see `GET /session`) and the role each operation names."
            ),
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": {
                "Error": {
                    "description": "The error, naming the bad value",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            },
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        },
    }


def _operation(item: Endpoint) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(item.path)
    ]
    parameters += [
        {
            "name": param.name,
            "in": "query",
            "required": param.required,
            "description": param.description,
            "schema": {"type": param.type},
        }
        for param in item.query
    ]
    operation: dict[str, Any] = {
        "summary": item.summary,
        "operationId": item.handler.__name__,
        "x-required-role": item.role.name,
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": dict(item.returns)}},
            },
            "400": ERROR,
            "401": ERROR,
            "403": ERROR,
            "404": ERROR,
            "503": ERROR,
        },
    }
    if item.body:
        operation["requestBody"] = {
            "content": {
                "application/json": {"schema": {"type": "object", "properties": dict(item.body)}}
            }
        }
    return operation
