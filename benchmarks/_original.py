"""The original reqless-py, as a same-run baseline for the benchmarks.

The issues state their speed targets against the original Python client,
worker and core (reqless-py 0.13.3 and the core script it ships), measured on
a machine whose speed this one only matches some of the time. Measuring the
original in the same run turns each target into a ratio that holds on any
machine. The original is installed from PyPI into a virtual environment of
its own (its import name is ours too), kept in ``~/.cache/reqless-bench``,
and only ever run from there: nothing of it is copied into this repository.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

RELEASE = "reqless==0.13.3"
CACHE = Path.home() / ".cache" / "reqless-bench"
VENV = CACHE / "original-venv"
PYTHON = VENV / "bin" / "python"
# The core script the original client loads, inside its installed package.
CORE_SCRIPT = Path("reqless") / "lua" / "qless.lua"


class Unavailable(Exception):
    """The original could not be installed here."""


def python() -> Path:
    """The interpreter of the original's environment, installed on first use."""
    marker = VENV / f"{RELEASE}.installed"
    if marker.exists():
        return PYTHON
    print(f"  original: installing {RELEASE} into {VENV}", file=sys.stderr, flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    # hiredis as for ours, so both clients parse replies the same way.
    installed = subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", RELEASE, "hiredis"],
        capture_output=True,
        text=True,
    )
    if installed.returncode != 0:
        raise Unavailable(f"pip install {RELEASE} failed: {installed.stderr.strip()[-300:]}")
    marker.touch()
    return PYTHON


def core_script() -> str:
    """The original core's EVAL script, read from the installed package."""
    where = "import pathlib, reqless; print(pathlib.Path(reqless.__file__).parents[1])"
    found = subprocess.run([str(python()), "-c", where], capture_output=True, text=True, check=True)
    return (Path(found.stdout.strip()) / CORE_SCRIPT).read_text()
