"""Build hook: bundle the reqless Lua core into the client package.

Before a wheel, an sdist or an editable install is built, the monorepo's
``reqless-core/build.py`` writes both forms of the core into
``src/reqless/_lua/``. The files are git-ignored and listed as build artifacts
so that the wheel and the sdist carry them anyway.

An sdist unpacked outside the monorepo has no ``reqless-core``: it already
carries the two files, which are then used as they are. An editable install
does not need the files (``reqless._lua`` builds from the Lua at call time), so
there a core that does not build yet is a warning rather than a failed install.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# Output file -> function of reqless-core/build.py that produces its text.
# The file names must match reqless/_lua/__init__.py.
OUTPUTS = {
    "reqless.lua": "eval_script",
    "reqless-function.lua": "function_library",
}


class CoreBuildHook(BuildHookInterface[BuilderConfig]):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        out_dir = root / "src" / "reqless" / "_lua"
        build_file = root.parents[1] / "reqless-core" / "build.py"
        if not build_file.is_file():
            missing = [name for name in OUTPUTS if not (out_dir / name).is_file()]
            if missing:
                raise RuntimeError(
                    f"cannot build the reqless core: {build_file} does not exist and "
                    f"{', '.join(missing)} were not shipped in {out_dir}"
                )
            return
        try:
            texts = _build_core(build_file)
        except Exception as exc:
            if version != "editable":
                raise
            self.app.display_warning(
                f"reqless core not bundled ({type(exc).__name__}: {exc}); the editable "
                "install builds it from reqless-core/lib when it is asked for"
            )
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            (out_dir / name).write_text(text, encoding="utf-8")
        self.app.display_info(f"bundled the reqless core into {out_dir}")


def _build_core(build_file: Path) -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("_reqless_core_build", build_file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {build_file}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: str(getattr(module, builder)()) for name, builder in OUTPUTS.items()}
