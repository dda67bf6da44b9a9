"""The façade of reqless_web: a public name appearing or disappearing is a decision."""

from __future__ import annotations

import reqless_web

PUBLIC = [
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


def test_the_public_names_are_exactly_these() -> None:
    assert reqless_web.__all__ == PUBLIC


def test_every_public_name_resolves() -> None:
    for name in PUBLIC:
        assert getattr(reqless_web, name) is not None


def test_roles_are_ordered_viewer_operator_admin() -> None:
    assert reqless_web.Role.viewer < reqless_web.Role.operator < reqless_web.Role.admin
