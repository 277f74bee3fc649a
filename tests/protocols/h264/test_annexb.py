"""Annex-B splitting and emulation prevention (ITU-T H.264 Annex B, §7.4.1)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.protocols.errors import ParseError
from vigil.protocols.h264 import annexb
from vigil.protocols.h264.annexb import (
    MAX_NAL_UNITS,
    join_annexb,
    joined_nal_unit_ranges,
    nal_type,
    nal_unit_ranges,
    nal_unit_scan,
    python_nal_unit_scan,
    split_nal_units,
    to_length_prefixed,
)
from vigil.protocols.media_bytes import BitReader, unescape_rbsp


def test_three_and_four_byte_start_codes() -> None:
    data = b"\x00\x00\x00\x01\x67\xaa\x00\x00\x01\x68\xbb\x00\x00\x00\x01\x65\xcc\xdd"
    assert split_nal_units(data) == [b"\x67\xaa", b"\x68\xbb", b"\x65\xcc\xdd"]
    assert [nal_type(n) for n in split_nal_units(data)] == [7, 8, 5]


def test_leading_garbage_and_trailing_zeros() -> None:
    data = b"\xff\xee\x00\x00\x01\x41\x01\x00\x00\x00\x00\x00\x00\x01\x41\x02\x00\x00"
    assert split_nal_units(data) == [b"\x41\x01", b"\x41\x02"]


def test_empty_units_skipped() -> None:
    assert split_nal_units(b"\x00\x00\x01\x00\x00\x01\x09\xf0") == [b"\x09\xf0"]
    assert split_nal_units(b"no start code") == []


def test_join_round_trip() -> None:
    nals = [b"\x67\x01", b"\x68\x02", b"\x65\x03\x04"]
    assert split_nal_units(join_annexb(nals)) == nals
    assert join_annexb([]) == b""


def test_length_prefixed_drops_requested_types() -> None:
    data = join_annexb([b"\x09\xf0", b"\x67\x01", b"\x65\x03\x04"])
    assert to_length_prefixed(data, frozenset({9}), hevc=False) == (
        b"\x00\x00\x00\x02\x67\x01\x00\x00\x00\x03\x65\x03\x04"
    )
    hevc = join_annexb([b"\x46\x01\x50", b"\x26\x01\xaf"])  # AUD (35), IDR_W_RADL (19)
    assert to_length_prefixed(hevc, frozenset({35}), hevc=True) == b"\x00\x00\x00\x03\x26\x01\xaf"


def test_emulation_prevention_removed() -> None:
    assert (
        unescape_rbsp(b"\x00\x00\x03\x01\x00\x00\x03\x00\x00\x03")
        == b"\x00\x00\x01\x00\x00\x00\x00"
    )
    assert unescape_rbsp(b"\x00\x00\x00\x03\x02") == b"\x00\x00\x00\x02"


def test_bit_reader_exp_golomb() -> None:
    # ue: 1 → 0, 010 → 1, 011 → 2, 00100 → 3; se: 010 → +1, 011 → -1
    r = BitReader(bytes((0b10100110, 0b01000100, 0b11000000)))
    assert [r.ue(), r.ue(), r.ue(), r.ue()] == [0, 1, 2, 3]
    assert [r.se(), r.se()] == [1, -1]
    r2 = BitReader(b"\x00\x00\x00\x00")
    try:
        r2.ue()
    except ParseError:
        pass
    else:
        raise AssertionError("overrun not detected")


@given(st.binary(max_size=500))
def test_fuzz_splitter(data: bytes) -> None:
    for start, end in nal_unit_ranges(data):
        assert 0 < start < end <= len(data)
        assert b"\x00\x00\x01" not in data[start:end]
    to_length_prefixed(data, frozenset({9}), hevc=False)


@given(st.lists(st.binary(min_size=1, max_size=40).filter(
    lambda b: b"\x00\x00" not in b and b[-1] != 0), max_size=10))  # fmt: skip
def test_split_inverts_join(nals: list[bytes]) -> None:
    assert split_nal_units(join_annexb(nals)) == nals


# Bytes that make start codes, zero runs and empty units likely at every seam.
_annexb_bytes = st.lists(st.sampled_from([0, 0, 0, 1, 1, 3, 0x41, 0x65, 0xFF]), max_size=16)


@given(st.lists(_annexb_bytes.map(bytes), min_size=1, max_size=6))
def test_joined_ranges_equal_a_scan_of_the_joined_buffer(parts: list[bytes]) -> None:
    joined = b"".join(parts)
    scans = [(len(p), *nal_unit_scan(p)) for p in parts]
    assert joined_nal_unit_ranges(joined, scans) == nal_unit_ranges(joined)
    first = joined.find(b"\x00\x00\x01")
    assert nal_unit_scan(joined) == (first, nal_unit_ranges(joined))


@given(st.lists(_annexb_bytes.map(bytes), max_size=40).map(b"".join), st.sampled_from(["b", "m"]))
def test_compiled_scan_equals_the_python_scan(data: bytes, kind: str) -> None:
    """_annexb_scan.c against its reference, on bytes, bytearray and memoryview slices."""
    if annexb._compiled_scan is None:
        assert os.environ.get("CI") != "true", "the compiled scan is built by make deps"
        return
    buffer: bytes | memoryview = data if kind == "b" else memoryview(b"\xff" + data)[1:]
    assert nal_unit_scan(buffer) == python_nal_unit_scan(buffer)
    assert nal_unit_scan(bytearray(data)) == python_nal_unit_scan(data)


def test_both_scans_enforce_the_unit_limit() -> None:
    many = b"\x00\x00\x01\x09" * (MAX_NAL_UNITS + 1)
    for scan in (nal_unit_scan, python_nal_unit_scan):
        with pytest.raises(ParseError, match="NAL units"):
            scan(many)
        assert len(scan(many[4:])[1]) == MAX_NAL_UNITS


def test_joined_ranges_give_up_past_the_unit_limit() -> None:
    half = b"\x00\x00\x01\x09" * (MAX_NAL_UNITS // 2 + 1)
    scans = [(len(half), *nal_unit_scan(half))] * 2
    assert joined_nal_unit_ranges(half + half, scans) is None
    try:
        nal_unit_ranges(half + half)
    except ParseError:
        pass
    else:
        raise AssertionError("unit limit not enforced")
