"""Reading back recorded fMP4 files: whole fragments only, codec configuration from moov."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.protocols.errors import ParseError
from vigil.protocols.fmp4.fragment_scan import init_parameter_sets, scan_file
from vigil.protocols.fmp4.writer import Fmp4Segment, Fmp4Writer, FragmentMode
from vigil.protocols.samples import Codec, Sample

from ..media_samples import encode_video


def _recorded(codec: str = "libx264") -> tuple[bytes, list[Fmp4Segment], Fmp4Writer]:
    kind = Codec.H265 if codec == "libx265" else Codec.H264
    writer = Fmp4Writer(FragmentMode.GOP)
    out: list[Fmp4Segment] = []
    for f in encode_video(codec, frames=75):
        out += writer.push_segments(Sample(kind, f.pts_90k, f.dts_90k, f.is_key, f.data))
    out += writer.flush_segments()
    return b"".join(s.data for s in out), [s for s in out if not s.is_init], writer


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_scan_finds_every_fragment_and_the_parameters(codec: str) -> None:
    data, fragments, writer = _recorded(codec)
    scan = scan_file(data)
    assert writer.init_segment is not None
    assert scan.init_size_bytes == len(writer.init_segment)
    assert scan.whole_bytes == len(data)
    assert [(f.decode_time_90k, f.duration_90k, f.sample_count) for f in scan.fragments] == [
        (f.decode_time_90k, f.duration_90k, f.sample_count) for f in fragments
    ]
    assert all(f.starts_with_key for f in scan.fragments)
    offset = scan.init_size_bytes
    for found, written in zip(scan.fragments, fragments, strict=True):
        assert found.offset_bytes == offset
        assert data[offset : offset + found.size_bytes] == written.data
        offset += found.size_bytes
    assert init_parameter_sets(writer.init_segment) == writer.params


def test_a_torn_tail_is_left_out() -> None:
    data, fragments, _writer = _recorded()
    ends = []
    end = len(data) - sum(len(f.data) for f in fragments)
    for f in fragments:
        end += len(f.data)
        ends.append(end)
    for cut in (ends[0] - 1, ends[0], ends[0] + 5, ends[1] + 9, len(data) - 1):
        scan = scan_file(data[:cut])
        whole = [e for e in ends if e <= cut]
        assert len(scan.fragments) == len(whole)
        assert scan.whole_bytes == (whole[-1] if whole else scan.init_size_bytes)


def test_a_file_without_init_segment_is_refused() -> None:
    _data, fragments, _writer = _recorded()
    with pytest.raises(ParseError):
        scan_file(fragments[0].data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512), st.integers(min_value=0, max_value=4000))
def test_garbage_raises_only_parse_error(noise: bytes, cut: int) -> None:
    data, _fragments, _writer = _recorded()
    for candidate in (noise, data[:cut] + noise, data[: len(data) - cut] + noise):
        with contextlib.suppress(ParseError):
            scan_file(candidate)
