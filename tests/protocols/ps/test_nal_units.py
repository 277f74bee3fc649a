"""The demuxer hands its NAL unit scan along with a sample; it must equal a fresh scan."""

from __future__ import annotations

import dataclasses

from tests.protocols.media_samples import encode_video
from vigil.protocols.fmp4.writer import Fmp4Writer, FragmentMode
from vigil.protocols.h264.annexb import nal_unit_ranges
from vigil.protocols.ps.demuxer import PsDemuxer
from vigil.protocols.ps.muxer import PsMuxer, pack_header, pes_packets
from vigil.protocols.samples import Codec, Sample


def test_attached_ranges_match_a_fresh_scan_and_follow_the_data() -> None:
    frames = encode_video("libx264", 320, 240, 30)
    muxer = PsMuxer(Codec.H264)
    demuxer = PsDemuxer()
    out: list[Sample] = []
    for f in frames:
        pack = muxer.mux(Sample(Codec.H264, f.pts_90k, f.dts_90k, f.is_key, f.data))
        out += demuxer.push(pack, end_of_frame=True)
    assert len(out) == len(frames)
    attached = [s for s in out if s.nal_ranges() is not None]
    assert len(attached) == len(out)  # one PES per frame: every scan is reused
    for sample in out:
        assert sample.nal_ranges() == nal_unit_ranges(sample.data)
    # A sample whose data changes no longer claims the old scan.
    changed = dataclasses.replace(out[1], data=b"\x00\x00\x01\x09\xf0" + out[1].data)
    assert changed.nal_ranges() is None
    # Writers fed with and without the scan produce the same bytes.
    plain = [Sample(s.codec, s.pts_90k, s.dts_90k, s.is_key, s.data) for s in out]
    with_scan, without = Fmp4Writer(FragmentMode.FRAME), Fmp4Writer(FragmentMode.FRAME)
    assert [m for s in out for m in with_scan.push(s)] == [
        m for s in plain for m in without.push(s)
    ]


def test_frames_in_several_pes_keep_a_scan_equal_to_a_fresh_one() -> None:
    frames = encode_video("libx264", 320, 240, 10)
    # A keyframe larger than a PES (the seam falls inside a NAL unit), then frames whose
    # NAL units come one per PES with the same PTS (Hikvision's layout).
    big = frames[0].data + b"\x00\x00\x00\x01\x0c" + bytes(range(1, 256)) * 600
    packs = [PsMuxer(Codec.H264).mux(Sample(Codec.H264, 3600, 3600, True, big))]
    for i, f in enumerate(frames[1:], start=2):
        pes = [
            p
            for nal in nal_unit_ranges(f.data)
            for p in pes_packets(0xE0, b"\x00\x00\x01" + f.data[nal[0] : nal[1]], i * 3600)
        ]
        packs.append(pack_header(i * 3600) + b"".join(pes))
    demuxer = PsDemuxer()
    out = [s for pack in packs for s in demuxer.push(pack, end_of_frame=True)]
    assert len(out) == len(frames)
    assert out[0].data == big
    for sample in out:
        assert sample.nal_ranges() == nal_unit_ranges(sample.data)
    plain = [Sample(s.codec, s.pts_90k, s.dts_90k, s.is_key, s.data) for s in out]
    with_scan, without = Fmp4Writer(FragmentMode.FRAME), Fmp4Writer(FragmentMode.FRAME)
    assert [m for s in out for m in with_scan.push(s)] == [
        m for s in plain for m in without.push(s)
    ]
