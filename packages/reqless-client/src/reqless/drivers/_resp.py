"""RESP encoding of commands, with the fixed words of a command packed once.

Every core call starts with the same three words (``FCALL reqless 0`` or
``EVALSHA <sha> 0``); :class:`CommandHead` packs them once so a call packs only
its own arguments. Pure Python, so it costs the same with or without hiredis
(and less than the libraries' own packers, which inspect every argument for
the cases the core never sends).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from reqless._errors import InvalidArgumentError


def encode(arg: Any) -> bytes:
    """One argument as the libraries encode it: str as UTF-8, numbers by ``str()``."""
    if type(arg) is str:
        return arg.encode()
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, bytearray | memoryview):
        return bytes(arg)
    if isinstance(arg, int) and not isinstance(arg, bool):
        return str(int(arg)).encode()  # int(): an IntEnum's str() is its name
    if isinstance(arg, float):
        return repr(float(arg)).encode()
    if isinstance(arg, str):
        return str(arg).encode()
    raise InvalidArgumentError(f"a command argument must be str, bytes, int or float, got {arg!r}")


def pack_args(args: Iterable[Any]) -> bytes:
    """The bulk strings of ``args``, without the array header."""
    # Built as one str and encoded once: for ASCII text (nearly every argument
    # the core gets, JSON included) the length in characters is the length in bytes.
    parts = []
    for arg in args:
        if type(arg) is not str:
            if type(arg) is int or type(arg) is float:
                arg = str(arg)
            else:
                return _pack_bytes(args)
        if not arg.isascii():
            return _pack_bytes(args)
        parts.append(f"${len(arg)}\r\n{arg}\r\n")
    return "".join(parts).encode()


def _pack_bytes(args: Iterable[Any]) -> bytes:
    out = []
    for arg in args:
        data = encode(arg)
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class CommandHead:
    """The first words of a command, packed once; :meth:`pack` adds the rest."""

    __slots__ = ("_count", "_packed")

    def __init__(self, *words: Any) -> None:
        self._count = len(words)
        self._packed = pack_args(words)

    def pack(self, args: Sequence[Any]) -> bytes:
        """The whole command: these words, then ``args``."""
        return b"*%d\r\n%s%s" % (self._count + len(args), self._packed, pack_args(args))


def bulk(word: str) -> str:
    """One RESP bulk string as text: its length in UTF-8 bytes, so encoding the text packs it.

    For commands built as one ``str`` and encoded once (see
    :class:`reqless._queue.PutWriter`): parts that never change are made by this once.
    """
    return f"${len(word.encode())}\r\n{word}\r\n"


def pack_command(command: Sequence[Any]) -> bytes:
    """A whole command (name first) as one RESP array."""
    return b"*%d\r\n%s" % (len(command), pack_args(command))


# Commands packed by pack_cached(), by their words: a put's wake-up command is
# the same for every put to a queue. Cleared when full rather than evicting
# one by one: refilling costs one packing per command still in use.
_PACKED: dict[tuple[Any, ...], bytes] = {}
_PACKED_MAX = 1024


def pack_cached(command: Sequence[Any]) -> bytes:
    """:func:`pack_command`, remembered for a command sent again and again."""
    key = command if type(command) is tuple else tuple(command)
    packed = _PACKED.get(key)
    if packed is None:
        if len(_PACKED) >= _PACKED_MAX:
            _PACKED.clear()
        packed = _PACKED[key] = pack_command(key)
    return packed


def pack_chunks(
    head: Sequence[Any], items: Sequence[Sequence[Any]], size: int, trailer: bytes = b""
) -> Iterator[bytes]:
    """The commands ``*head, *item`` for every item, packed ``size`` commands at a time.

    ``trailer`` (a packed command, or nothing) ends the last chunk, so it
    costs no write of its own.

    A generator, so a caller that writes each chunk before asking for the next
    packs chunk *k + 1* while the server runs chunk *k*. The common words are
    packed once. A chunk of text and numbers is built as one ``str`` and
    checked once: when it is ASCII (job data nearly always is) each argument's
    length in characters is its length in bytes, so the ``str`` is the
    command. Any other chunk is packed argument by argument as UTF-8 bytes.
    """
    words = pack_args(head)
    text_words = words.decode("latin-1")
    width = len(head)
    leads: dict[int, str] = {}
    for start in range(0, len(items), size):
        chunk = items[start : start + size]
        parts: list[str] = []
        append = parts.append
        plain = True
        for item in chunk:
            lead = leads.get(len(item))
            if lead is None:
                lead = leads[len(item)] = f"*{width + len(item)}\r\n{text_words}"
            append(lead)
            for arg in item:
                if type(arg) is not str:
                    if type(arg) is int or type(arg) is float:
                        arg = str(arg)
                    else:
                        plain = False
                        break
                append(f"${len(arg)}\r\n{arg}\r\n")
            if not plain:
                break
        text = "".join(parts) if plain else ""
        if plain and text.isascii():
            packed = text.encode("ascii")
        else:
            packed = b"".join(
                [b"*%d\r\n%s%s" % (width + len(item), words, _pack_bytes(item)) for item in chunk]
            )
        yield packed + trailer if trailer and start + size >= len(items) else packed
