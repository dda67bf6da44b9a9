"""``reqless``'s entry point: parse, connect, run one command, turn errors into exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import reqless
from reqless.cli._exits import INTERRUPTED, OK, USAGE, code_for
from reqless.cli._parser import build_parser

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``reqless`` with ``argv`` (default: the process's arguments); the exit code.

    Every error a user can cause ends in one line on stderr naming what was
    wrong, never a traceback.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # --help and --version (0), or a usage error argparse printed (2)
        return exit.code if isinstance(exit.code, int) else (OK if exit.code is None else USAGE)
    args.json = getattr(args, "json", False)
    try:
        with reqless.Client(
            getattr(args, "url", None), driver=getattr(args, "driver", None)
        ) as client:
            code: int = args.run(client, args)
            return code
    except reqless.ReqlessError as error:
        print(f"reqless: {_one_line(error)}", file=sys.stderr)
        return code_for(error)
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        # The reader (`| head`) stopped reading: that is not an error of ours. Point stdout
        # at nothing so the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK


def _one_line(error: reqless.ReqlessError) -> str:
    """The error's first line, the core's words without the server's wrapping."""
    text = error.detail or error.message or type(error).__name__
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
