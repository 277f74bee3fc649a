"""Moving stored fragments to a new decode time without re-muxing."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.protocols.errors import ParseError
from vigil.protocols.fmp4.fragment import FragmentSample, fragment
from vigil.protocols.fmp4.retime import fragment_decode_time, retime_fragment

SAMPLES = [
    FragmentSample(b"\x00\x00\x00\x02\x65\x88", 3600, True),
    FragmentSample(b"\x00\x00\x00\x02\x41\x9a", 3600, False),
]


def test_retime_moves_decode_time_and_sequence_and_keeps_the_rest() -> None:
    original = fragment(7, 5_400_000, SAMPLES)
    moved = retime_fragment(original, 90_000, sequence=2)
    assert fragment_decode_time(moved) == 90_000
    assert moved == fragment(2, 90_000, SAMPLES)
    assert len(moved) == len(original)


def test_version_zero_tfdt_is_patched_and_bounded() -> None:
    # Our writer emits version 1; other muxers use version 0 (32-bit): moof(mfhd, traf).
    mfhd = struct.pack("!I4sI", 16, b"mfhd", 0) + struct.pack("!I", 1)
    tfhd = struct.pack("!I4sII", 16, b"tfhd", 0x020000, 1)
    tfdt = struct.pack("!I4sII", 16, b"tfdt", 0, 1000)
    traf = struct.pack("!I4s", 8 + len(tfhd) + len(tfdt), b"traf") + tfhd + tfdt
    moof = struct.pack("!I4s", 8 + len(mfhd) + len(traf), b"moof") + mfhd + traf
    assert fragment_decode_time(moof) == 1000
    assert fragment_decode_time(retime_fragment(moof, 5000)) == 5000
    with pytest.raises(ParseError):
        retime_fragment(moof, 1 << 33)


def test_not_a_moof_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        retime_fragment(b"\x00\x00\x00\x08mdat", 0)
    with pytest.raises(ParseError):
        fragment_decode_time(b"\x00\x00")


@given(st.binary(max_size=200), st.integers(min_value=0, max_value=1 << 40))
def test_garbage_raises_only_parse_error(data: bytes, when: int) -> None:
    with contextlib.suppress(ParseError):
        retime_fragment(data, when)


@given(st.binary(min_size=8, max_size=120))
def test_garbage_inside_a_moof_raises_only_parse_error(payload: bytes) -> None:
    data = struct.pack("!I4s", 8 + len(payload), b"moof") + payload
    with contextlib.suppress(ParseError):
        fragment_decode_time(data)
