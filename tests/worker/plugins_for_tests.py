"""A third-party strategy and plugin, published by the tests through a ``*.dist-info``.

Imported by worker processes through their entry points, never by the tests
themselves: the recorder's log file comes from the environment of the worker.
"""

from __future__ import annotations

import os
from pathlib import Path

from reqless_plugins.testing import HookRecorder
from reqless_worker._control import ChildControl
from reqless_worker.strategies.process import ProcessStrategy

#: Every hook call of every child, one JSON line each, in the file the test chose.
recorder = HookRecorder(Path(os.environ.get("REQLESS_TEST_HOOK_LOG", os.devnull)))


class MarkingStrategy(ProcessStrategy):
    """The process strategy, leaving a mark that proves it was the one chosen."""

    name = "marking"

    def run_child(self, slot: int, stop: ChildControl) -> int:
        Path(os.environ["REQLESS_TEST_MARK"]).write_text(f"{self.name} {slot}")
        return super().run_child(slot, stop)
