"""``reqless watch``: the info tables, redrawn every few seconds until stopped."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime

import reqless
from reqless.cli._exits import OK
from reqless.cli._reads import print_snapshot, snapshot

__all__ = ["watch"]

# Cursor home, then erase the screen: each frame replaces the last in a terminal.
_CLEAR = "\x1b[H\x1b[2J"


def watch(client: reqless.Client, args: argparse.Namespace) -> int:
    """Redraw until ``--count`` frames were shown or Ctrl-C (which is a normal end here).

    In a terminal each frame replaces the last; piped, frames follow each other
    (with ``--json``, one JSON object per line).
    """
    frames = 0
    try:
        while True:
            found = snapshot(client)
            stamp = datetime.now().astimezone()
            if args.json:
                found["time"] = stamp.isoformat(timespec="seconds")
                print(json.dumps(found, sort_keys=True), flush=True)
            else:
                _draw(found, stamp, args.interval, first=frames == 0)
            frames += 1
            if args.count is not None and frames >= args.count:
                return OK
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return OK


def _draw(found: dict[str, object], stamp: datetime, interval: float, *, first: bool) -> None:
    if sys.stdout.isatty():
        sys.stdout.write(_CLEAR)
    elif not first:
        print()
    print(f"reqless watch  {stamp:%Y-%m-%d %H:%M:%S}  every {interval:g}s, Ctrl-C to stop")
    print()
    print_snapshot(found)
    sys.stdout.flush()
