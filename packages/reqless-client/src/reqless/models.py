"""reqless-py's ``reqless.models`` module: :class:`QueuePriorityPattern`."""

from __future__ import annotations

from collections.abc import Sequence

from reqless._models import PriorityPattern

__all__ = ["QueuePriorityPattern"]


class QueuePriorityPattern(PriorityPattern):
    """A :class:`reqless.PriorityPattern` made with reqless-py's argument names.

    ``QueuePriorityPattern(["urgent-*"], should_distribute_fairly=True)`` equals
    ``PriorityPattern(["urgent-*"], fairly=True)``; both read ``patterns`` and
    ``should_distribute_fairly`` as well as ``pattern`` and ``fairly``.
    """

    __slots__ = ()

    def __init__(self, patterns: Sequence[str], should_distribute_fairly: bool = False) -> None:
        super().__init__(list(patterns), bool(should_distribute_fairly))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PriorityPattern):
            return (self.pattern, self.fairly) == (other.pattern, other.fairly)
        return NotImplemented

    __hash__ = PriorityPattern.__hash__
