"""The newcomer's demo, run by ``hatch run demo:run``.

It is a placeholder until the worker exists: it says so and exits successfully,
so that the command README documents already works.
"""

from __future__ import annotations

import sys

MESSAGE = (
    "reqless demo: not available yet. The demo (a queue, a worker and a few jobs\n"
    "on a throwaway Valkey server) arrives with the worker issue.\n"
    "Meanwhile `hatch run test:run` runs the core's tests against Valkey and Redis."
)


def main() -> int:
    print(MESSAGE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
