"""RFC 6184 / RFC 7798 depacketising of raw H.264/H.265 over RTP (PT 98/99)."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.protocols.media_samples import encode_video
from vigil.protocols.h264.annexb import split_nal_units
from vigil.protocols.h264.depacketizer import AccessUnitCollector, H264Depacketizer
from vigil.protocols.h265.depacketizer import H265Depacketizer
from vigil.protocols.rtp.packet import RtpPacket


def payloads_h264(nals: list[bytes], mtu: int) -> list[bytes]:
    """RFC 6184 packetisation mode 1: STAP-A for small units, FU-A for big ones."""
    out: list[bytes] = []
    small: list[bytes] = []
    for nal in nals:
        if len(nal) + 3 <= mtu // 4:
            small.append(nal)
            continue
        if small:
            out.append(b"\x18" + b"".join(struct.pack("!H", len(n)) + n for n in small))
            small = []
        if len(nal) <= mtu:
            out.append(nal)
            continue
        body = nal[1:]
        chunks = [body[i : i + mtu - 2] for i in range(0, len(body), mtu - 2)]
        for i, chunk in enumerate(chunks):
            fu = (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0) | (nal[0] & 0x1F)
            out.append(bytes(((nal[0] & 0xE0) | 28, fu)) + chunk)
    if small:
        out.append(b"\x18" + b"".join(struct.pack("!H", len(n)) + n for n in small))
    return out


def payloads_h265(nals: list[bytes], mtu: int) -> list[bytes]:
    """RFC 7798: AP for small units, FU for big ones."""
    out: list[bytes] = []
    small: list[bytes] = []
    for nal in nals:
        if len(nal) + 2 <= mtu // 4:
            small.append(nal)
            continue
        if small:
            out.append(b"\x60\x01" + b"".join(struct.pack("!H", len(n)) + n for n in small))
            small = []
        if len(nal) <= mtu:
            out.append(nal)
            continue
        kind = (nal[0] >> 1) & 0x3F
        body = nal[2:]
        chunks = [body[i : i + mtu - 3] for i in range(0, len(body), mtu - 3)]
        for i, chunk in enumerate(chunks):
            fu = (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0) | kind
            out.append(bytes(((nal[0] & 0x81) | (49 << 1), nal[1], fu)) + chunk)
    if small:
        out.append(b"\x60\x01" + b"".join(struct.pack("!H", len(n)) + n for n in small))
    return out


def rtp_stream(codec: str, mtu: int, marker: bool) -> tuple[list[RtpPacket], list[bytes]]:
    frames = encode_video(codec, 320, 240, 12)
    packets: list[RtpPacket] = []
    expected: list[bytes] = []
    seq = 65530
    for f in frames:
        nals = split_nal_units(f.data)
        expected.append(b"".join(b"\x00\x00\x00\x01" + n for n in nals))
        split = payloads_h265 if codec == "libx265" else payloads_h264
        payloads = split(nals, mtu)
        for i, p in enumerate(payloads):
            last = marker and i == len(payloads) - 1
            packets.append(RtpPacket(98, seq & 0xFFFF, (f.pts_90k + 2**32 - 9000) & 0xFFFFFFFF,
                                     7, p, marker=last))  # fmt: skip
            seq += 1
    return packets, expected


def run(d: AccessUnitCollector, packets: list[RtpPacket]) -> list[bytes]:
    out = []
    for p in packets:
        out += d.push(RtpPacket.parse(p.serialize()))
    out += d.flush()
    return [s.data for s in out]


@pytest.mark.parametrize("mtu", [200, 1400])
@pytest.mark.parametrize("marker", [True, False])
@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_round_trip(codec: str, mtu: int, marker: bool) -> None:
    packets, expected = rtp_stream(codec, mtu, marker)
    d = H265Depacketizer() if codec == "libx265" else H264Depacketizer()
    assert run(d, packets) == expected
    assert d.stats.errors == 0


def test_timestamps_extend_across_32_bit_wrap_and_keyframes() -> None:
    packets, _ = rtp_stream("libx264", 1400, True)
    d = H264Depacketizer()
    samples = [s for p in packets for s in d.push(p)]
    steps = {b.pts_90k - a.pts_90k for a, b in itertools.pairwise(samples)}
    assert steps == {3600}
    assert samples[0].is_key
    assert not samples[1].is_key


def test_lost_fragment_drops_the_unit() -> None:
    packets, expected = rtp_stream("libx264", 200, True)
    fu_index = next(i for i, p in enumerate(packets) if p.payload[0] & 0x1F == 28
                    and not p.payload[1] & 0x80)  # fmt: skip
    del packets[fu_index]
    d = H264Depacketizer()
    got = run(d, packets)
    assert len(got) == len(expected) - 1
    assert d.stats.dropped_units == 1


@given(st.lists(st.binary(max_size=60), max_size=30), st.booleans())
def test_fuzz_payloads(payloads: list[bytes], hevc: bool) -> None:
    d: AccessUnitCollector = H265Depacketizer() if hevc else H264Depacketizer()
    for i, p in enumerate(payloads):
        d.push(RtpPacket(98, i, i // 3, 1, p, marker=i % 3 == 2))
    d.flush()
