"""``reqless``: the operations command, for what operators do from a shell.

``reqless info``, ``jobs``, ``job``, ``failed``, ``retry``, ``cancel``, ``put``,
``pause``, ``unpause``, ``config`` and ``watch``, on any server URL including
``embedded:PATH``. Built on the public ``reqless`` API alone, with argparse and
the standard library: it adds no dependency to the client. Exit codes are in
:mod:`reqless.cli._exits`; ``reqless --help`` lists them too.
"""

from reqless.cli._main import main

__all__ = ["main"]
