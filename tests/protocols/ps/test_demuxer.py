"""MPEG-PS demuxing: our muxer round trip, GB/T 28181 vendor quirks, errors and recovery."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.protocols.media_samples import encode_video
from vigil.protocols.errors import ParseError
from vigil.protocols.h264.annexb import split_nal_units
from vigil.protocols.ps.demuxer import PsDemuxer
from vigil.protocols.ps.headers import encode_timestamp
from vigil.protocols.ps.muxer import PsMuxer, pack_header, pes_packets, system_header
from vigil.protocols.rtp.packet import RtpPacket
from vigil.protocols.rtp.packetizer import RtpPacketizer
from vigil.protocols.rtp.reorder import Reorderer
from vigil.protocols.samples import Codec, Sample


def samples_of(codec: str = "libx264", frames: int = 50) -> list[Sample]:
    kind = Codec.H265 if codec == "libx265" else Codec.H264
    return [
        Sample(kind, f.pts_90k, f.dts_90k, f.is_key, f.data)
        for f in encode_video(codec, 320, 240, frames)
    ]


def demux_all(stream: bytes, step: int = 1400, demuxer: PsDemuxer | None = None) -> list[Sample]:
    d = demuxer or PsDemuxer()
    out: list[Sample] = []
    for i in range(0, len(stream), step):
        out += d.push(stream[i : i + step])
    return out + d.flush()


def synthetic_au(kind: int, size: int, seed: int = 0, *, first_mb_zero: bool = True) -> bytes:
    """An Annex-B NAL of the given H.264 type whose body never contains a start code."""
    rnd = random.Random(seed)
    body = bytes(rnd.randrange(1, 256) for _ in range(size))
    header = bytes((0x60 | kind,))
    return b"\x00\x00\x00\x01" + header + (b"\x88" if first_mb_zero else b"\x11") + body


def real_parameter_sets() -> tuple[bytes, bytes]:
    nals = split_nal_units(samples_of()[0].data)
    sps = next(p for p in nals if p[0] & 0x1F == 7)
    pps = next(p for p in nals if p[0] & 0x1F == 8)
    return sps, pps


# -- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_round_trip_through_our_muxer(codec: str) -> None:
    samples = samples_of(codec)
    muxer = PsMuxer(samples[0].codec)
    stream = b"".join(muxer.mux(s) for s in samples)
    d = PsDemuxer()
    out = demux_all(stream, 1400, d)
    assert [(o.pts_90k, o.dts_90k, o.is_key, o.data) for o in out] == [
        (s.pts_90k, s.dts_90k, s.is_key, s.data) for s in samples
    ]
    assert {o.codec for o in out} == {samples[0].codec}
    assert d.stats.errors == 0
    assert d.stats.packs == len(samples)


def test_through_rtp_packetiser_reorder_and_parse_with_marker() -> None:
    samples = samples_of()
    muxer = PsMuxer()
    packetizer = RtpPacketizer(0x0BEBC201, first_sequence=65500)
    wire: list[bytes] = []
    for s in samples:
        wire += packetizer.packetize(muxer.mux(s), s.pts_90k)
    rnd = random.Random(7)
    for i in range(1, len(wire) - 4, 4):  # local reordering (the first packet sets the base)
        block = wire[i : i + 4]
        rnd.shuffle(block)
        wire[i : i + 4] = block
    reorder = Reorderer()
    d = PsDemuxer()
    out: list[Sample] = []
    emitted_on_marker = 0
    for datagram in wire:
        for pkt in reorder.push(RtpPacket.parse(datagram)):
            got = d.push(pkt.payload, end_of_frame=pkt.marker)
            emitted_on_marker += bool(got) and pkt.marker
            out += got
    for pkt in reorder.flush():
        out += d.push(pkt.payload, end_of_frame=pkt.marker)
    out += d.flush()
    assert [o.data for o in out] == [s.data for s in samples]
    assert emitted_on_marker == len(samples)  # each frame out as soon as its last packet is in
    assert reorder.stats.lost == 0


def test_pack_boundary_inside_frame_and_several_frames_per_pes() -> None:
    """FFmpeg's mpeg muxer layout: frames back to back; PTS for the first unit in a PES."""
    samples = samples_of(frames=10)
    es = b"".join(s.data for s in samples)
    starts = []
    pos = 0
    for s in samples:
        starts.append((pos, s.pts_90k))
        pos += len(s.data)
    stream = b""
    for off in range(0, len(es), 700):
        chunk = es[off : off + 700]
        first = next(((p, t) for p, t in starts if off <= p < off + 700), None)
        stream += pack_header(0) + pes_packets(0xE0, chunk, first[1] if first else None)[0]
    out = demux_all(stream, 333)
    assert [o.data for o in out] == [s.data for s in samples]
    assert [o.pts_90k for o in out] == [s.pts_90k for s in samples]


# -- GB/T 28181 vendor quirks --------------------------------------------------------------


def hik_psm() -> bytes:
    """A PSM with Hikvision-style private descriptors (tags 0x40-0x43 carrying "HK")."""
    info = b"\x40\x0eHKH\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b"
    video_desc = b"\x42\x0e\x07\x10\x10\xea\x02\x80\x01\xe0\x11\x30\x00\x00\x1c\x21"
    audio_desc = b"\x43\x0a\x00\x00\xfe\x00\x7d\x03\x03\xe8\x03\xff"
    es_map = (
        b"\x1b\xe0" + struct.pack("!H", len(video_desc)) + video_desc
        + b"\x90\xc0" + struct.pack("!H", len(audio_desc)) + audio_desc
    )  # fmt: skip
    body = b"\xe0\xff" + struct.pack("!H", len(info)) + info + struct.pack("!H", len(es_map))
    body += es_map + b"\x00\x00\x00\x00"  # CRC left as 0, as some devices do
    return b"\x00\x00\x01\xbc" + struct.pack("!H", len(body)) + body


def private_pes(stream_id: int, payload: bytes) -> bytes:
    return b"\x00\x00\x01" + bytes((stream_id,)) + struct.pack("!H", len(payload)) + payload


def hik_frame(au_nals: list[bytes], pts: int, counter: int, key: bool) -> bytes:
    stuffing = b"\xff\xfe" + struct.pack("!I", counter)[:4]  # vendor counter in stuffing
    parts = [pack_header(pts, stuffing=stuffing[:6])]
    if key:
        parts += [system_header([(0xE0, Codec.H264), (0xC0, Codec.G711A)]), hik_psm()]
        parts.append(private_pes(0xBD, b"\x01\x02\x03hikvision-metadata" * 3))
    for nal in au_nals:  # each NAL in its own PES, every PES with the same PTS
        pieces = [nal[i : i + 65478] for i in range(0, len(nal), 65478)]
        for piece in pieces:
            parts += pes_packets(0xE0, piece, pts, timestamps_on_every_pes=True)
    parts.append(private_pes(0xBF, b"private-2" * 5))
    parts += pes_packets(0xC0, b"\xd5" * 320, pts)  # 40 ms of G.711A
    return b"".join(parts)


def test_hikvision_like_stream() -> None:
    sps, pps = real_parameter_sets()
    sei = b"\x00\x00\x00\x01\x06\x05\x02\xaa\xbb\x80"
    big_idr = synthetic_au(5, 200_000, seed=1)
    frames = [
        [b"\x00\x00\x00\x01" + sps, b"\x00\x00\x00\x01" + pps, sei, big_idr],
        [synthetic_au(1, 5000, seed=2)],
        [synthetic_au(1, 7000, seed=3)],
    ]
    stream = b"".join(hik_frame(nals, 3600 * i, 1000 + i, i == 0) for i, nals in enumerate(frames))
    d = PsDemuxer()
    out = demux_all(stream, 1400, d)
    video = [o for o in out if o.codec is Codec.H264]
    audio = [o for o in out if o.codec is Codec.G711A]
    assert [v.data for v in video] == [b"".join(nals) for nals in frames]
    assert [v.is_key for v in video] == [True, False, False]
    assert [v.pts_90k for v in video] == [0, 3600, 7200]
    assert [a.data for a in audio] == [b"\xd5" * 320] * 3
    assert d.stats.errors == 0
    assert d.stats.skipped_packets == 5  # a system header, one 0xBD, three 0xBF
    assert d.stats.codecs == {0xE0: Codec.H264, 0xC0: Codec.G711A}


def test_truncated_pack_header_quirk() -> None:
    """Hikvision H.265: 00 00 01 BA immediately followed by a PES start code."""
    samples = samples_of("libx265", 6)
    muxer = PsMuxer(Codec.H265)
    stream = b""
    for i, s in enumerate(samples):
        packed = muxer.mux(s)
        stream += b"\x00\x00\x01\xba" + packed[14:] if i % 2 else packed
    d = PsDemuxer()
    assert [o.data for o in demux_all(stream, 500, d)] == [s.data for s in samples]
    assert d.stats.errors == 0


def test_unbounded_video_pes_and_no_psm() -> None:
    samples = samples_of(frames=8)
    stream = b""
    for s in samples:
        pes = pes_packets(0xE0, s.data[:10], s.pts_90k)[0]
        # PES_packet_length = 0 (unbounded): the payload runs to the next start code.
        header = pes[:4] + b"\x00\x00" + pes[6 : 9 + pes[8]]
        stream += pack_header(s.dts_90k) + header + s.data
    d = PsDemuxer()
    out = demux_all(stream, 999, d)
    assert [o.data for o in out] == [s.data for s in samples]
    assert [o.pts_90k for o in out] == [s.pts_90k for s in samples]
    assert {o.codec for o in out} == {Codec.H264}  # guessed from the NAL headers


def test_h265_guessed_without_psm() -> None:
    samples = samples_of("libx265", 4)
    stream = b"".join(pack_header(0) + b"".join(pes_packets(0xE0, s.data, s.pts_90k))
                      for s in samples)  # fmt: skip
    out = demux_all(stream)
    assert [o.codec for o in out] == [Codec.H265] * 4
    assert out[0].is_key


def test_keyframe_without_pts_is_repaired_not_dropped() -> None:
    samples = samples_of(frames=30)
    muxer = PsMuxer()
    stream = b""
    for s in samples:
        if s.is_key and s.pts_90k > 0:  # a muxer that left the keyframe without PTS
            stream += pack_header(0) + b"".join(pes_packets(0xE0, s.data, None))
        else:
            stream += muxer.mux(s)
    d = PsDemuxer()
    out = demux_all(stream, 1400, d)
    assert len(out) == len(samples)
    assert [o.is_key for o in out] == [s.is_key for s in samples]
    assert [o.pts_90k for o in out] == [s.pts_90k for s in samples]  # 25 fps: exact repair
    assert d.stats.repaired_timestamps == sum(1 for s in samples if s.is_key and s.pts_90k > 0)


def test_pts_wraps_at_33_bits() -> None:
    samples = samples_of(frames=6)
    base = (1 << 33) - 2 * 3600
    muxer = PsMuxer()
    stream = b"".join(
        muxer.mux(Sample(s.codec, base + s.pts_90k, base + s.dts_90k, s.is_key, s.data))
        for s in samples
    )
    out = demux_all(stream)
    assert [o.pts_90k - out[0].pts_90k for o in out] == [s.pts_90k for s in samples]


def test_mpeg1_pack_and_pes_headers() -> None:
    sample = samples_of(frames=1)[0]
    mpeg1_pack = b"\x00\x00\x01\xba\x21\x00\x01\x00\x01\x80\x00\x01"
    payload = sample.data
    pes_body = b"\xff\xff" + b"\x40\x20" + encode_timestamp(0x2, 3600) + payload
    stream = mpeg1_pack + b"\x00\x00\x01\xe0" + struct.pack("!H", len(pes_body)) + pes_body
    out = demux_all(stream)
    assert [(o.data, o.pts_90k) for o in out] == [(payload, 3600)]


def test_audio_codec_from_psm_and_guess() -> None:
    adts = b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x21" * 9
    stream = pack_header(0) + b"".join(pes_packets(0xC0, adts, 0))
    stream += pack_header(0) + b"".join(pes_packets(0xC0, adts, 1920))
    out = demux_all(stream)
    assert [(o.codec, o.pts_90k, o.is_key) for o in out] == [(Codec.AAC, 0, True),
                                                             (Codec.AAC, 1920, True)]  # fmt: skip


# -- errors and recovery -------------------------------------------------------------------


def stream_of(samples: list[Sample]) -> list[bytes]:
    muxer = PsMuxer()
    return [muxer.mux(s) for s in samples]


def test_corrupt_pes_length_is_counted_and_recovered() -> None:
    samples = samples_of(frames=10)
    packs = stream_of(samples)
    bad = bytearray(packs[3])
    pes_at = bad.find(b"\x00\x00\x01\xe0")
    bad[pes_at + 4 : pes_at + 6] = b"\x00\x02"  # shorter than its own header
    packs[3] = bytes(bad)
    d = PsDemuxer()
    out = demux_all(b"".join(packs), 1400, d)
    assert d.stats.errors >= 1
    datas = [o.data for o in out]
    assert datas[:2] == [s.data for s in samples[:2]]
    assert datas[-6:] == [s.data for s in samples[4:]]
    assert samples[3].data not in datas


def test_truncated_pack_and_garbage_recover_on_next_pack() -> None:
    samples = samples_of(frames=10)
    packs = stream_of(samples)
    packs[2] = packs[2][: len(packs[2]) // 2]  # cut mid-PES
    packs[5] = b"\x12\x34garbage" * 50 + packs[5]
    d = PsDemuxer()
    out = demux_all(b"".join(packs), 1400, d)
    assert d.stats.errors >= 2
    datas = [o.data for o in out]
    for i in (0, 1, 4, 6, 7, 8, 9):
        assert samples[i].data in datas


def test_discontinuity_drops_partial_frame() -> None:
    samples = samples_of(frames=6)
    packs = stream_of(samples)
    d = PsDemuxer()
    out = d.push(packs[0]) + d.push(packs[1][:100])
    out += d.mark_discontinuity()
    for p in packs[2:]:
        out += d.push(p)
    out += d.flush()
    assert [o.data for o in out] == [samples[0].data] + [s.data for s in samples[2:]]
    assert d.stats.dropped_frames >= 1


def test_oversized_frame_is_an_error_not_a_memory_leak() -> None:
    d = PsDemuxer(max_frame_bytes=50_000)
    stream = pack_header(0) + b"".join(pes_packets(0xE0, synthetic_au(5, 200_000), 0))
    demux_all(stream, 1400, d)
    assert d.stats.errors >= 1


def test_persistent_garbage_raises_parse_error() -> None:
    d = PsDemuxer(max_errors=5)
    garbage = (b"\x00\x00\x01\x42" * 10 + b"\x00\x00\x01\xba" + b"\x00" * 20) * 100
    with pytest.raises(ParseError, match="not a usable program stream"):
        d.push(garbage)


@settings(max_examples=300)
@given(st.binary(max_size=3000), st.integers(1, 700))
def test_fuzz_arbitrary_bytes(data: bytes, step: int) -> None:
    d = PsDemuxer(max_errors=10**9)
    for i in range(0, len(data), step):
        d.push(data[i : i + step])
    d.flush()


@settings(max_examples=100)
@given(st.integers(0, 2**32), st.integers(1, 40), st.binary(min_size=1, max_size=16))
def test_fuzz_corrupted_real_stream(seed: int, flips: int, junk: bytes) -> None:
    rnd = random.Random(seed)
    stream = bytearray(b"".join(stream_of(samples_of(frames=10))))
    for _ in range(flips):
        at = rnd.randrange(len(stream))
        stream[at : at + len(junk)] = junk
    d = PsDemuxer(max_errors=10**9)
    for sample in demux_all(bytes(stream), rnd.randrange(1, 3000), d):
        assert sample.codec in (Codec.H264, Codec.H265, Codec.G711A, Codec.AAC)
