"""H.265 SPS parsing and access units against PyAV (FFmpeg/libx265) as the reference."""

from __future__ import annotations

import av
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.protocols.media_samples import encode_video
from vigil.protocols.errors import ParseError
from vigil.protocols.h265.access_unit import scan_access_unit, starts_access_unit
from vigil.protocols.h265.annexb import nal_type, split_nal_units
from vigil.protocols.h265.sps import parameter_sets, parse_sps


def decoded_size(data: bytes) -> tuple[int, int]:
    ctx = av.CodecContext.create("hevc", "r")
    frames = list(ctx.decode(av.Packet(data))) + list(ctx.decode(None))
    return frames[0].width, frames[0].height


@pytest.mark.parametrize(("width", "height"), [(320, 240), (1920, 1080), (642, 362)])
def test_size_matches_ffmpeg(width: int, height: int) -> None:
    frames = encode_video("libx265", width, height, 2)
    info = scan_access_unit(frames[0].data)
    assert info.is_key
    assert info.vps
    assert info.sps
    assert info.pps
    sps = parse_sps(info.sps)
    assert (sps.width, sps.height) == decoded_size(frames[0].data) == (width, height)
    assert sps.profile_idc == 1
    assert not sps.tier_flag
    params = parameter_sets(info.vps, info.sps, info.pps)
    assert params.codec_string.startswith("hvc1.1.6.L")
    assert len(params.profile_tier_level) == 12
    assert not scan_access_unit(frames[1].data).is_key


def test_codec_string_format() -> None:
    frames = encode_video("libx265", 1920, 1080, 1)
    info = scan_access_unit(frames[0].data)
    assert info.sps is not None
    sps = parse_sps(info.sps)
    # ISO/IEC 14496-15 E.3: level 4 → L120; progressive_source + frame_only flags → 90.
    assert sps.codec_string == f"hvc1.1.6.L{sps.level_idc}.90"


def test_nal_types_and_openers() -> None:
    frames = encode_video("libx265", 320, 240, 2)
    kinds = [nal_type(n) for n in split_nal_units(frames[0].data)]
    assert kinds[:3] == [32, 33, 34]
    assert any(16 <= k <= 21 for k in kinds)
    assert starts_access_unit(b"\x46\x01\x50")  # AUD
    assert starts_access_unit(b"\x02\x01\x80")  # TRAIL_R, first slice segment
    assert not starts_access_unit(b"\x02\x01\x40")


def test_not_an_sps() -> None:
    with pytest.raises(ParseError):
        parse_sps(b"\x40\x01" + bytes(20))


@given(st.binary(max_size=80))
def test_fuzz_sps(body: bytes) -> None:
    try:
        sps = parse_sps(b"\x42\x01" + body)
    except ParseError:
        return
    assert sps.width > 0
    assert sps.height > 0
