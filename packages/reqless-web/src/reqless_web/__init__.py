"""reqless-web: a live operations dashboard, JSON API and metrics for reqless.

The public API is exported here and only here.
"""

from reqless_web.__about__ import __version__
from reqless_web._app import create_app
from reqless_web._settings import Role, User, WebSettings, WebSettingsError
from reqless_web._state import (
    Dashboard,
    csrf_token_of,
    dashboard,
    role_of,
    root_path_of,
    user_of,
)

__all__ = [
    "Dashboard",
    "Role",
    "User",
    "WebSettings",
    "WebSettingsError",
    "__version__",
    "create_app",
    "csrf_token_of",
    "dashboard",
    "role_of",
    "root_path_of",
    "user_of",
]
