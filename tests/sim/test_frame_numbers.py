"""Numbered frames: the SEI leaves the clip decodable by FFmpeg and reads back from the
length-prefixed samples a recording stores."""

from __future__ import annotations

import av
import pytest

from vigil.protocols.h264 import annexb
from vigil.protocols.samples import Codec
from vigil.sim.frame_numbers import number_frame, read_frame_number
from vigil.sim.sim_media import CLIP_FRAMES, encode_clip


@pytest.mark.parametrize(("codec", "decoder"), [(Codec.H264, "h264"), (Codec.H265, "hevc")])
def test_numbered_clip_decodes_and_reads_back(codec: Codec, decoder: str) -> None:
    clip = encode_clip(320, 180, "0001", codec)
    numbered = [
        number_frame(data, codec, 4_000_000_123, 1000 + i) for i, (data, _) in enumerate(clip)
    ]
    for i, data in enumerate(numbered):
        assert read_frame_number(data) == (4_000_000_123, 1000 + i)
        stored = annexb.to_length_prefixed(data, frozenset(), hevc=codec is Codec.H265)
        assert read_frame_number(stored) == (4_000_000_123, 1000 + i)
    decoder_context = av.CodecContext.create(decoder, "r")
    frames = [f for data in numbered for f in decoder_context.decode(av.Packet(data))]
    frames += list(decoder_context.decode(None))
    assert len(frames) == CLIP_FRAMES


def test_the_number_sits_before_the_first_slice_after_the_parameter_sets() -> None:
    keyframe = encode_clip(320, 180, "0001")[0][0]
    nals = annexb.split_nal_units(number_frame(keyframe, Codec.H264, 1, 0))
    types = [annexb.nal_type(nal) for nal in nals]
    first_slice = types.index(5)
    assert types[:2] == [annexb.NAL_SPS, annexb.NAL_PPS]
    assert read_frame_number(nals[first_slice - 1]) == (1, 0)  # the SEI just before it
    assert all(t == 5 for t in types[first_slice:])  # the picture's slices stay together


def test_the_last_number_in_a_buffer_wins_and_plain_frames_have_none() -> None:
    clip = encode_clip(320, 180, "0001")
    joined = b"".join(number_frame(data, Codec.H264, 7, i) for i, (data, _) in enumerate(clip))
    assert read_frame_number(joined) == (7, CLIP_FRAMES - 1)
    assert read_frame_number(clip[1][0]) is None
