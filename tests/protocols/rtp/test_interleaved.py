"""RTP over TCP: RFC 4571 and RTSP '$' framing, chunking and resynchronisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.protocols.errors import ParseError
from vigil.protocols.rtp.interleaved import (
    MAX_CHUNK_BYTES,
    FramingMode,
    InterleavedFrame,
    InterleavedSplitter,
)
from vigil.protocols.rtp.packet import RtpPacket


def packets(count: int, size: int = 40) -> list[bytes]:
    return [RtpPacket(96, i, i * 3600, 0x0BEBC201, bytes([i]) * (size + i)).serialize()
            for i in range(count)]  # fmt: skip


def rfc4571(pkts: list[bytes]) -> bytes:
    return b"".join(len(p).to_bytes(2, "big") + p for p in pkts)


def rtsp(pkts: list[bytes], channel: int = 0) -> bytes:
    return b"".join(b"$" + bytes((channel,)) + len(p).to_bytes(2, "big") + p for p in pkts)


def run(splitter: InterleavedSplitter, stream: bytes, step: int) -> list[InterleavedFrame]:
    out: list[InterleavedFrame] = []
    for i in range(0, len(stream), step):
        out += splitter.push(stream[i : i + step])
    return out + splitter.flush()


@pytest.mark.parametrize("step", [1, 3, 7, 100, 10_000])
@pytest.mark.parametrize("framing", [rfc4571, rtsp])
def test_split_and_coalesced_chunks(step: int, framing: object) -> None:
    pkts = packets(20)
    assert callable(framing)
    s = InterleavedSplitter()
    frames = run(s, framing(pkts), step)
    assert [bytes(f.data) for f in frames] == pkts
    assert s.mode is (FramingMode.RTSP if framing is rtsp else FramingMode.RFC4571)
    assert s.stats.resyncs == 0
    assert s.stats.discarded_bytes == 0


def test_rtsp_channels_are_reported() -> None:
    pkts = packets(2)
    rtcp = b"\x81\xc8\x00\x06" + bytes(24)
    stream = rtsp(pkts[:1], 0) + rtsp([rtcp], 1) + rtsp(pkts[1:], 0)
    frames = InterleavedSplitter().push(stream)
    assert [(f.channel, bytes(f.data)) for f in frames] == [(0, pkts[0]), (1, rtcp), (0, pkts[1])]


@pytest.mark.parametrize("step", [1, 13, 4096])
def test_garbage_at_start_and_between_frames(step: int) -> None:
    pkts = packets(12)
    ehome_header = b"\x01\x00\x01\x00" + bytes(range(252))  # a 256-byte vendor prefix
    stream = ehome_header + rfc4571(pkts[:5]) + b"\x13\x37garbage!" + rfc4571(pkts[5:])
    s = InterleavedSplitter(FramingMode.RFC4571)
    frames = run(s, stream, step)
    got = [bytes(f.data) for f in frames]
    # Everything after the garbage is recovered; at most the frame before it is damaged.
    assert got[-7:] == pkts[5:]
    assert pkts[0] in got or got[0] == pkts[1]
    assert s.stats.resyncs >= 1


def test_truncated_length_resyncs_without_loss_of_following_frames() -> None:
    pkts = packets(6)
    broken = rfc4571(pkts[:2]) + b"\x00\x05\x80\x60\x00" + rfc4571(pkts[2:])
    frames = run(InterleavedSplitter(), broken, 50)
    assert [bytes(f.data) for f in frames][-4:] == pkts[2:]


def test_oversized_chunk_is_rejected() -> None:
    with pytest.raises(ParseError):
        InterleavedSplitter().push(bytes(MAX_CHUNK_BYTES + 1))


def test_leftover_stays_bounded_on_garbage() -> None:
    s = InterleavedSplitter()
    for _ in range(100):
        s.push(b"\x00" * 1000)
    assert len(s._leftover) <= 70_000


@given(st.binary(max_size=2000), st.integers(1, 64))
def test_fuzz_arbitrary_bytes(data: bytes, step: int) -> None:
    s = InterleavedSplitter()
    for i in range(0, len(data), step):
        for frame in s.push(data[i : i + step]):
            assert len(frame.data) >= 8
    s.flush()


@given(st.binary(max_size=300), st.integers(1, 50))
def test_fuzz_garbage_between_valid_frames(middle: bytes, step: int) -> None:
    pkts = packets(8)
    stream = rfc4571(pkts[:4]) + middle + rfc4571(pkts[4:])
    s = InterleavedSplitter(FramingMode.RFC4571)
    got = [bytes(f.data) for f in run(s, stream, step)]
    # Frames before the garbage are intact; after it the splitter finds the stream again
    # (the SSRC of a header-like run of garbage gives it away).
    assert got[:4] == pkts[:4]
    assert got[-3:] == pkts[-3:]
