"""The pluggy markers of the ``reqless`` project.

Kept apart from ``hookspecs`` so the built-in plugins can import ``hookimpl``
without reading the specifications, and so both live under one project name.
"""

import pluggy

PROJECT_NAME = "reqless"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
