"""Build the reqless core from its Lua modules.

Standard library only, so it runs anywhere Python does::

    python reqless-core/build.py --out reqless.lua              # EVAL script
    python reqless-core/build.py --function --out reqless-fn.lua  # FUNCTION LOAD library

Both forms are concatenations of the same modules in ``lib/``; only the last
lines differ: the EVAL script dispatches ``KEYS``/``ARGV`` straight away, the
Function library registers one function (``reqless``) that dispatches its
arguments the same way.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIB = HERE / "lib"

# Concatenation order: every module may use what the modules before it define.
MODULES = (
    "base.lua",
    "config.lua",
    "stats.lua",
    "history.lua",
    "throttle.lua",
    "job.lua",
    "job_commands.lua",
    "queue.lua",
    "queue_commands.lua",
    "listings.lua",
    "recurring.lua",
    "patterns.lua",
    "workers.lua",
    "commands.lua",
)

FUNCTION_LIBRARY = "reqless"
FUNCTION_NAME = "reqless"
VERSION_FUNCTION = "reqless_version"
SERVER_CLOCK_FUNCTION = "reqless_server_clock"

_BLOCK_COMMENT = re.compile(r"--\[(=*)\[.*?\]\1\]", re.DOTALL)


def version() -> str:
    """The core's version, from ``reqless-core/VERSION``."""
    return (HERE / "VERSION").read_text().strip()


def strip_comments(source: str) -> str:
    """Drop block comments, whole-line comments and blank lines.

    Trailing comments after code are kept: telling them apart from ``--``
    inside a string literal needs a Lua lexer, and they cost nothing at run time.
    """
    source = _BLOCK_COMMENT.sub("", source)
    kept = []
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept)


# `function Table.name(` or `Table.name =` at the start of a line: a field a
# module table gets while the modules load.
_MEMBER = re.compile(r"^(?:function\s+)?([A-Z]\w*)\.(\w+)\s*[(=]", re.MULTILINE)
# A module table's declaration in base.lua.
_DECLARATION = re.compile(r"^local ([A-Z]\w*) = \{\}$", re.MULTILINE)


def presize(source: str) -> str:
    """Declare each module table with every field its modules give it.

    The EVAL form builds every module table anew on each call. A table made
    empty grows by rehashing each time it fills; one made by a constructor
    that names all its fields (as nil, so nothing changes in meaning) gets
    room for them at once. See docs/performance.md, "EVAL form: presized
    module tables".
    """
    members: dict[str, list[str]] = {}
    for table, field in _MEMBER.findall(source):
        names = members.setdefault(table, [])
        if field not in names:
            names.append(field)

    def declare(found: re.Match[str]) -> str:
        table = found.group(1)
        names = members.get(table)
        if not names:
            return found.group(0)
        return f"local {table} = {{ " + ", ".join(f"{name} = nil" for name in names) + " }"

    return _DECLARATION.sub(declare, source)


def body() -> str:
    """All modules, comments stripped, in dependency order, their tables presized."""
    parts = []
    for name in MODULES:
        parts.append(strip_comments((LIB / name).read_text()))
    return presize("\n".join(parts))


def library_id() -> str:
    """Version plus a digest of the modules and the library's entry points: differs
    whenever the Lua does."""
    digest = hashlib.sha1("\n".join([body(), *_entry_points()]).encode()).hexdigest()[:12]
    return f"{version()}+{digest}"


def eval_script() -> str:
    """The single script for ``EVAL``/``EVALSHA <sha> 0 <command> <now> ...``."""
    return "\n".join(
        [
            f"-- reqless-core {version()} (EVAL script)",
            body(),
            "return Reqless.dispatch(KEYS, ARGV)",
            "",
        ]
    )


def _entry_points() -> list[str]:
    """The functions the library registers, besides ``reqless_version``."""
    return [
        f"redis.register_function('{FUNCTION_NAME}', function(keys, args)",
        "  if reqless_core == nil then reqless_core = build_reqless_core() end",
        "  return reqless_core.dispatch(keys, args)",
        "end)",
        # A command sent long before it runs (pipelined behind a blocking
        # command that waits for work) cannot know its `now`: this one takes
        # `now` from the server's clock, to the millisecond, as clients send it.
        f"redis.register_function('{SERVER_CLOCK_FUNCTION}', function(keys, args)",
        "  if reqless_core == nil then reqless_core = build_reqless_core() end",
        "  local time = redis.call('TIME')",
        "  table.insert(args, 2, string.format('%s.%03d', time[1], math.floor(time[2] / 1000)))",
        "  return reqless_core.dispatch(keys, args)",
        "end)",
    ]


def function_library() -> str:
    """The library for ``FUNCTION LOAD``; called as ``FCALL reqless 0 <command> <now> ...``,
    or ``FCALL reqless_server_clock 0 <command> ...`` with ``now`` from the server's clock.

    While a library loads, the server hides everything but
    ``redis.register_function`` (no ``math``, ``cjson`` or ``redis.call``), so
    the modules are wrapped in a function that the first call runs; the
    tables it builds then live as long as the library.
    """
    return "\n".join(
        [
            f"#!lua name={FUNCTION_LIBRARY}",
            f"-- reqless-core {version()} (Function library)",
            "local reqless_core",
            "local function build_reqless_core()",
            body(),
            "return Reqless",
            "end",
            *_entry_points(),
            # Lets a client see whether the loaded library is the one it carries.
            f"redis.register_function{{function_name='{VERSION_FUNCTION}', "
            f"callback=function() return '{library_id()}' end, flags={{'no-writes'}}}}",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="file to write ('-' for stdout)")
    parser.add_argument(
        "--function",
        action="store_true",
        help="write the FUNCTION LOAD library instead of the EVAL script",
    )
    args = parser.parse_args(argv)
    text = function_library() if args.function else eval_script()
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
