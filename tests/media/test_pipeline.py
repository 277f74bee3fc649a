"""One stream's pipeline without sockets: statistics, timeline events and error recovery."""

from __future__ import annotations

import struct

import pytest

from tests.media.media_streams import rtp_stream, samples, shuffled
from vigil.media.hub import StreamHub
from vigil.media.pipeline import StreamPipeline
from vigil.media.timeline import EventKind
from vigil.protocols.ps.muxer import PsMuxer, pack_header
from vigil.protocols.rtp.packetizer import RtpPacketizer
from vigil.protocols.samples import Codec

SSRC = 200000001
DEVICE = ("192.0.2.10", 15060)


def pipeline(**kwargs: object) -> StreamPipeline:
    options: dict[str, object] = {"transport": "udp", "expected_ssrc": SSRC}
    options.update(kwargs)
    return StreamPipeline(
        "test",
        StreamHub(),
        wall_clock=lambda: 1_700_000_000.0,
        **options,  # type: ignore[arg-type]
    )


def kinds(p: StreamPipeline) -> list[EventKind]:
    return [e.kind for e in p.timeline.events()]


def feed(p: StreamPipeline, datagrams: list[bytes], *, start_s: float = 10.0, fps: float = 25):
    """Deliver datagrams 2 ms apart; returns the time after the last one."""
    now = start_s
    for d in datagrams:
        p.receive(d, DEVICE, now)
        now += 0.002
    return now


def test_statistics_of_a_clean_stream() -> None:
    stream = rtp_stream(SSRC, frames=50)
    p = pipeline()
    now = feed(p, stream.datagrams)
    stats = p.stats(now)
    assert stats.packets == len(stream.datagrams)
    assert stats.bytes == sum(len(d) for d in stream.datagrams)
    assert stats.frames == 50
    assert stats.keyframes == 2
    assert stats.lost_packets == 0
    assert (stats.codec, stats.width, stats.height) == ("h264", 320, 240)
    assert stats.codec_string is not None
    assert stats.codec_string.startswith("avc1.")
    assert stats.first_source == DEVICE
    assert stats.ssrc == SSRC
    assert stats.first_packet_s == 10.0
    assert stats.first_keyframe_s is not None
    span = now - 10.0
    assert abs(stats.bitrate_bps - stats.bytes * 8 / span) / stats.bitrate_bps < 0.05
    assert abs(stats.fps - 50 / span) / stats.fps < 0.05
    assert kinds(p) == [EventKind.OPENED, EventKind.FIRST_PACKET, EventKind.FIRST_KEYFRAME]
    first = p.timeline.events()[1]
    assert first.source == DEVICE
    assert first.ssrc == SSRC
    assert "0200000001 (0x0BEBC201)" in first.detail


def test_bitrate_window_slides() -> None:
    stream = rtp_stream(SSRC, frames=50)
    p = pipeline()
    arrivals: list[tuple[float, int]] = []
    now = 100.0
    for i, d in enumerate(stream.datagrams):  # a packet every 200 ms: beyond the 5 s window
        p.receive(d, DEVICE, now)
        arrivals.append((now, len(d)))
        if i % 5 == 4:
            p.poll(now)  # the watchdog samples the counters every so often
        now += 0.2
    stats = p.stats(now)
    # The window starts at the last counter sample at least 5 s old.
    base = max(at for at, _ in arrivals[4::5] if at <= now - 5)
    expected = sum(size for at, size in arrivals if at > base) * 8 / (now - base)
    assert stats.bitrate_bps == pytest.approx(expected)
    for step in range(1, 14):
        p.poll(now + step * 0.5)
    later = p.stats(now + 7.0)  # the window has slid past the last packet
    assert (later.bitrate_bps, later.fps) == (0.0, 0.0)


def test_reordering_and_loss_are_counted_and_frames_survive() -> None:
    stream = rtp_stream(SSRC, frames=50, first_sequence=65500)  # wraps 65535 → 0
    wire = shuffled(stream.datagrams)
    dropped = {7, len(wire) // 2, len(wire) - 5}
    kept = [d for i, d in enumerate(wire) if i not in dropped]
    hit = {stream.frame_of[stream.datagrams.index(wire[i])] for i in dropped}
    p = pipeline()
    now = feed(p, kept)
    p.poll(now + 1.0)  # the tail gap is given up by the timer
    stats = p.stats(now + 1.0)
    assert stats.lost_packets == len(dropped)
    assert stats.reordered_packets > 0
    assert 50 - len(hit) <= stats.frames <= 50
    assert stats.loss_fraction > 0


def test_frames_without_marker_bits_end_at_the_next_timestamp() -> None:
    stream = rtp_stream(SSRC, frames=20)
    unmarked = [bytes([d[0], d[1] & 0x7F]) + d[2:] for d in stream.datagrams]
    p = pipeline()
    published: list[int] = []
    for index, datagram in enumerate(unmarked):
        p.receive(datagram, DEVICE, 10.0 + index * 0.002)
        published.append(p.stats(20.0).frames)
    # Frame k is out as soon as the first packet of frame k + 1 arrives.
    for index in range(1, len(unmarked)):
        if stream.frame_of[index] != stream.frame_of[index - 1]:
            assert published[index] == stream.frame_of[index]
    assert published[-1] == 19  # the last frame waits for its end
    assert p.stats(20.0).ps_errors == 0


def test_garbled_rtp_is_recorded_and_stream_continues() -> None:
    stream = rtp_stream(SSRC, frames=10)
    p = pipeline()
    bad_csrc = bytes([0x8F]) + stream.datagrams[3][1:12]  # 15 CSRCs promised, none present
    wire = [*stream.datagrams[:3], bad_csrc, b"\x80`\x00", *stream.datagrams[3:]]
    feed(p, wire)
    stats = p.stats(20.0)
    assert stats.rtp_errors == 2
    assert stats.frames == 10
    assert stats.last_error is not None
    assert "garbled RTP" in stats.last_error
    garbled = [e for e in p.timeline.events() if e.kind is EventKind.GARBLED_RTP]
    assert len(garbled) == 1  # a burst is folded into one event …
    p.receive(b"\x00" * 20, DEVICE, 40.0)
    later = [e for e in p.timeline.events() if e.kind is EventKind.GARBLED_RTP]
    assert len(later) == 2
    assert later[1].suppressed == 1  # … and counted in the next one


def test_corrupt_pes_length_is_a_ps_error_with_recovery() -> None:
    video = samples(frames=20, gop=10)
    muxer = PsMuxer(Codec.H264)
    packetizer = RtpPacketizer(SSRC)
    wire: list[bytes] = []
    for index, sample in enumerate(video):
        pack = bytearray(muxer.mux(sample))
        if index == 3:  # a P-frame: pack header (14 bytes), then its PES
            length = struct.unpack_from("!H", pack, 18)[0]
            struct.pack_into("!H", pack, 18, length // 2)
        wire += packetizer.packetize(bytes(pack), sample.pts_90k)
    p = pipeline()
    feed(p, wire)
    stats = p.stats(20.0)
    assert stats.ps_errors >= 1
    assert stats.last_error is not None
    assert stats.last_error.startswith("PS")
    assert EventKind.PS_ERROR in kinds(p)
    assert stats.frames >= 18  # at most the broken frame and its neighbour are lost
    assert p.hub.last_keyframe is not None
    assert p.hub.last_keyframe.pts_90k == video[10].pts_90k  # later GOPs came through


def test_a_run_of_ps_errors_restarts_the_demuxer_without_raising() -> None:
    p = pipeline()
    packetizer = RtpPacketizer(SSRC, payload_type=98)
    broken = pack_header(0) + b"\x00\x00\x01\x00" + bytes(range(1, 200))  # no PS unit
    now = 10.0
    for _ in range(120):
        for d in packetizer.packetize(broken, 0):
            p.receive(d, DEVICE, now)
            now += 0.01
    stats = p.stats(now)
    assert stats.ps_errors > 50
    restarted = [e for e in p.timeline.events() if "restarted" in e.detail]
    assert restarted
    assert "payload type 98" in restarted[0].detail
    good = rtp_stream(SSRC, frames=5, first_sequence=packetizer.sequence)
    feed(p, good.datagrams, start_s=now)
    assert p.stats(now + 1).frames == 5


def test_ssrc_mismatch_dropped_when_checked_accepted_when_not() -> None:
    stream = rtp_stream(0x1234, frames=5)
    checked = pipeline(transport="udp", check_ssrc=True)
    feed(checked, stream.datagrams)
    stats = checked.stats(20.0)
    assert stats.packets == 0
    assert stats.ssrc_mismatch_packets == len(stream.datagrams)
    event = next(e for e in checked.timeline.events() if e.kind is EventKind.SSRC_MISMATCH)
    assert "0x00001234" in event.detail
    assert "0x0BEBC201" in event.detail

    lenient = pipeline(transport="udp", check_ssrc=False)
    feed(lenient, stream.datagrams)
    stats = lenient.stats(20.0)
    assert stats.frames == 5
    assert stats.ssrc == 0x1234
    assert EventKind.SSRC_MISMATCH in kinds(lenient)

    anything = pipeline(expected_ssrc=None)
    feed(anything, stream.datagrams)
    assert anything.stats(20.0).frames == 5
    assert EventKind.SSRC_MISMATCH not in kinds(anything)


def test_unexpected_source_address_is_reported_once() -> None:
    stream = rtp_stream(SSRC, frames=5)
    p = pipeline(expected_source="192.0.2.99")
    feed(p, stream.datagrams)
    events = [e for e in p.timeline.events() if e.kind is EventKind.UNEXPECTED_SOURCE]
    assert len(events) == 1
    assert events[0].source == DEVICE
    assert "expected from 192.0.2.99" in events[0].detail
    stats = p.stats(20.0)
    assert stats.unexpected_source_packets == len(stream.datagrams)
    assert stats.frames == 5  # NAT rewrites addresses: reported, not dropped

    right = pipeline(expected_source=DEVICE)
    feed(right, stream.datagrams)
    assert EventKind.UNEXPECTED_SOURCE not in kinds(right)


def test_silence_watchdog_fires_once_and_resumes() -> None:
    stream = rtp_stream(SSRC, frames=10)
    p = pipeline(opened_s=0.0)
    assert not p.check_silence(4.0, 5.0)
    assert p.check_silence(5.0, 5.0, lambda: "; meanwhile unknown SSRC 1")
    assert not p.check_silence(6.0, 5.0)
    silent = p.timeline.events()[-1]
    assert silent.kind is EventKind.SILENT
    assert "no RTP received" in silent.detail
    assert "meanwhile unknown SSRC 1" in silent.detail
    feed(p, stream.datagrams[:5], start_s=7.0)  # a late first packet ends the silence
    assert kinds(p)[-3:] == [EventKind.SILENT, EventKind.FIRST_PACKET, EventKind.FIRST_KEYFRAME]
    assert not p.stats(7.5).silent
    assert p.check_silence(20.0, 5.0)
    assert "RTP stopped" in p.timeline.events()[-1].detail
    feed(p, stream.datagrams[5:], start_s=21.0)
    assert kinds(p)[-1] is EventKind.RESUMED
    assert not p.stats(21.5).silent


def test_parameter_change_is_recorded() -> None:
    small = rtp_stream(SSRC, frames=5)
    big = rtp_stream(SSRC, frames=5, width=640, height=360, first_sequence=len(small.datagrams))
    p = pipeline()
    feed(p, small.datagrams + big.datagrams)
    stats = p.stats(20.0)
    assert (stats.width, stats.height) == (640, 360)
    change = next(e for e in p.timeline.events() if e.kind is EventKind.PARAMETERS_CHANGED)
    assert "640x360" in change.detail
