"""Reading stored fragments back into samples, and keyframe-only fragments."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.protocols.errors import ParseError
from vigil.protocols.fmp4.fragment import FragmentSample, fragment
from vigil.protocols.fmp4.fragment_reader import keyframe_fragment, parse_fragment
from vigil.protocols.fmp4.retime import fragment_decode_time

GOP = [
    FragmentSample(b"\x00\x00\x00\x03\x65\x88\x84", 3600, True),
    FragmentSample(b"\x00\x00\x00\x02\x41\x9a", 3600, False),
    FragmentSample(b"\x00\x00\x00\x02\x41\x9b", 3000, False),
]


def test_parse_gives_samples_their_bytes_and_timing() -> None:
    data = fragment(9, 450_000, GOP)
    parsed = parse_fragment(data)
    assert (parsed.sequence, parsed.decode_time_90k, parsed.track_id) == (9, 450_000, 1)
    assert parsed.size_bytes == len(data)
    assert parsed.duration_90k == 10_200
    assert [s.is_key for s in parsed.samples] == [True, False, False]
    for info, sample in zip(parsed.samples, GOP, strict=True):
        assert data[info.offset_bytes : info.offset_bytes + info.size_bytes] == sample.data
        assert info.duration_90k == sample.duration_90k


def test_parse_reads_composition_offsets() -> None:
    samples = [FragmentSample(b"\x00\x00\x00\x01\x65", 3600, True, 7200),
               FragmentSample(b"\x00\x00\x00\x01\x41", 3600, False, -3600)]  # fmt: skip
    parsed = parse_fragment(fragment(1, 0, samples))
    assert [s.composition_offset_90k for s in parsed.samples] == [7200, -3600]


def test_keyframe_fragment_keeps_decode_time_and_whole_duration() -> None:
    data = fragment(4, 900_000, GOP)
    key = keyframe_fragment(data)
    assert key == fragment(4, 900_000, [FragmentSample(GOP[0].data, 10_200, True)])
    assert fragment_decode_time(key) == 900_000
    assert parse_fragment(key).duration_90k == 10_200
    assert parse_fragment(keyframe_fragment(data, duration_90k=5)).duration_90k == 5


def test_keyframe_fragment_refuses_a_fragment_without_a_leading_keyframe() -> None:
    with pytest.raises(ParseError):
        keyframe_fragment(fragment(1, 0, GOP[1:]))


def test_tfhd_defaults_fill_missing_trun_fields() -> None:
    # tfhd with default duration/size/flags (0x38) + default-base-is-moof; trun with offsets only.
    payload = b"\x00\x00\x00\x01\x65" + b"\x00\x00\x00\x01\x41"
    mfhd = struct.pack("!I4sII", 16, b"mfhd", 0, 3)
    tfhd = struct.pack("!I4sIIIII", 28, b"tfhd", 0x020038, 1, 3000, 5, 0x01010000)
    tfdt = struct.pack("!I4sII", 16, b"tfdt", 0, 1234)
    trun_size = 12 + 4 + 4 + 4  # header + count + data_offset + first_sample_flags
    traf_size = 8 + len(tfhd) + len(tfdt) + trun_size
    moof_size = 8 + len(mfhd) + traf_size
    trun = struct.pack("!I4sIIiI", trun_size, b"trun", 0x000005, 2, moof_size + 8, 0x02000000)
    traf = struct.pack("!I4s", traf_size, b"traf") + tfhd + tfdt + trun
    moof = struct.pack("!I4s", moof_size, b"moof") + mfhd + traf
    data = moof + struct.pack("!I4s", 8 + len(payload), b"mdat") + payload
    parsed = parse_fragment(data)
    assert parsed.decode_time_90k == 1234
    assert [(s.size_bytes, s.duration_90k, s.is_key) for s in parsed.samples] == [
        (5, 3000, True),  # first-sample-flags: sync
        (5, 3000, False),  # default flags: non-sync
    ]


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x00\x00\x08moof", fragment(1, 0, GOP)[:-1], fragment(1, 0, GOP)[:40]],
)
def test_truncated_input_raises_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_fragment(data)


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_arbitrary_bytes_raise_only_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_fragment(data)
    with contextlib.suppress(ParseError):
        keyframe_fragment(data)


@given(st.data())
@settings(max_examples=200)
def test_mutated_fragments_raise_only_parse_error(data: st.DataObject) -> None:
    original = bytearray(fragment(2, 77, GOP))
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(original) - 1))
        original[index] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ParseError):
        parsed = parse_fragment(original)
        for info in parsed.samples:
            assert info.offset_bytes + info.size_bytes <= len(original)
    with contextlib.suppress(ParseError):
        parse_fragment(keyframe_fragment(original))


@given(
    st.lists(
        st.tuples(st.binary(min_size=1, max_size=40), st.integers(1, 90_000), st.booleans()),
        min_size=1,
        max_size=12,
    ),
    st.integers(0, 1 << 40),
)
def test_round_trip_of_written_fragments(
    raw: list[tuple[bytes, int, bool]], decode_time_90k: int
) -> None:
    samples = [FragmentSample(d, duration, key) for d, duration, key in raw]
    data = fragment(5, decode_time_90k, samples)
    parsed = parse_fragment(data)
    assert parsed.decode_time_90k == decode_time_90k
    got = [
        (data[s.offset_bytes : s.offset_bytes + s.size_bytes], s.duration_90k, s.is_key)
        for s in parsed.samples
    ]
    assert got == raw
