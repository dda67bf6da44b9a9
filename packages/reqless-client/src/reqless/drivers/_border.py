"""The one border where a library's exceptions become ours, shared by every wrapper."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reqless._errors import ReqlessError

__all__ = ["ErrorTranslator", "Translate"]

# Turns one of the library's exceptions into ours; ``where`` names the server
# (its URL without the password) for connection errors.
Translate = Callable[[Exception, str], ReqlessError]


class ErrorTranslator:
    """Holds what every wrapper needs to translate the library's exceptions."""

    def __init__(self, errors: type[Exception], translate: Translate, where: str) -> None:
        self._errors = errors
        self._translate = translate
        self._where = where

    def _in_place(self, results: list[Any]) -> list[Any]:
        return [
            self._translate(item, self._where) if isinstance(item, self._errors) else item
            for item in results
        ]
