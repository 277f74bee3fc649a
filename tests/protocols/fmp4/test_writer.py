"""Fragmented MP4 writing, checked by walking the boxes and by decoding with PyAV (FFmpeg)."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator

import av
import pytest

from tests.protocols.media_samples import encode_video
from vigil.protocols.fmp4.fragment import NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS
from vigil.protocols.fmp4.writer import Fmp4Writer, FragmentMode
from vigil.protocols.samples import Codec, Sample

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf", b"dinf"}
# Boxes with a fixed header before their children: stsd (FullBox + entry_count), dref, and
# visual sample entries (ISO/IEC 14496-12 §12.1.3: 78 bytes).
CHILDREN_AT = {b"stsd": 16, b"dref": 16, b"avc1": 86, b"hvc1": 86}


def walk(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, offset, size) of every box, depth first."""
    end = len(data) if end is None else end
    pos = start
    while pos < end:
        size, kind = struct.unpack_from("!I4s", data, pos)
        assert size >= 8, kind
        assert pos + size <= end, kind
        yield kind, pos, size
        if kind in CONTAINERS:
            yield from walk(data, pos + 8, pos + size)
        elif kind in CHILDREN_AT:
            yield from walk(data, pos + CHILDREN_AT[kind], pos + size)
        pos += size


def samples_of(codec: str = "libx264", frames: int = 50, bframes: int = 0) -> list[Sample]:
    kind = Codec.H265 if codec == "libx265" else Codec.H264
    return [Sample(kind, f.pts_90k + 90000, f.dts_90k + 90000, f.is_key, f.data)
            for f in encode_video(codec, 320, 240, frames, bframes=bframes)]  # fmt: skip


def write(samples: list[Sample], mode: FragmentMode) -> tuple[Fmp4Writer, list[bytes]]:
    w = Fmp4Writer(mode)
    out: list[bytes] = []
    for s in samples:
        out += w.push(s)
    return w, out + w.flush()


def decode(blob: bytes) -> list[av.VideoFrame]:
    with av.open(io.BytesIO(blob), "r") as container:
        return list(container.decode(video=0))


def test_init_segment_structure() -> None:
    w, out = write(samples_of(), FragmentMode.FRAME)
    init = out[0]
    assert init == w.init_segment
    kinds = [k for k, _, _ in walk(init)]
    for needed in (b"ftyp", b"moov", b"mvhd", b"trak", b"tkhd", b"mdhd", b"hdlr", b"vmhd",
                   b"dref", b"stsd", b"avc1", b"avcC", b"stts", b"stsc", b"stsz", b"stco",
                   b"mvex", b"trex"):  # fmt: skip
        assert needed in kinds
    mdhd = next(o for k, o, _ in walk(init) if k == b"mdhd")
    assert struct.unpack_from("!I", init, mdhd + 20)[0] == 90000
    assert w.codec_string is not None
    assert w.codec_string.startswith("avc1.42")


def test_fragments_per_frame() -> None:
    samples = samples_of()
    _w, out = write(samples, FragmentMode.FRAME)
    fragments = out[1:]
    assert len(fragments) == len(samples)
    for seq, frag in enumerate(fragments, start=1):
        boxes = {k: (o, s) for k, o, s in walk(frag)}
        mfhd, _ = boxes[b"mfhd"]
        assert struct.unpack_from("!I", frag, mfhd + 12)[0] == seq
        tfdt, _ = boxes[b"tfdt"]
        assert frag[tfdt + 8] == 1  # version 1: 64-bit baseMediaDecodeTime
        assert struct.unpack_from("!Q", frag, tfdt + 12)[0] == (seq - 1) * 3600
        trun, _ = boxes[b"trun"]
        count, offset = struct.unpack_from("!Ii", frag, trun + 12)
        duration, size, flags = struct.unpack_from("!III", frag, trun + 20)
        mdat, mdat_size = boxes[b"mdat"]
        assert count == 1
        assert offset == mdat + 8
        assert size == mdat_size - 8
        assert duration == 3600
        assert flags == (SYNC_SAMPLE_FLAGS if samples[seq - 1].is_key else NON_SYNC_SAMPLE_FLAGS)


def test_pyav_decodes_every_frame_in_both_modes() -> None:
    samples = samples_of()
    for mode in FragmentMode:
        _, out = write(samples, mode)
        frames = decode(b"".join(out))
        assert len(frames) == len(samples)
        assert (frames[0].width, frames[0].height) == (320, 240)
        assert [f.pts for f in frames] == [i * 3600 for i in range(len(samples))]


def test_gop_mode_cuts_at_keyframes() -> None:
    samples = samples_of()
    _, out = write(samples, FragmentMode.GOP)
    assert len(out) == 1 + 2  # init + two GOPs of 25 frames
    trun = next(o for k, o, _ in walk(out[1]) if k == b"trun")
    assert struct.unpack_from("!I", out[1], trun + 12)[0] == 25


def test_b_frames_get_composition_offsets() -> None:
    samples = samples_of(bframes=2, frames=30)
    assert any(s.pts_90k != s.dts_90k for s in samples)
    _, out = write(samples, FragmentMode.GOP)
    trun = next(o for k, o, _ in walk(out[1]) if k == b"trun")
    assert out[1][trun + 8] == 1  # version 1: signed offsets
    frames = decode(b"".join(out))
    assert len(frames) == len(samples)
    assert sorted(f.pts for f in frames) == sorted(s.pts_90k - samples[0].dts_90k for s in samples)


def test_h265_init_and_decode() -> None:
    samples = samples_of("libx265", 20)
    w, out = write(samples, FragmentMode.FRAME)
    assert b"hvc1" in [k for k, _, _ in walk(out[0])]
    assert b"hvcC" in [k for k, _, _ in walk(out[0])]
    assert w.codec_string is not None
    assert w.codec_string.startswith("hvc1.1.6.L")
    frames = decode(b"".join(out))
    assert len(frames) == len(samples)


def test_waits_for_keyframe_and_reinitialises_on_new_parameters() -> None:
    small = samples_of()[:30]
    big = [Sample(Codec.H264, f.pts_90k + 200_000, f.dts_90k + 200_000, f.is_key, f.data)
           for f in encode_video("libx264", 640, 480, 10)]  # fmt: skip
    w = Fmp4Writer(FragmentMode.FRAME)
    out: list[bytes] = []
    for s in small[1:] + big:  # starts without the keyframe
        out += w.push(s)
    out += w.flush()
    assert w.stats.dropped_before_key == 24
    inits = [i for i, chunk in enumerate(out) if chunk[4:8] == b"ftyp"]
    assert len(inits) == 2
    assert w.params is not None
    assert (w.params.width, w.params.height) == (640, 480)
    assert len(decode(b"".join(out[inits[1] :]))) == 10


def test_non_increasing_dts_is_nudged() -> None:
    samples = samples_of(frames=5)
    samples[3] = Sample(Codec.H264, samples[2].pts_90k, samples[2].dts_90k, False, samples[3].data)
    w, out = write(samples, FragmentMode.FRAME)
    assert w.stats.fixed_timestamps == 1
    assert len(decode(b"".join(out))) == 5


def test_timestamps_that_do_not_fit_a_trun_are_repaired_not_raised() -> None:
    """A corrupted device PTS (offset beyond int32) or a DTS leap beyond uint32 ticks."""
    samples = samples_of(frames=6)
    bad_pts = samples[2].dts_90k + 2**31 + 5
    samples[2] = Sample(Codec.H264, bad_pts, samples[2].dts_90k, False, samples[2].data)
    leap = 2**32 + 90000
    samples[4:] = [Sample(Codec.H264, s.pts_90k + leap, s.dts_90k + leap, s.is_key, s.data)
                   for s in samples[4:]]  # fmt: skip
    for mode in (FragmentMode.FRAME, FragmentMode.GOP):
        w, out = write(samples, mode)
        assert w.stats.fixed_timestamps == 2
        assert len(decode(b"".join(out))) == 6


def test_audio_is_ignored() -> None:
    w = Fmp4Writer()
    assert w.push(Sample(Codec.G711A, 0, 0, True, b"\xd5" * 160)) == []
    assert w.stats.ignored_samples == 1


@pytest.mark.parametrize("mode", list(FragmentMode))
def test_segment_metadata(mode: FragmentMode) -> None:
    samples = samples_of()
    w = Fmp4Writer(mode)
    segments = [seg for s in samples for seg in w.push_segments(s)] + w.flush_segments()
    assert segments[0].is_init
    frags = segments[1:]
    assert sum(f.sample_count for f in frags) == len(samples)
    assert sum(f.duration_90k for f in frags) == len(samples) * 3600
    assert all(f.starts_with_key for f in frags) if mode is FragmentMode.GOP else True
