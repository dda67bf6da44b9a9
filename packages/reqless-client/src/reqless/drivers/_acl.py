"""An ACL refusal inside the core's script, which older servers do not report as NOPERM.

Redis 7.0 answers a script whose user may not run one of its commands with
"The user executing the script can't run this command or subcommand", with no
NOPERM prefix and no command name (Valkey and later Redis say ``NOPERM ... the
'hset' command``). :func:`script_acl_error` makes that a
:class:`reqless.PermissionDeniedError` that says where to find the name.
"""

from __future__ import annotations

from reqless._errors import PermissionDeniedError

__all__ = ["script_acl_error"]

_REFUSED = "can't run this command or subcommand"


def script_acl_error(text: str) -> PermissionDeniedError | None:
    """The permission error for a script's ACL refusal without a name, else None."""
    if _REFUSED not in text:
        return None
    return PermissionDeniedError(
        f"{text} (the server's ACL refused a command the reqless core runs; this server "
        "does not name it: ACL LOG does, and README's production section lists the rule "
        "reqless needs)"
    )
