"""H.264 SPS parsing against PyAV (FFmpeg) as the independent reference."""

from __future__ import annotations

import av
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.protocols.media_samples import encode_video
from vigil.protocols.errors import ParseError
from vigil.protocols.h264.access_unit import scan_access_unit, starts_access_unit
from vigil.protocols.h264.annexb import split_nal_units
from vigil.protocols.h264.sps import parameter_sets, parse_sps


def decoded_size(data: bytes, codec: str) -> tuple[int, int]:
    ctx = av.CodecContext.create(codec, "r")
    frames = list(ctx.decode(av.Packet(data))) + list(ctx.decode(None))
    return frames[0].width, frames[0].height


@pytest.mark.parametrize(
    ("width", "height"), [(320, 240), (1920, 1080), (642, 362), (176, 144), (1280, 720)]
)
def test_size_matches_ffmpeg(width: int, height: int) -> None:
    frames = encode_video("libx264", width, height, 2)
    info = scan_access_unit(frames[0].data)
    assert info.is_key
    assert info.sps
    assert info.pps
    sps = parse_sps(info.sps)
    assert (sps.width, sps.height) == decoded_size(frames[0].data, "h264") == (width, height)
    params = parameter_sets(info.sps, info.pps)
    assert params.codec_string == f"avc1.{info.sps[1]:02x}{info.sps[2]:02x}{info.sps[3]:02x}"


def test_high_profile_with_bframes() -> None:
    frames = encode_video("libx264", 1920, 1080, 6, bframes=2, x264_params="8x8dct=1:cabac=1")
    info = scan_access_unit(frames[0].data)
    assert info.sps is not None
    sps = parse_sps(info.sps)
    assert sps.profile_idc == 100  # 8x8 transform: High profile, SPS has chroma_format_idc
    assert (sps.width, sps.height) == (1920, 1080)
    assert sps.chroma_format_idc == 1
    assert [f.is_key for f in frames] == [scan_access_unit(f.data).is_key for f in frames]


def test_interlaced_sps() -> None:
    frames = encode_video("libx264", 720, 576, 2, x264_params="interlaced=1")
    info = scan_access_unit(frames[0].data)
    assert info.sps is not None
    sps = parse_sps(info.sps)
    assert (sps.width, sps.height, sps.frame_mbs_only) == (720, 576, False)
    assert decoded_size(frames[0].data, "h264") == (720, 576)


def test_access_unit_openers() -> None:
    assert starts_access_unit(b"\x09\xf0")
    assert starts_access_unit(b"\x65\x88")  # IDR, first_mb_in_slice = 0
    assert not starts_access_unit(b"\x41\x12")  # P slice, first_mb_in_slice > 0
    assert not starts_access_unit(b"")


def test_not_an_sps() -> None:
    with pytest.raises(ParseError):
        parse_sps(b"\x68\x00\x00\x00")
    with pytest.raises(ParseError):
        parse_sps(b"\x67\x42")


@given(st.binary(max_size=64))
def test_fuzz_sps(body: bytes) -> None:
    try:
        sps = parse_sps(b"\x67" + body)
    except ParseError:
        return
    assert sps.width > 0
    assert sps.height > 0


def test_split_units_of_real_frame() -> None:
    frames = encode_video("libx264", 320, 240, 2)
    kinds = [n[0] & 0x1F for n in split_nal_units(frames[0].data)]
    assert kinds[:2] == [7, 8]
    assert 5 in kinds
