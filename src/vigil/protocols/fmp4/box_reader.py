"""Walk the boxes of an ISO base media file (ISO/IEC 14496-12 §4.2).

A box is a 32-bit size and a four-character type, the size 1 meaning a 64-bit size follows
the type. :func:`read_boxes` lists the boxes between two offsets of a buffer; it never reads
outside them. Two readings of a box that does not fit:

* strict (default): every box must fit its parent; a truncated header or an overrun raises
  ``ParseError``. Used on whole fragments, where nothing may be missing.
* ``stop_at_torn=True``: the walk ends at the first box that does not fit (a torn tail of a
  file a crash cut short), and size 0 means "to the end" (§4.2). A size smaller than its
  header still raises ``ParseError``.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from vigil.protocols.errors import ParseError

_HEADER = struct.Struct("!I4s")
_U64 = struct.Struct("!Q")


class BoxSpan(NamedTuple):
    kind: bytes  # four-character type
    start: int  # of the box header
    payload_start: int
    end: int  # one past the box's last byte


def read_boxes(
    data: bytes | bytearray | memoryview, start: int, end: int, *, stop_at_torn: bool = False
) -> list[BoxSpan]:
    """The boxes in data[start:end], in order."""
    out: list[BoxSpan] = []
    pos = start
    while pos < end:
        if end - pos < 8:
            if stop_at_torn:
                break
            raise ParseError("truncated box header")
        size, kind = _HEADER.unpack_from(data, pos)
        header = 8
        if size == 1:
            if end - pos < 16:
                if stop_at_torn:
                    break
                raise ParseError("truncated large box header")
            (size,) = _U64.unpack_from(data, pos + 8)
            header = 16
        elif size == 0 and stop_at_torn:
            size = end - pos
        if stop_at_torn:
            if size < header:
                raise ParseError(f"box {kind!r} declares {size} bytes")
            if pos + size > end:
                break
        elif size < header or pos + size > end:
            raise ParseError(f"box {kind!r} of {size} bytes overruns its parent")
        out.append(BoxSpan(bytes(kind), pos, pos + header, pos + size))
        pos += size
    return out
