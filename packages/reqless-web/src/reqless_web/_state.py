"""What every route needs: the client and the settings, reached from the request.

``dashboard(request)`` is the one way pages, API routes and the event stream get
them, so a mounted app and a standalone one behave alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from reqless_web._limits import StreamCounts
from reqless_web._settings import Role, WebSettings

if TYPE_CHECKING:
    import reqless.aio
    from reqless_web._events import EventHub

__all__ = ["Dashboard", "csrf_token_of", "dashboard", "role_of", "root_path_of", "user_of"]


@dataclass
class Dashboard:
    client: reqless.aio.Client
    settings: WebSettings
    # True when create_app() opened the client from a URL and so must close it.
    owns_client: bool = False
    hub: EventHub | None = field(default=None, repr=False)
    # Event streams open per user, against settings.max_event_streams.
    streams: StreamCounts = field(default_factory=StreamCounts, repr=False)


def dashboard(connection: HTTPConnection) -> Dashboard:
    state: Dashboard = connection.app.state.reqless
    return state


def role_of(connection: HTTPConnection) -> Role:
    """The role the security middleware gave this request."""
    role: Role = connection.state.role
    return role


def user_of(connection: HTTPConnection) -> str | None:
    user: str | None = connection.state.user
    return user


def csrf_token_of(connection: HTTPConnection) -> str:
    """The token a page renders into ``<meta name="csrf-token">`` for its requests."""
    token: str = connection.state.csrf_token
    return token


def root_path_of(connection: HTTPConnection) -> str:
    """The prefix the dashboard is served under ("" at the root); every link starts with it."""
    root: str = connection.state.root_path
    return root
