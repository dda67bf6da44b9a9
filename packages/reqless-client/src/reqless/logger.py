"""reqless-py's ``reqless.logger`` module: ``logger``, the parent of every reqless logger.

Every module logs to ``logging.getLogger(__name__)``, a child of ``reqless``,
so a level or handler set on this logger applies to all of them.
"""

import logging

__all__ = ["logger"]

logger = logging.getLogger("reqless")
