import struct

import pytest

from vigil.protocols.errors import ParseError
from vigil.protocols.fmp4.box_reader import BoxSpan, read_boxes


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack("!I4s", 8 + len(payload), kind) + payload


def test_lists_boxes_with_32_and_64_bit_sizes() -> None:
    large = struct.pack("!I4sQ", 1, b"mdat", 16 + 3) + b"abc"
    data = _box(b"moof", b"xy") + large
    assert read_boxes(data, 0, len(data)) == [
        BoxSpan(b"moof", 0, 8, 10),
        BoxSpan(b"mdat", 10, 26, 29),
    ]


def test_strict_walk_rejects_an_overrun_and_a_truncated_header() -> None:
    data = _box(b"moof", b"xy")
    with pytest.raises(ParseError):
        read_boxes(data, 0, len(data) - 1)
    with pytest.raises(ParseError):
        read_boxes(data + b"\x00\x00", 0, len(data) + 2)


def test_torn_walk_stops_at_the_torn_box_and_reads_size_zero_to_the_end() -> None:
    data = _box(b"ftyp", b"") + _box(b"moov", b"abcd")
    assert [b.kind for b in read_boxes(data, 0, len(data) - 1, stop_at_torn=True)] == [b"ftyp"]
    to_end = struct.pack("!I4s", 0, b"mdat") + b"rest"
    assert read_boxes(to_end, 0, len(to_end), stop_at_torn=True) == [BoxSpan(b"mdat", 0, 8, 12)]
    with pytest.raises(ParseError):
        read_boxes(struct.pack("!I4s", 4, b"free"), 0, 8, stop_at_torn=True)
