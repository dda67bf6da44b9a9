"""The reqless Lua core, in the two forms a server can run.

``eval_script()`` is the script for ``SCRIPT LOAD`` / ``EVALSHA``;
``function_library()`` is the library for ``FUNCTION LOAD`` / ``FCALL``.

In a checkout of the monorepo (an editable install) both are built from
``reqless-core/lib`` at call time, so an edit to the Lua is picked up without
reinstalling. An installed wheel reads the copies its build hook bundled here.
"""

from __future__ import annotations

import importlib.util
import re
from importlib.resources import files
from pathlib import Path
from types import ModuleType

__all__ = [
    "EVAL_SCRIPT_FILE",
    "FUNCTION_LIBRARY_FILE",
    "eval_script",
    "function_library",
    "library_id",
]

# These names are shared with hatch_build.py, which writes the files.
EVAL_SCRIPT_FILE = "reqless.lua"
FUNCTION_LIBRARY_FILE = "reqless-function.lua"


def _monorepo_build_file() -> Path | None:
    """``reqless-core/build.py`` when this module runs from the monorepo's source tree."""
    here = Path(__file__).resolve()
    # .../packages/reqless-client/src/reqless/_lua/__init__.py
    package_root = here.parents[3]
    if here.parents[2].name != "src" or not (package_root / "hatch_build.py").is_file():
        return None
    build_file = package_root.parents[1] / "reqless-core" / "build.py"
    return build_file if build_file.is_file() else None


def _load_build_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("_reqless_core_build", path)
    if spec is None or spec.loader is None:  # pragma: no cover - only on a broken checkout
        raise ImportError(f"cannot load the core build script {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read_bundled(name: str) -> str:
    resource = files(__name__).joinpath(name)
    if not resource.is_file():
        raise FileNotFoundError(
            f"the bundled core {name} is missing from the reqless package; "
            "reinstall reqless-client (its build hook writes this file)"
        )
    return resource.read_text(encoding="utf-8")


def _serve(builder: str, bundled: str) -> str:
    build_file = _monorepo_build_file()
    if build_file is None:
        return _read_bundled(bundled)
    return str(getattr(_load_build_module(build_file), builder)())


def eval_script() -> str:
    """The core as one script, for ``EVALSHA <sha> 0 <command> <now> args...``."""
    return _serve("eval_script", EVAL_SCRIPT_FILE)


def function_library() -> str:
    """The core as a library, for ``FCALL reqless 0 <command> <now> args...``."""
    return _serve("function_library", FUNCTION_LIBRARY_FILE)


_LIBRARY_ID = re.compile(r"function_name='reqless_version', callback=function\(\) return '([^']+)'")


def library_id(library: str | None = None) -> str:
    """The id (``<version>+<digest>``) that ``FCALL_RO reqless_version 0`` answers
    when this library is the one loaded; read from ``library`` (default: the
    current ``function_library()``)."""
    text = function_library() if library is None else library
    found = _LIBRARY_ID.search(text)
    if found is None:  # pragma: no cover - only with a broken build
        raise ValueError("the function library does not declare its version")
    return found.group(1)
