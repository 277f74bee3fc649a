"""ISO base media file format boxes (ISO/IEC 14496-12 §4.2): size, type, payload."""

from __future__ import annotations

import struct

_HEADER = struct.Struct("!I4s")
_FULL_HEADER = struct.Struct("!I4sI")

Part = bytes | bytearray | memoryview


def box(kind: bytes, *payload: Part) -> bytes:
    """A box (§4.2): 32-bit size, 4-character type, payload."""
    size = 8 + sum(len(p) for p in payload)
    return b"".join((_HEADER.pack(size, kind), *payload))


def full_box(kind: bytes, version: int, flags: int, *payload: Part) -> bytes:
    """A FullBox (§4.2): box header, 8-bit version, 24-bit flags, payload."""
    size = 12 + sum(len(p) for p in payload)
    return b"".join((_FULL_HEADER.pack(size, kind, (version << 24) | flags), *payload))


UNITY_MATRIX = struct.pack("!9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
