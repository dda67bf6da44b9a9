"""reqless-py's ``reqless.exceptions`` module: every error, rooted at :class:`ReqlessError`."""

from reqless import _errors
from reqless._errors import *  # noqa: F403  (the error tree is listed once, in _errors.__all__)

__all__ = list(_errors.__all__)
