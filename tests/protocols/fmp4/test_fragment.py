"""Fragment headers from the packed templates equal the general box-by-box layout."""

from __future__ import annotations

import struct

import pytest

from vigil.protocols.fmp4.fragment import (
    ONE_SAMPLE_HEADER_BYTES,
    FragmentSample,
    fragment,
    fragment_header,
    one_sample_header,
)


def boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    out = []
    while start < end:
        size, kind = struct.unpack_from("!I4s", data, start)
        out.append((kind, start, size))
        start += size
    return out


@pytest.mark.parametrize("is_key", [True, False])
def test_one_sample_header_is_the_general_fragment(is_key: bool) -> None:
    data = bytes(range(256)) * 3
    whole = fragment(7, 123_456_789_012, [FragmentSample(data, 3600, is_key)], track_id=1)
    header = one_sample_header(7, 123_456_789_012, 3600, len(data), is_key, track_id=1)
    assert len(header) == ONE_SAMPLE_HEADER_BYTES
    assert header + data == whole
    (moof, mdat) = boxes(whole, 0, len(whole))
    assert (moof[0], moof[2], mdat[0], mdat[2]) == (b"moof", 100, b"mdat", 8 + len(data))
    assert [k for k, _, _ in boxes(whole, 8, 100)] == [b"mfhd", b"traf"]


def test_header_with_composition_offsets_uses_trun_version_1() -> None:
    samples = [
        FragmentSample(b"\x00" * 10, 3600, True, 7200),
        FragmentSample(b"\x01" * 5, 3600, False),
    ]
    entries = [(s.duration_90k, len(s.data), s.is_key, s.composition_offset_90k) for s in samples]
    header = fragment_header(1, 0, entries)
    whole = fragment(1, 0, samples)
    assert header + samples[0].data + samples[1].data == whole
    trun = whole.index(b"trun")
    version_flags, count, offset = struct.unpack_from("!IIi", whole, trun + 4)
    assert version_flags >> 24 == 1  # signed composition offsets
    assert version_flags & 0x800
    assert (count, offset) == (2, len(header))
