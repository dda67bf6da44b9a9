"""The one seam to the json module's undocumented parts, probed once at import.

Encoding every put's data and decoding every popped job are on the paths an
idle worker waits on, so two of json's inner parts are used directly:

* ``json.encoder.c_make_encoder``: the C encoder that ``JSONEncoder.encode``
  builds anew on each call, built here once. Its arguments are positional and
  undocumented, so the one built is checked against ``json.dumps`` on a sample
  before it is used. It is built without circular-reference checks (they cost
  a dict insert and delete per container); a self-referencing value then ends
  in ``RecursionError``, which :func:`reqless._protocol.encode_data` reports as
  bad data.
* ``json.scanner.make_scanner``: the decoder's scanner, called straight away
  (see :func:`reqless._models.loads`).

Where either is missing or does not behave, :data:`ENCODE_C` /
:data:`SCAN_ONCE` are None and callers use ``json.dumps`` / ``json.loads``,
which give the same text and values. Which path is active is logged at debug
level.
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
import logging
from collections.abc import Callable, Iterable
from typing import Any, cast

__all__ = ["ENCODER", "ENCODE_C", "SCAN_ONCE", "c_encoder", "scanner"]

logger = logging.getLogger("reqless")

#: The pure-Python encoder, compact and strict (no NaN), shared by every call.
ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)

_SAMPLE: Any = {"a": [1, 2.5, None, True, "é\n"], "b": {}}


def c_encoder(encoder: json.JSONEncoder = ENCODER) -> Callable[[Any, int], Iterable[str]] | None:
    """``encoder``'s C twin, built once; None where the C encoder is missing or differs."""
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        built = make(
            None,  # markers: no circular-reference check
            encoder.default,
            json.encoder.encode_basestring_ascii,
            None,  # indent
            encoder.key_separator,
            encoder.item_separator,
            encoder.sort_keys,
            encoder.skipkeys,
            encoder.allow_nan,
        )
        same = "".join(built(_SAMPLE, 0)) == encoder.encode(_SAMPLE)
    except Exception:
        return None
    return cast(Callable[[Any, int], Iterable[str]], built) if same else None


def scanner() -> Callable[[str, int], tuple[Any, int]] | None:
    """The decoder's scanner, called directly; None where it is missing or differs."""
    try:
        scan = json.scanner.make_scanner(cast(Any, json.JSONDecoder()))
        same = scan('{"a":[1,"é"]}', 0) == ({"a": [1, "é"]}, 13)
    except Exception:
        return None
    return cast(Callable[[str, int], tuple[Any, int]], scan) if same else None


ENCODE_C = c_encoder()
SCAN_ONCE = scanner()
logger.debug(
    "json: %s encoder, %s scanner",
    "C" if ENCODE_C is not None else "json.dumps",
    "direct" if SCAN_ONCE is not None else "json.loads",
)
